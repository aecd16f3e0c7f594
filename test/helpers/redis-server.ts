// A real redis-server (the Debian package; test/images/install-podman.sh installs it) on a free
// loopback port with its data in a temp dir, for the queue tests. Append-only with fsync on every
// write, so `stop()` then `start()` is a Redis restart that keeps its streams, as a production
// Redis with persistence does; `pause()` freezes it (SIGSTOP) like a network partition.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './local.ts';

/** Why redis tests skip here, or undefined when redis-server is on PATH. */
export const redisMissing: string | undefined =
  spawnSync('redis-server', ['--version']).status === 0
    ? undefined
    : 'redis-server is not on PATH (apt-get install redis-server; test/images/install-podman.sh does)';

export interface RedisServer {
  url: string;
  port: number;
  /** Starts it again on the same port and data dir (after stop). */
  start(): Promise<void>;
  /** SIGTERM and wait: Redis flushes its append-only file and exits. */
  stop(): Promise<void>;
  /** Freezes the process for `ms`, then lets it go on. */
  pause(ms: number): Promise<void>;
  /** Stops it and removes its data. */
  close(): Promise<void>;
}

export async function startRedis(): Promise<RedisServer> {
  const dir = mkdtempSync(path.join(tmpdir(), 'cortex-redis-'));
  const port = await freePort();
  let proc: ChildProcess | undefined;
  let output = '';
  const start = async () => {
    output = '';
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', ''];
    args.push('--appendonly', 'yes', '--appendfsync', 'always', '--protected-mode', 'no');
    const p = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    proc = p;
    p.stdout.on('data', (d: Buffer) => (output += d.toString()));
    p.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const deadline = Date.now() + 20_000;
    while (!(await pings(port))) {
      if (p.exitCode !== null) throw new Error(`redis-server exited ${p.exitCode}:\n${output}`);
      if (Date.now() > deadline) {
        p.kill('SIGKILL');
        throw new Error(`redis-server did not answer on port ${port} within 20 s:\n${output}`);
      }
      await sleep(50);
    }
  };
  const stop = async () => {
    const p = proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise((r) => p.once('exit', r));
    p.kill('SIGCONT'); // in case it is paused
    p.kill('SIGTERM');
    await gone;
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    start,
    stop,
    async pause(ms) {
      proc?.kill('SIGSTOP');
      await sleep(ms);
      proc?.kill('SIGCONT');
    },
    async close() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** True when something answers PING with +PONG on the port. */
function pings(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.setTimeout(1000);
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (d) => {
      socket.destroy();
      resolve(d.toString().startsWith('+PONG'));
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}
