// What the operator's manager runs (operator/manager/manager.ts): every long-running part of
// the process (caches, the metrics API, the activator, the controller, the scale-to-zero loop)
// behind one shape, so that main.ts lists them instead of ordering their starts and stops by hand.

/** A long-running part of the operator (controller-runtime's manager.Runnable). */
export interface Runnable {
  /** For logs. */
  readonly name: string;
  /**
   * Runs only while this replica holds the leader Lease (it writes: reconciles, scaling), and is
   * stopped when the Lease is lost; false: runs on every replica, leader or not.
   */
  readonly needsLeader: boolean;
  /**
   * Starts and runs until `signal` aborts, then stops; the promise settles once it has stopped.
   * A rejection is fatal: the manager stops everything.
   */
  start(signal: AbortSignal): Promise<void>;
  /**
   * Resolves once what was added after it may rely on it (a cache: its first list is done). The
   * manager starts the next runnable of its group only then. Default: at once.
   */
  ready?(): Promise<void>;
}

/** Resolves when `signal` aborts (at once if it has). */
export function untilAborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

/** A promise with its resolve and reject (Promise.withResolvers, which the TypeScript lib here lacks). */
export function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (error: unknown) => void } {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A part with the usual start()/stop() pair. */
export interface StartStop {
  /** Starts it; a returned promise that rejects fails the runnable. */
  start(): unknown;
  stop(): Promise<unknown>;
}

/**
 * `part` as a Runnable: start() when the manager starts it, stop() when its signal aborts (or
 * start() failed). `ready`: 'started' (ready once start()'s promise resolved, e.g. the
 * controller after its caches synced), a function (e.g. an informer's waitForSync), or none.
 */
export function startStop(
  name: string,
  needsLeader: boolean,
  part: StartStop,
  ready?: 'started' | (() => Promise<void>),
): Runnable {
  let started: Promise<unknown> | undefined;
  const runnable: Runnable = {
    name,
    needsLeader,
    async start(signal) {
      started = Promise.resolve(part.start());
      try {
        await Promise.all([started, untilAborted(signal)]);
      } finally {
        await part.stop();
      }
    },
  };
  if (ready === 'started') runnable.ready = async () => void (await started);
  else if (ready) runnable.ready = ready;
  return runnable;
}
