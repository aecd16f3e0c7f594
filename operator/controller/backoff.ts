// Exponential backoff with jitter, for requeues of failed reconciles and for reconnecting
// list+watch loops.

export interface BackoffOptions {
  /** Delay after the first failure. */
  baseMs: number;
  /** Largest delay. */
  maxMs: number;
  /** Fraction of the delay drawn at random, 0 (none) to 1: the delay lies in [d·(1−jitter), d]. */
  jitter: number;
  /** Source of randomness in [0, 1) (tests pass a fixed one). */
  random?: () => number;
}

/**
 * The delay after `failures` consecutive failures (1 for the first): baseMs·2^(failures−1),
 * capped at maxMs, then shortened by up to `jitter` of itself so that many keys or clients
 * failing together do not retry in lockstep.
 */
export function backoffDelay(failures: number, options: BackoffOptions): number {
  const n = Math.max(1, failures);
  // 2^n overflows to Infinity long after the cap; Math.min handles it.
  const exp = Math.min(options.maxMs, options.baseMs * 2 ** (n - 1));
  const random = options.random ?? Math.random;
  const jitter = Math.min(1, Math.max(0, options.jitter));
  return Math.round(exp * (1 - jitter * random()));
}

/** Consecutive failures of one thing (a watch, a connection), and the delay before the next try. */
export class Backoff {
  private failures = 0;
  private readonly options: BackoffOptions;

  constructor(options: BackoffOptions) {
    this.options = options;
  }

  /** Records a failure and returns how long to wait before trying again. */
  next(): number {
    this.failures++;
    return backoffDelay(this.failures, this.options);
  }

  /** A success: the next failure waits baseMs again. */
  reset(): void {
    this.failures = 0;
  }

  get attempts(): number {
    return this.failures;
  }
}

/** Resolves after `ms`, or at once when `signal` aborts (never rejects). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
