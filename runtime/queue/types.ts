// The queue behind AsyncAPI requests and BatchAPI batches, and the status/result store beside it
// (issue 18). One interface so another queue (SQS, NATS) can be added later; two implementations
// today: Redis Streams with consumer groups (redis.ts) and an in-process twin (memory.ts) with the
// same semantics for the local environment when no redis-server is installed.
//
// Semantics, identical in both:
// - A message is delivered to one consumer of a group at a time. It stays pending (owned by that
//   consumer) until acked. A consumer that dies leaves it pending; once it has been idle for
//   `claimIdleMs`, the next `read` of any consumer of the group claims it again (its delivery count
//   rises). A long handler keeps its message with `touch`, which resets the idle time.
// - A message claimed more than `maxDeliveries` times is moved to the dead-letter stream
//   (`deadLetterStream(stream)`) and removed from the queue instead of looping.
// - `ack` removes the message and applies its effects (key writes, counter increments) atomically,
//   only if the message was still pending: when two consumers processed the same message (one was
//   slow, not dead), the effects happen once. That is what makes counts exact.

/** One delivery of a message to a consumer. */
export interface QueueMessage {
  /** The queue's id of the entry (Redis stream id, e.g. `1700000000000-0`). */
  id: string;
  body: string;
  /** 1 on first delivery; each re-delivery after a consumer went idle adds one. */
  deliveries: number;
}

/** A message moved aside after too many deliveries. */
export interface DeadLetter {
  /** The id it had in its queue. */
  id: string;
  body: string;
  deliveries: number;
}

/** Key writes applied atomically with an enqueue or an ack. */
export interface Effects {
  /** Sets each key to its value, expiring after ttlMs when given (no TTL: kept until deleted). */
  put?: { key: string; value: string; ttlMs?: number }[];
  /** Adds `by` (default 1) to an integer counter; ttlMs (when given) is set on the counter too. */
  incr?: { key: string; by?: number; ttlMs?: number }[];
}

export interface ReadOptions {
  /** The most messages to return at once. */
  count: number;
  /** How long to wait for a new message when none is ready; 0 returns at once. */
  blockMs: number;
  /** A pending message idle this long is taken from its (presumably dead) consumer. */
  claimIdleMs: number;
  /** Deliveries after which a message goes to the dead-letter stream instead. */
  maxDeliveries: number;
}

/** Messages waiting for a first delivery and messages delivered but not yet acked. */
export interface QueueDepth {
  waiting: number;
  pending: number;
}

export interface MessageQueue {
  /** Appends a message (creating the stream and group when missing); returns its id. */
  enqueue(stream: string, group: string, body: string, effects?: Effects): Promise<string>;
  /**
   * Claims messages idle longer than `claimIdleMs` (dead-lettering those past `maxDeliveries`),
   * else reads new ones, waiting up to `blockMs`. Returns [] when there is nothing.
   */
  read(stream: string, group: string, consumer: string, options: ReadOptions): Promise<QueueMessage[]>;
  /** Resets a pending message's idle time; false when `consumer` no longer owns it. */
  touch(stream: string, group: string, consumer: string, id: string): Promise<boolean>;
  /** Makes a pending message claimable by the next read at once (a failed try to be retried). */
  release(stream: string, group: string, id: string): Promise<void>;
  /** Acks and removes the message and applies `effects`; false (and no effects) when it was not pending. */
  ack(stream: string, group: string, id: string, effects?: Effects): Promise<boolean>;
  depth(stream: string, group: string): Promise<QueueDepth>;
  /** The oldest `count` dead letters of a stream. */
  deadLetters(stream: string, count?: number): Promise<DeadLetter[]>;
  /** Removes a stream, its group and its dead letters (an API or job deleted). */
  deleteStream(stream: string): Promise<void>;
}

export interface KeyValueStore {
  put(key: string, value: string, ttlMs?: number): Promise<void>;
  get(key: string): Promise<string | undefined>;
  /** Reads several keys at once; a missing or expired one is undefined. */
  getMany(keys: string[]): Promise<(string | undefined)[]>;
  /** Adds `by` to an integer counter (missing: 0) and returns the new value. */
  incr(key: string, by?: number): Promise<number>;
  delete(...keys: string[]): Promise<void>;
}

/** A queue and the store next to it: what workers, fronts and job controllers are given. */
export interface Broker extends MessageQueue, KeyValueStore {
  /** `redis://host:port` or `memory:`. */
  readonly url: string;
  close(): Promise<void>;
}

export function deadLetterStream(stream: string): string {
  return `${stream}:dead`;
}
