// A consumer loop over any MessageQueue: reads up to `concurrency` messages at a time, runs the
// handler on each, keeps each message claimed while its handler runs (touch), and acks it with the
// handler's effects. Errors from the queue (Redis down) are retried with backoff, so a consumer
// resumes by itself when the queue comes back; an ack that failed is retried too (safe: an ack
// acts once). A handler that throws releases its message for another try, counted towards
// maxDeliveries.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Effects, MessageQueue, QueueMessage, ReadOptions } from './types.ts';

export interface ConsumeOptions extends Omit<ReadOptions, 'count'> {
  stream: string;
  group: string;
  /** Unique per process: a restarted process must not inherit the dead one's messages by name. */
  consumer: string;
  /** Messages handled at the same time. */
  concurrency: number;
  /** Aborting stops reading; the returned promise resolves once the handlers in flight are done. */
  signal: AbortSignal;
  /** Queue errors (each is retried) and handler errors (each releases its message). */
  onError?: (error: unknown, what: string) => void;
}

/** The effects to ack with (undefined: ack alone); throw to release the message for a retry. */
export type Handler = (message: QueueMessage) => Promise<Effects | undefined>;

const BACKOFF_MAX_MS = 1000;

export async function consume(queue: MessageQueue, options: ConsumeOptions, handler: Handler): Promise<void> {
  const { stream, group, consumer, signal } = options;
  const inFlight = new Set<Promise<void>>();
  let failures = 0;
  while (!signal.aborted) {
    if (inFlight.size >= options.concurrency) {
      await Promise.race(inFlight);
      continue;
    }
    let messages: QueueMessage[];
    try {
      messages = await queue.read(stream, group, consumer, { ...options, count: options.concurrency - inFlight.size });
      failures = 0;
    } catch (error) {
      if (signal.aborted) break;
      options.onError?.(error, 'read');
      await sleep(Math.min(BACKOFF_MAX_MS, 50 * 2 ** failures++));
      continue;
    }
    for (const message of messages) {
      const run = handle(queue, options, handler, message).finally(() => inFlight.delete(run));
      inFlight.add(run);
    }
  }
  await Promise.all(inFlight);
}

async function handle(queue: MessageQueue, options: ConsumeOptions, handler: Handler, message: QueueMessage) {
  const { stream, group, consumer } = options;
  // Touch well before claimIdleMs runs out, so a handler slower than claimIdleMs keeps its message.
  const heartbeat = setInterval(
    () => void queue.touch(stream, group, consumer, message.id).catch(() => undefined),
    Math.max(50, Math.floor(options.claimIdleMs / 3)),
  );
  let effects: Effects | undefined;
  try {
    effects = await handler(message);
  } catch (error) {
    options.onError?.(error, `handler (message ${message.id})`);
    clearInterval(heartbeat);
    await retry(options, 'release', () => queue.release(stream, group, message.id));
    return;
  }
  try {
    await retry(options, 'ack', () => queue.ack(stream, group, message.id, effects));
  } finally {
    clearInterval(heartbeat);
  }
}

/** Retries a queue call until it succeeds; gives up only when aborted and still failing after 30 s. */
async function retry(options: ConsumeOptions, what: string, fn: () => Promise<unknown>): Promise<void> {
  const started = Date.now();
  for (let failures = 0; ; failures++) {
    try {
      await fn();
      return;
    } catch (error) {
      options.onError?.(error, what);
      // A message not acked is not lost: it is re-delivered after claimIdleMs.
      if (options.signal.aborted && Date.now() - started > 30_000) return;
      await sleep(Math.min(BACKOFF_MAX_MS, 50 * 2 ** failures));
    }
  }
}
