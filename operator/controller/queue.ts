// A keyed work queue with controller-runtime's (client-go workqueue's) semantics:
// - a key is queued at most once: adding it again before a worker takes it does nothing
//   (events coalesce);
// - a key is handed to one worker at a time: added while being reconciled, it is queued again
//   only when that reconcile is done, so the same key never runs twice at once;
// - failures requeue with per-key exponential backoff and jitter; forget() after a success
//   resets it; addAfter() is for "look again later" (requeueAfter);
// - each reconcile gets an AbortSignal: aborted when the workers are stopped (so a stopping
//   operator does not wait on a hung request) or after its own timeout; an aborted reconcile is
//   a failure like any other and its key is retried with backoff.

import { backoffDelay, type BackoffOptions } from './backoff.ts';

export interface WorkQueueOptions {
  /** Per-key backoff of addRateLimited. Default: 200 ms doubling to 5 min, 20% jitter. */
  backoff?: Partial<BackoffOptions>;
}

export class WorkQueue {
  private readonly queue: string[] = [];
  /** Keys waiting to be processed (queued, or to be queued again once their reconcile is done). */
  private readonly dirty = new Set<string>();
  /** Keys a worker holds. */
  private readonly processing = new Set<string>();
  private readonly waiting = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private readonly failureCounts = new Map<string, number>();
  private readonly getters: ((key: string | undefined) => void)[] = [];
  private readonly backoff: BackoffOptions;
  private shuttingDown = false;

  constructor(options: WorkQueueOptions = {}) {
    this.backoff = { baseMs: 200, maxMs: 300_000, jitter: 0.2, ...options.backoff };
  }

  /** Queues `key` unless it is already queued; if a worker holds it, queues it when done. */
  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    if (this.processing.has(key)) return;
    this.push(key);
  }

  /** Queues `key` after `ms` (at once when ms ≤ 0); an earlier pending time for the key wins. */
  addAfter(key: string, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) return this.add(key);
    const at = Date.now() + ms;
    const pending = this.waiting.get(key);
    if (pending && pending.at <= at) return;
    if (pending) clearTimeout(pending.timer);
    const timer = setTimeout(() => {
      this.waiting.delete(key);
      this.add(key);
    }, ms);
    this.waiting.set(key, { at, timer });
  }

  /** A failed reconcile: queues `key` after its backoff delay, which doubles with each failure. Returns the delay. */
  addRateLimited(key: string): number {
    const failures = (this.failureCounts.get(key) ?? 0) + 1;
    this.failureCounts.set(key, failures);
    const delay = backoffDelay(failures, this.backoff);
    this.addAfter(key, delay);
    return delay;
  }

  /** A successful reconcile: the next failure of `key` starts from the base delay again. */
  forget(key: string): void {
    this.failureCounts.delete(key);
  }

  /** Consecutive failures recorded for `key`. */
  failures(key: string): number {
    return this.failureCounts.get(key) ?? 0;
  }

  /** The next key to reconcile (the caller must call done(key) afterwards); undefined once shut down. */
  get(): Promise<string | undefined> {
    if (this.queue.length > 0) return Promise.resolve(this.take());
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.getters.push(resolve));
  }

  /** The worker is finished with `key`; if it was added meanwhile, it is queued again. */
  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.has(key) && !this.shuttingDown) this.push(key);
  }

  /** Stops handing out keys: pending get() calls resolve undefined, timers are cleared. */
  shutDown(): void {
    this.shuttingDown = true;
    for (const { timer } of this.waiting.values()) clearTimeout(timer);
    this.waiting.clear();
    for (const resolve of this.getters.splice(0)) resolve(undefined);
  }

  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  /** Keys queued and not yet handed out. */
  get length(): number {
    return this.queue.length;
  }

  /** Keys a worker holds now. */
  get inFlight(): number {
    return this.processing.size;
  }

  /** Keys waiting on a timer (addAfter / addRateLimited). */
  get delayed(): number {
    return this.waiting.size;
  }

  private push(key: string): void {
    const getter = this.getters.shift();
    if (getter) {
      this.queue.push(key);
      getter(this.take());
    } else {
      this.queue.push(key);
    }
  }

  private take(): string {
    const key = this.queue.shift()!;
    this.dirty.delete(key);
    this.processing.add(key);
    return key;
  }
}

/** What a reconcile may ask for besides success: to look at the key again after a while. */
export interface ReconcileResult {
  requeueAfterMs?: number;
}

export interface WorkerOptions {
  workers: number;
  /** Makes `key` right; must give up (reject) soon after `signal` aborts. */
  reconcile: (key: string, signal: AbortSignal) => Promise<ReconcileResult | void>;
  /** Told of each failure and when the key will be retried. */
  onError?: (key: string, error: unknown, retryInMs: number) => void;
  /** Stops the workers: shuts the queue down and aborts every reconcile in flight. */
  signal?: AbortSignal;
  /** Aborts one reconcile that takes longer than this. Default: no limit but the signal. */
  reconcileTimeoutMs?: number;
}

/**
 * Runs `workers` loops taking keys from `queue` until it shuts down (or options.signal aborts);
 * each key's errors requeue it with backoff, successes forget its failures. Resolves when every
 * loop has finished its current reconcile.
 */
export async function runWorkers(queue: WorkQueue, options: WorkerOptions): Promise<void> {
  const stop = options.signal ?? new AbortController().signal;
  const shutDown = () => queue.shutDown();
  if (stop.aborted) shutDown();
  else stop.addEventListener('abort', shutDown, { once: true });
  const signalFor = () =>
    options.reconcileTimeoutMs === undefined
      ? stop
      : AbortSignal.any([stop, AbortSignal.timeout(options.reconcileTimeoutMs)]);
  const loop = async () => {
    for (;;) {
      const key = await queue.get();
      if (key === undefined) return;
      try {
        const result = await options.reconcile(key, signalFor());
        queue.forget(key);
        if (result && result.requeueAfterMs !== undefined) queue.addAfter(key, result.requeueAfterMs);
      } catch (error) {
        const delay = queue.addRateLimited(key);
        try {
          options.onError?.(key, error, delay);
        } catch {
          // a failing logger must not stop the worker
        }
      } finally {
        queue.done(key);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, options.workers) }, loop));
  } finally {
    stop.removeEventListener('abort', shutDown);
  }
}
