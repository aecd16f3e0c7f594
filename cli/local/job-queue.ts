// The queue of the local environment's jobs: $CORTEX_QUEUE_URL when set (a Redis of your own);
// else a redis-server this environment starts once (when one is on PATH, and not
// CORTEX_LOCAL_QUEUE=embedded) on a free loopback port, daemonized so that it outlives the CLI
// and serves later jobs, its data in $CORTEX_HOME/redis; else memory: (each job runner's embedded
// store). The supervisor's queue of AsyncAPIs (queue.ts) lives only while the supervisor runs,
// which a job does not need.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { redisServerMissing } from '../../runtime/queue/redis-process.ts';
import type { Layout } from './paths.ts';
import { anyFreePort } from './pod-replicas.ts';

export const QUEUE_URL_ENV = 'CORTEX_QUEUE_URL';

/** Whether a Redis answers PING at 127.0.0.1:port. */
function redisAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (d) => done(d.toString().startsWith('+PONG')));
    socket.once('error', () => done(false));
  });
}

export async function localQueueUrl(l: Layout): Promise<string> {
  const configured = process.env[QUEUE_URL_ENV];
  if (configured !== undefined && configured !== '') return configured;
  const dir = path.join(l.home, 'redis');
  const portFile = path.join(dir, 'port');
  if (existsSync(portFile)) {
    const port = Number(readFileSync(portFile, 'utf8'));
    if (await redisAnswers(port)) return `redis://127.0.0.1:${port}`;
  }
  if (process.env.CORTEX_LOCAL_QUEUE === 'embedded' || redisServerMissing() !== undefined) return 'memory:';
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const port = await anyFreePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes'];
  args.push('--daemonize', 'yes', '--pidfile', path.join(dir, 'redis.pid'), '--logfile', path.join(dir, 'redis.log'));
  const started = spawnSync('redis-server', args, { encoding: 'utf8' });
  if (started.status !== 0) return 'memory:';
  for (let i = 0; i < 100 && !(await redisAnswers(port)); i++) await sleep(50);
  writeFileSync(portFile, String(port));
  return `redis://127.0.0.1:${port}`;
}

/** Stops the environment's own redis-server, when it started one (tests; cortex has no command for it). */
export function stopLocalQueue(l: Layout): void {
  const pidFile = path.join(l.home, 'redis', 'redis.pid');
  if (!existsSync(pidFile)) return;
  try {
    process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGTERM');
  } catch {
    // already gone
  }
}
