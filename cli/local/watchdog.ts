// The local environment's watchdog: a tiny process (Node built-ins only, so it starts at once)
// that runs the supervisor (`cortex __supervisor`) as its child and, when that is killed or
// crashes, switches to the next one, so the gateway comes back by itself. The next supervisor
// is started once the current one serves, and waits with its modules loaded (a standby): the
// switch takes a fraction of a second rather than a Node start. The watchdog exits when the
// supervisor stops for good (no API left, or asked to stop), ending the standby.
//
//   node cli/local/watchdog.ts --home DIR        (the CLI starts it detached; see client.ts)
//
// Messages over the IPC channel: the child says 'standby' when it waits for its turn, 'started'
// once it serves, 'stopping' before it exits for good; the watchdog says 'go'.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Set in the supervisor processes the watchdog starts. */
export const CHILD_ENV = 'CORTEX_SUPERVISOR_CHILD';
/** The watchdog gives up after this many starts in a minute. */
const MAX_STARTS_PER_MINUTE = 5;
const cortexBin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'cortex.ts');

function log(level: 'info' | 'error', message: string): void {
  const line = { time: new Date().toISOString(), level, api: 'supervisor', source: 'watchdog', message };
  process.stdout.write(JSON.stringify(line) + '\n');
}

export async function runWatchdog(home: string): Promise<void> {
  const spawnChild = () =>
    spawn(process.execPath, [cortexBin, '__supervisor', '--home', home], {
      env: { ...process.env, [CHILD_ENV]: '1', CORTEX_HOME: home },
      stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
    });
  // A child says 'standby' once it waits (modules loaded); 'go' before then would be lost.
  const waiting = new WeakSet<ChildProcess>();
  const spawnStandby = () => {
    const child = spawnChild();
    child.on('message', (m) => m === 'standby' && waiting.add(child));
    return child;
  };
  const go = (child: ChildProcess) => {
    if (waiting.has(child)) return void child.send('go');
    const onMessage = (m: unknown) => {
      if (m !== 'standby') return;
      child.off('message', onMessage);
      child.send('go');
    };
    child.on('message', onMessage);
  };
  let current: ChildProcess | undefined;
  let standby: ChildProcess | undefined;
  let stopping = false;
  const endStandby = () => {
    standby?.kill('SIGKILL');
    standby = undefined;
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      stopping = true;
      endStandby();
      current?.kill(signal);
    });
  }
  process.on('SIGHUP', () => {});
  const starts: number[] = [];
  for (;;) {
    const started = Date.now();
    starts.push(started);
    const running = standby ?? spawnStandby();
    standby = undefined;
    current = running;
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      running.once('exit', (code, signal) => resolve({ code, signal }));
      running.once('error', () => resolve({ code: 1, signal: null }));
    });
    running.on('message', (message) => {
      // Serving: start the next one now (not sooner: two Node starts at once slow the first).
      if (message === 'started' && standby === undefined && !stopping) standby = spawnStandby();
      // Stopping for good: the standby and the watchdog go first, so nothing of this home runs
      // once the supervisor is gone.
      if (message === 'stopping') {
        stopping = true;
        const last = standby;
        standby = undefined;
        if (last === undefined || last.exitCode !== null) return process.exit(0);
        last.once('exit', () => process.exit(0));
        last.kill('SIGKILL');
      }
    });
    go(running);
    const { code, signal } = await exited;
    current = undefined;
    if (stopping || code === 0 || !existsSync(home)) return endStandby();
    // A supervisor that fails as it starts (a bad cli.yaml, ...) would fail again: say so instead.
    const failedToStart = signal === null && Date.now() - started < 2000;
    const recent = starts.filter((t) => Date.now() - t < 60_000).length;
    const how = signal !== null ? `was killed by ${signal}` : `exited with code ${code}`;
    if (failedToStart || recent >= MAX_STARTS_PER_MINUTE) {
      log('error', `the supervisor ${running.pid} ${how}; not starting it again`);
      process.exitCode = code ?? 1;
      return endStandby();
    }
    log('error', `the supervisor ${running.pid} ${how}; switching to the next one`);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const at = process.argv.indexOf('--home');
  const home = at > 0 ? process.argv[at + 1] : undefined;
  if (home === undefined) {
    process.stderr.write('usage: node watchdog.ts --home DIR\n');
    process.exit(2);
  }
  await runWatchdog(path.resolve(home));
}
