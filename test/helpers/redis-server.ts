// A real redis-server (the Debian package; test/install-system-packages.sh installs it) on a free
// loopback port with its data in a temp dir, for the queue tests: runtime/queue/redis-process.ts,
// plus the temp dir. `stop()` then `start()` is a Redis restart that keeps its streams; `pause()`
// freezes it like a network partition.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { RedisProcess, redisServerMissing } from '../../runtime/queue/redis-process.ts';
import { freePort } from './local.ts';

/** Why redis tests skip here, or undefined when redis-server is on PATH. */
export const redisMissing: string | undefined = redisServerMissing()?.concat(
  '; test/install-system-packages.sh installs it',
);

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
  const redis = new RedisProcess(dir, await freePort());
  await redis.start();
  return {
    url: redis.url,
    port: redis.port,
    start: () => redis.start(),
    stop: () => redis.stop(),
    pause: (ms) => redis.pause(ms),
    async close() {
      await redis.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
