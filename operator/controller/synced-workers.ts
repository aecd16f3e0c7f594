// The start and stop of a controller whose caches may wait for their CRD: the TrafficSplitter,
// BatchJob and TaskJob controllers and the job APIs' bundle owner. A cluster upgraded with
// `helm upgrade` can lack a CRD (Helm installs crds/ only on install), and the rest of the
// operator must not wait for it: start() returns at once, each cache retries its list until the
// CRD is applied, and the workers start once every cache has its first list.
import { WorkQueue, runWorkers, type WorkerOptions } from './queue.ts';

/** What the workers wait for: an Informer. */
export interface SyncingCache {
  start(): void;
  /** Resolves once the first list has completed, or at once when stopped. */
  waitForSync(): Promise<void>;
  stop(): Promise<void>;
}

export class SyncedWorkers {
  /** The keys the workers reconcile: the controller's cache events add to it. */
  readonly queue = new WorkQueue();
  private readonly stopping = new AbortController();
  private workers: Promise<void> | undefined;
  private readonly caches: SyncingCache[];
  private readonly options: Omit<WorkerOptions, 'signal'>;
  private readonly stopReason: string;

  /** `stopReason`: the error the reconciles in flight are aborted with on stop(). */
  constructor(caches: SyncingCache[], options: Omit<WorkerOptions, 'signal'>, stopReason: string) {
    this.caches = caches;
    this.options = options;
    this.stopReason = stopReason;
  }

  /** Starts the caches and, once they are synced, the workers; returns at once. */
  start(): void {
    for (const c of this.caches) c.start();
    this.workers = Promise.all(this.caches.map((c) => c.waitForSync())).then(() => {
      if (this.stopping.signal.aborted) return;
      return runWorkers(this.queue, { ...this.options, signal: this.stopping.signal });
    });
  }

  /** Stops the workers (aborting the reconciles in flight, waiting for them) and the caches. */
  async stop(): Promise<void> {
    this.queue.shutDown();
    this.stopping.abort(new Error(this.stopReason));
    // the caches first: a cache that never synced (no CRD) holds the workers' start until it stops
    await Promise.all(this.caches.map((c) => c.stop()));
    await this.workers;
  }
}
