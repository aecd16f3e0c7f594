// The Redis implementation of the queue (Streams with consumer groups) and of the store (strings
// with PX expiry), on ioredis. Redis going away is survived by ioredis itself: it reconnects with
// backoff, holds commands issued meanwhile (maxRetriesPerRequest: null) and re-sends those that
// were in flight. Re-sending is safe for every command used here: XACK and the ack script act
// once (a second ack finds nothing pending and applies no effects), a re-sent XREADGROUP at worst
// leaves entries pending that XAUTOCLAIM re-delivers after claimIdleMs.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { ACK, CLAIM, encodeEffects, ENQUEUE, TOUCH } from './redis-scripts.ts';
import {
  deadLetterStream,
  type Broker,
  type DeadLetter,
  type Effects,
  type QueueDepth,
  type QueueMessage,
  type ReadOptions,
} from './types.ts';

export interface RedisBrokerOptions {
  /** Called with connection errors (Redis down, refused): ioredis keeps reconnecting after each. */
  onError?: (error: Error) => void;
  /**
   * Fail commands at once while Redis is away instead of holding them until it is back: for a
   * front that answers a client (503, retry) rather than a worker that can wait. A command held
   * and run later would queue a request whose client was already told it failed.
   */
  failFast?: boolean;
}

export class RedisBroker implements Broker {
  private readonly client: Redis;
  /** XREADGROUP BLOCK holds its connection, so each consumer blocks on its own. */
  private readonly blocking = new Map<string, Redis>();
  private readonly groups = new Set<string>();
  private closed = false;
  readonly url: string;
  private readonly options: RedisBrokerOptions;

  constructor(url: string, options: RedisBrokerOptions = {}) {
    this.url = url;
    this.options = options;
    this.client = this.connect();
  }

  private connect(): Redis {
    const failFast = this.options.failFast === true;
    const client = new Redis(this.url, {
      maxRetriesPerRequest: failFast ? 0 : null,
      autoResendUnfulfilledCommands: !failFast,
      // Reconnect at once, then back off to 1 s: an outage of seconds costs at most ~1 s after it.
      retryStrategy: (times) => (this.closed ? null : Math.min(times * 100, 1000)),
    });
    client.on('error', (error: Error) => this.options.onError?.(error));
    // failFast: commands issued before the first connection wait for it (the broker was just made);
    // from then on, a command while Redis is away fails at once (ioredis reads the option per command)
    if (failFast) client.once('ready', () => (client.options.enableOfflineQueue = false));
    return client;
  }

  private async ensureGroup(stream: string, group: string): Promise<void> {
    const key = `${stream}\0${group}`;
    if (this.groups.has(key)) return;
    try {
      await this.client.xgroup('CREATE', stream, group, '0', 'MKSTREAM');
    } catch (error) {
      if (!String(error).includes('BUSYGROUP')) throw error;
    }
    this.groups.add(key);
  }

  /** Runs `fn` after making sure the group exists; once more when Redis lost it (a restart without data). */
  private async withGroup<T>(stream: string, group: string, fn: () => Promise<T>): Promise<T> {
    await this.ensureGroup(stream, group);
    try {
      return await fn();
    } catch (error) {
      if (!String(error).includes('NOGROUP')) throw error;
      this.groups.delete(`${stream}\0${group}`);
      await this.ensureGroup(stream, group);
      return fn();
    }
  }

  async enqueue(stream: string, group: string, body: string, effects?: Effects): Promise<string> {
    const e = encodeEffects(effects);
    this.groups.add(`${stream}\0${group}`); // the script creates it
    const dedup = `${stream}:enqueued:${randomUUID()}`;
    const keys = [stream, dedup, ...e.keys];
    return (await this.client.eval(ENQUEUE, keys.length, ...keys, group, body, ...e.args)) as string;
  }

  async read(stream: string, group: string, consumer: string, options: ReadOptions): Promise<QueueMessage[]> {
    return this.withGroup(stream, group, async () => {
      const claimed = (await this.client.eval(
        CLAIM,
        2,
        stream,
        deadLetterStream(stream),
        group,
        consumer,
        options.claimIdleMs,
        options.count,
        options.maxDeliveries,
      )) as (string | number)[];
      const out: QueueMessage[] = [];
      for (let i = 0; i < claimed.length; i += 3) {
        out.push({ id: String(claimed[i]), body: String(claimed[i + 1]), deliveries: Number(claimed[i + 2]) });
      }
      if (out.length > 0) return out;
      const block = options.blockMs > 0 ? ['BLOCK', options.blockMs] : [];
      const reply = (await this.blockingClient(consumer).call(
        'XREADGROUP',
        'GROUP',
        group,
        consumer,
        'COUNT',
        options.count,
        ...block,
        'STREAMS',
        stream,
        '>',
      )) as [string, [string, string[] | null][]][] | null;
      for (const [id, fields] of reply?.[0]?.[1] ?? []) out.push({ id, body: field(fields, 'body'), deliveries: 1 });
      return out;
    });
  }

  private blockingClient(consumer: string): Redis {
    let client = this.blocking.get(consumer);
    if (!client) {
      client = this.connect();
      this.blocking.set(consumer, client);
    }
    return client;
  }

  async touch(stream: string, group: string, consumer: string, id: string): Promise<boolean> {
    return (await this.client.eval(TOUCH, 1, stream, group, consumer, id)) === 1;
  }

  async release(stream: string, group: string, id: string): Promise<void> {
    // XCLAIM's IDLE sets the idle time without moving the entry (the owner claims it for itself):
    // an idle time far past any claimIdleMs makes the next read claim it, counting a delivery.
    const owner = await this.owner(stream, group, id);
    if (owner) await this.client.xclaim(stream, group, owner, 0, id, 'IDLE', 2 ** 40, 'JUSTID');
  }

  private async owner(stream: string, group: string, id: string): Promise<string | undefined> {
    const p = (await this.client.call('XPENDING', stream, group, id, id, 1)) as [string, string][];
    return p[0]?.[1];
  }

  async ack(stream: string, group: string, id: string, effects?: Effects): Promise<boolean> {
    const e = encodeEffects(effects);
    return (await this.client.eval(ACK, 1 + e.keys.length, stream, ...e.keys, group, id, ...e.args)) === 1;
  }

  async depth(stream: string, group: string): Promise<QueueDepth> {
    // Acked entries are deleted (the ack script), so the stream holds exactly the pending and the
    // waiting ones: waiting = length - pending. No stream: nothing queued (and nothing created).
    const length = await this.client.xlen(stream);
    if (length === 0) return { waiting: 0, pending: 0 };
    try {
      const summary = (await this.client.call('XPENDING', stream, group)) as [number, ...unknown[]];
      const pending = Number(summary[0]);
      return { waiting: Math.max(0, length - pending), pending };
    } catch (error) {
      if (String(error).includes('NOGROUP')) return { waiting: length, pending: 0 };
      throw error;
    }
  }

  async deadLetters(stream: string, count = 100): Promise<DeadLetter[]> {
    const entries = await this.client.xrange(deadLetterStream(stream), '-', '+', 'COUNT', count);
    return entries.map(([, fields]) => ({
      id: field(fields, 'id'),
      body: field(fields, 'body'),
      deliveries: Number(field(fields, 'deliveries')),
    }));
  }

  async deleteStream(stream: string): Promise<void> {
    await this.client.del(stream, deadLetterStream(stream));
    for (const key of this.groups) if (key.startsWith(`${stream}\0`)) this.groups.delete(key);
  }

  async put(key: string, value: string, ttlMs?: number): Promise<void> {
    if (ttlMs) await this.client.set(key, value, 'PX', ttlMs);
    else await this.client.set(key, value);
  }

  async get(key: string): Promise<string | undefined> {
    return (await this.client.get(key)) ?? undefined;
  }

  async getMany(keys: string[]): Promise<(string | undefined)[]> {
    if (keys.length === 0) return [];
    return (await this.client.mget(...keys)).map((v) => v ?? undefined);
  }

  async incr(key: string, by = 1): Promise<number> {
    return this.client.incrby(key, by);
  }

  async delete(...keys: string[]): Promise<void> {
    if (keys.length > 0) await this.client.del(...keys);
  }

  async close(): Promise<void> {
    this.closed = true;
    // disconnect, not quit: a consumer blocked in XREADGROUP must not hold the close for blockMs.
    for (const client of this.blocking.values()) client.disconnect();
    this.client.disconnect();
  }
}

function field(fields: string[] | null, name: string): string {
  if (!fields) return '';
  for (let i = 0; i < fields.length; i += 2) if (fields[i] === name) return fields[i + 1] ?? '';
  return '';
}
