// The local environment's queue for AsyncAPIs (docs/async.md): a redis-server the supervisor
// starts when one is installed (its data under $CORTEX_HOME/queue, kept across restarts), else
// (or with CORTEX_LOCAL_QUEUE=embedded) the in-process broker served to the replicas on a
// loopback port. Replicas get its URL in
// CORTEX_QUEUE_URL; the gateway queues requests and answers their status through `broker`.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import path from 'node:path';
import { MemoryBroker } from '../../runtime/queue/memory.ts';
import { RedisBroker } from '../../runtime/queue/redis.ts';
import { RedisProcess, redisServerMissing } from '../../runtime/queue/redis-process.ts';
import { anyFreePort } from './pod-replicas.ts';
import { serveBroker } from '../../runtime/queue/rpc.ts';
import type { Broker } from '../../runtime/queue/types.ts';
import type { Logger } from '../../operator/util/log.ts';

export interface LocalQueue {
  /** What replicas connect to. */
  url: string;
  broker: Broker;
  /** 'redis-server' or 'embedded', for the log and cortex get. */
  kind: string;
  stop(): Promise<void>;
}

export async function startLocalQueue(home: string, log: Logger): Promise<LocalQueue> {
  const missing = process.env.CORTEX_LOCAL_QUEUE === 'embedded' ? 'CORTEX_LOCAL_QUEUE=embedded' : redisServerMissing();
  if (missing === undefined) {
    const dir = path.join(home, 'queue');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const redis = new RedisProcess(dir, await anyFreePort());
    const pidFile = path.join(dir, 'redis-server.pid');
    try {
      await stopLeftover(pidFile);
      await redis.start();
      writeFileSync(pidFile, String(redis.pid));
      // the gateway's: a POST while Redis is away gets 503 at once and is not queued later
      const broker = new RedisBroker(redis.url, {
        failFast: true,
        onError: (e) => log.warn(`local queue: ${e.message}`),
      });
      log.info(`AsyncAPI queue: redis-server on ${redis.url} (data in ${dir})`);
      return {
        url: redis.url,
        broker,
        kind: 'redis-server',
        async stop() {
          await broker.close();
          await redis.stop();
          rmSync(pidFile, { force: true });
        },
      };
    } catch (error) {
      log.warn(`could not start redis-server (${(error as Error).message}); AsyncAPIs use the embedded queue`);
    }
  }
  const broker = new MemoryBroker();
  const served = await serveBroker(broker);
  log.info(`AsyncAPI queue: embedded, on ${served.url} (${missing ?? 'redis-server failed to start'})`);
  return {
    url: served.url,
    broker,
    kind: 'embedded',
    async stop() {
      await served.close();
      await broker.close();
    },
  };
}

/**
 * A redis-server left by a supervisor that was killed still writes the same data folder: it is
 * stopped (SIGTERM, it saves) before a new one starts there.
 */
async function stopLeftover(pidFile: string): Promise<void> {
  let pid: number;
  try {
    pid = Number(readFileSync(pidFile, 'utf8'));
    if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('redis-server')) return;
    process.kill(pid, 'SIGTERM');
  } catch {
    return; // no file, no such process, or not Linux: nothing to stop
  }
  for (let i = 0; i < 100; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await sleep(50);
  }
}
