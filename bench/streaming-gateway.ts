// node bench/streaming-gateway.ts PORT FIXTURE API
//
// The local environment's data path without its supervisor: `cortex serve FIXTURE --api API` on a
// free port, and the local gateway (cli/local/gateway.ts, the same class `cortex deploy` runs) on
// PORT with that one replica at /API. The streaming bench measures this process tree (gateway +
// serve + its worker) as one contender; the supervisor's bookkeeping costs nothing per request,
// so leaving it out changes no figure. Stops `cortex serve` on SIGTERM/SIGINT.
import { spawn } from 'node:child_process';
import { Gateway, stripEndpoint } from '../cli/local/gateway.ts';
import { cortexServeArgs, freePort } from './servers.ts';

const [port, fixture, api] = [Number(process.argv[2]), process.argv[3], process.argv[4]];
if (!(port > 0) || !fixture || !api) {
  console.error('usage: node bench/streaming-gateway.ts PORT FIXTURE API');
  process.exit(2);
}
const servePort = await freePort();
const serve = spawn(process.execPath, cortexServeArgs(fixture, api, servePort), {
  stdio: ['ignore', 'inherit', 'inherit'],
});
serve.once('exit', (code) => {
  console.error(`cortex serve exited (${code})`);
  process.exit(1);
});
const stop = () => {
  serve.removeAllListeners('exit');
  serve.kill('SIGTERM');
  serve.once('exit', () => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

// the replica is a backend once its /readyz answers 200, as the supervisor's probe decides
let ready = false;
const endpoint = `/${api}`;
const gateway = new Gateway(
  {
    match: (pathname) => (stripEndpoint(endpoint, pathname) === undefined ? undefined : { api, endpoint }),
    backends: () => (ready ? [{ id: `${api}-0`, port: servePort }] : []),
    isLeaving: () => false,
    unavailableReason: () => 'starting',
    down: () => undefined,
    endpoints: () => [{ api, endpoint }],
  },
  { holdMs: 120_000, maxBodyBytes: 1 << 20 },
);
await gateway.listen(port, '127.0.0.1');
while (!ready) {
  try {
    ready = (await fetch(`http://127.0.0.1:${servePort}/readyz`)).status === 200;
  } catch {
    // not listening yet
  }
  if (!ready) await new Promise((resolve) => setTimeout(resolve, 200));
}
gateway.changed();
