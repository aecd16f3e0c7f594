// WebSockets through the hops we own (docs/websockets.md): the local gateway with an API key,
// and the activator waking an API from zero. A real `cortex serve` of test/fixtures/websocket
// behind each, real sockets with the `ws` client.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { JsonLogger } from '../operator/util/log.ts';
import { newKey } from '../operator/auth/keys.ts';
import { Gateway, stripEndpoint, type RouteTable } from '../cli/local/gateway.ts';
import { gatewayAuth } from '../cli/local/gateway-auth.ts';
import { localKeyStore } from '../cli/local/keys.ts';
import { Activator, type Backend } from '../operator/activator/activator.ts';
import { silentLogger } from '../operator/util/log.ts';
import { spawn } from 'node:child_process';
import { cortexBin, repoRoot, serve, type Served } from './helpers/serve.ts';
import { connect, refused } from './helpers/ws-client.ts';

const fixture = path.join(repoRoot, 'test', 'fixtures', 'websocket');

let replica: Served;
before(async () => {
  replica = await serve(fixture, { args: ['--api', 'ws-async'] });
});
after(() => replica?.stop());

describe('through the local gateway', () => {
  const home = mkdtempSync(path.join(tmpdir(), 'cortex-ws-gateway-'));
  const auth = gatewayAuth({
    layout: { home },
    log: new JsonLogger({ level: 'error', sink: () => {} }),
    mode: (api) => (api === 'secured' ? 'api_key' : 'none'),
    reloadMs: 100,
  });
  const routes: RouteTable = {
    match: (p) =>
      ['secured', 'open'].map((api) => ({ api, endpoint: `/${api}` })).find((r) => stripEndpoint(r.endpoint, p)),
    backends: () => [{ id: 'r1', port: replica.port }],
    isLeaving: () => false,
    unavailableReason: () => 'starting',
    down: () => undefined,
    endpoints: () => [],
  };
  const gateway = new Gateway(routes, { holdMs: 1000, maxBodyBytes: 1 << 20, authorize: auth.authorize });
  let base = '';
  before(async () => {
    base = `ws://127.0.0.1:${(await gateway.listen(0, '127.0.0.1')).port}`;
  });
  after(async () => {
    auth.stop();
    await gateway.close();
    rmSync(home, { recursive: true, force: true });
  });

  test('an open API: echo, JSON and close codes pass through the endpoint unchanged', async () => {
    const c = await connect(`${base}/open?mode=echo`);
    c.ws.send('through the gateway');
    assert.equal(await c.next(), 'through the gateway');
    c.ws.close(4100, 'bye');
    assert.equal((await c.closed).code, 4100);
    const closing = await connect(`${base}/open/predict?mode=close`);
    assert.equal(await closing.next(), 'bye');
    assert.deepEqual(await closing.closed, { code: 4000, reason: 'done' });
    assert.equal((await refused(`${base}/open?mode=refuse`)).status, 403, "the replica's refusal is relayed");
  });

  test('auth: api_key: the upgrade needs a key (401 without), and the predictor never sees it', async () => {
    const missing = await refused(`${base}/secured?mode=echo`);
    assert.equal(missing.status, 401);
    assert.match(String(missing.headers['www-authenticate']), /Bearer/);
    const wrong = await refused(`${base}/secured?mode=echo`, { headers: { authorization: 'Bearer nope' } });
    assert.equal(wrong.status, 401);
    const { key, record } = newKey('alice', {});
    assert.equal(await localKeyStore({ home }, 'secured').add('alice', record), true);
    const deadline = Date.now() + 3000;
    let c;
    for (;;) {
      try {
        c = await connect(`${base}/secured?mode=json`, { headers: { authorization: `Bearer ${key}` } });
        break;
      } catch (error) {
        if (Date.now() > deadline) throw error; // the key folder is read again every 100 ms here
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    c.ws.send('{"x":1}');
    assert.deepEqual(JSON.parse(String(await c.next())), {
      got: { x: 1 },
      query: { mode: 'json' },
      agent: null,
      key: null,
    });
    c.ws.close();
  });
});

describe('through the activator', () => {
  test('an upgrade to an API at zero wakes it, waits for its replica, then the socket works', async () => {
    const port = await freePort();
    let woken: Served | undefined;
    let ready: string[] = [];
    const listeners = new Set<() => void>();
    const backend: Backend = {
      ready: Promise.resolve(),
      api: (ns, name) => (ns === 'default' && name === 'ws-async' ? {} : undefined),
      readyReplicas: () => ready,
      runningReplicas: () => ready,
      watch: (_ns, _name, listener) => {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
      wake: async () => {
        // the Deployment going from 0 to 1: a real replica starts on the Service's port
        woken ??= await serve(fixture, { args: ['--api', 'ws-async', '--port', String(port)] });
        ready = ['127.0.0.1'];
        for (const l of listeners) l();
        return { from: 0, to: 1 };
      },
    };
    const activator = new Activator({ backend, log: silentLogger, replicaPort: port, timeoutMs: 60_000 });
    const activatorPort = await activator.listen(0, '127.0.0.1');
    try {
      const c = await connect(`ws://127.0.0.1:${activatorPort}/?mode=echo`, {
        headers: { host: 'ws-async.default.svc.cluster.local' },
      });
      assert.ok(woken !== undefined, 'the wake started a replica');
      c.ws.send('woken');
      assert.equal(await c.next(), 'woken');
      c.ws.close(4200);
      assert.equal((await c.closed).code, 4200);
    } finally {
      await activator.close();
      await woken?.stop();
    }
  });
});

describe('through cortex proxy (a pod API)', () => {
  test("a socket to the user's container passes through and counts in flight while open", async () => {
    const child = spawn(
      process.execPath,
      [cortexBin, 'proxy', '--api', 'pod-api', '--upstream-port', String(replica.port), '-p', '0', '--admin-port', '0'],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      const ports = await new Promise<{ port: number; adminPort: number }>((resolve) => {
        let buffered = '';
        child.stdout.on('data', (chunk: Buffer) => {
          buffered += chunk.toString();
          for (const line of buffered.split('\n').slice(0, -1)) {
            const entry = JSON.parse(line) as { port?: number; adminPort?: number };
            if (typeof entry.adminPort === 'number') resolve(entry as { port: number; adminPort: number });
          }
        });
      });
      const inFlight = async () => {
        const text = await (await fetch(`http://127.0.0.1:${ports.adminPort}/metrics`)).text();
        return Number(/^cortex_in_flight_requests\{[^}]*\} (\S+)$/m.exec(text)?.[1]);
      };
      const c = await connect(`ws://127.0.0.1:${ports.port}/?mode=echo`);
      c.ws.send('via the pod proxy');
      assert.equal(await c.next(), 'via the pod proxy');
      assert.equal(await inFlight(), 1);
      c.ws.close(4300);
      assert.equal((await c.closed).code, 4300);
      const deadline = Date.now() + 3000;
      while ((await inFlight()) !== 0) {
        if (Date.now() > deadline) assert.fail('in flight back to 0');
        await new Promise((r) => setTimeout(r, 25));
      }
    } finally {
      child.kill('SIGKILL');
    }
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
