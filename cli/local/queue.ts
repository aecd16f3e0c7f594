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
    const pidFile = path.join(queueDir(home), 'redis-server.pid');
    try {
      await stopLeftover(pidFile);
      const redis = await startOnPreviousPort(home);
      writeFileSync(pidFile, String(redis.pid));
      // the gateway's: a POST while Redis is away gets 503 at once and is not queued later
      const broker = new RedisBroker(redis.url, {
        failFast: true,
        onError: (e) => log.warn(`local queue: ${e.message}`),
      });
      log.info(`AsyncAPI queue: redis-server on ${redis.url} (data in ${redis.dir})`);
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
  const served = await serveBroker(broker, previousPort(home)).catch(() => serveBroker(broker));
  writeFileSync(portFile(home), String(new URL(served.url).port));
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

// Replicas adopted from a supervisor that died (cli/local/supervisor.ts) keep the URL they were
// started with: the queue comes back on the same port when it can, and they reconnect to it.
const queueDir = (home: string) => {
  const dir = path.join(home, 'queue');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
};
const portFile = (home: string) => path.join(queueDir(home), 'port');

function previousPort(home: string): number | undefined {
  try {
    return Number(readFileSync(portFile(home), 'utf8')) || undefined;
  } catch {
    return undefined;
  }
}

async function startOnPreviousPort(home: string): Promise<RedisProcess> {
  const previous = previousPort(home);
  if (previous !== undefined) {
    const redis = new RedisProcess(queueDir(home), previous);
    try {
      await redis.start();
      return redis;
    } catch {
      // the port is taken now: a new one (adopted replicas, if any, are restarted by the new version)
    }
  }
  const redis = new RedisProcess(queueDir(home), await anyFreePort());
  await redis.start();
  writeFileSync(portFile(home), String(redis.port));
  return redis;
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
