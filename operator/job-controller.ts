// The loop the BatchJob and TaskJob controllers share: a cache of their resource, a work queue fed
// by its adds and updates, and workers that call the controller's reconcile (which asks to be
// called again while a job runs).
import { Informer, listerWatcher, objectKey } from './controller/informer.ts';
import type { ReconcileResult } from './controller/queue.ts';
import { SyncedWorkers } from './controller/synced-workers.ts';
import type { KubeClient, KubeObject, ResourceType } from './kube/client.ts';
import type { JobObject } from './job-resources.ts';
import { JOB_DONE_WORDS } from './api/v1alpha1/index.ts';
import type { NodePoolSource } from './node-pools-source.ts';
import type { OperatorConfig } from './reconcilers/types.ts';
import { errorMessage } from './util/errors.ts';
import type { Logger } from './util/log.ts';

export interface JobControllerBase {
  client: KubeClient;
  log: Logger;
  /** Only this namespace (default: all). */
  namespace?: string;
  /** What shapes the jobs' pods (the RealtimeAPI controller's too), and the node pools they go to. */
  config: OperatorConfig;
  nodePools: Pick<NodePoolSource, 'current'>;
}

export abstract class JobController<S> {
  readonly jobs: Informer<JobObject<S>>;
  private readonly loop: SyncedWorkers;

  protected constructor(base: JobControllerBase, resource: ResourceType, parallel: number) {
    this.jobs = new Informer<JobObject<S>>({
      name: resource.plural,
      source: listerWatcher(base.client, resource, base.namespace),
      resyncMs: 600_000,
      log: base.log,
    });
    this.loop = new SyncedWorkers(
      [this.jobs],
      {
        workers: parallel,
        reconcile: (key) => this.reconcile(key),
        onError: (key, error, retryInMs) =>
          base.log.warn('job reconcile failed', { job: key, error: errorMessage(error), retryInMs }),
      },
      'the controller is stopping',
    );
    const enqueue = (o: KubeObject) => this.loop.queue.add(objectKey(o));
    this.jobs.on('add', enqueue).on('update', enqueue);
  }

  abstract reconcile(key: string): Promise<ReconcileResult | void>;

  /** The job at `key`, unless it is gone, being deleted (its Job goes with it) or ended. */
  protected activeJob(key: string): JobObject<S> | undefined {
    const job = this.jobs.get(key);
    if (!job || job.metadata.deletionTimestamp) return undefined;
    if (job.status?.status !== undefined && JOB_DONE_WORDS.includes(job.status.status)) return undefined;
    return job;
  }

  /** Starts the cache and its workers; returns at once (a cluster may lack the CRD until it is applied). */
  start(): void {
    this.loop.start();
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }
}
