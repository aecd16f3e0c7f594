// Picks the broker for a URL: `redis://` / `rediss://` (a Redis server), `memory:` (in this
// process only: tests, and the local supervisor that serves it to its replicas), `http://` (such a
// supervisor's broker, rpc.ts).
import { MemoryBroker } from './memory.ts';
import { RedisBroker, type RedisBrokerOptions } from './redis.ts';
import { HttpBroker } from './rpc.ts';
import type { Broker } from './types.ts';

export function openBroker(url: string, options: RedisBrokerOptions = {}): Broker {
  const scheme = url.split(':', 1)[0];
  if (scheme === 'redis' || scheme === 'rediss') return new RedisBroker(url, options);
  if (url === 'memory:') return new MemoryBroker();
  if (scheme === 'http') return new HttpBroker(url.replace(/\/+$/, ''));
  throw new Error(
    `queue URL ${JSON.stringify(url)}: expected redis://HOST:PORT, rediss://HOST:PORT, memory: or http://127.0.0.1:PORT`,
  );
}
