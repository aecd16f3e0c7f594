// The code bundles of BatchAPIs and TaskAPIs (cortex deploy points them at the same bundle as the
// project's RealtimeAPIs): each job API becomes an owner of the bundle ConfigMaps its spec refers
// to, as a RealtimeAPI does (bundle-gc.ts), so that deleting a RealtimeAPI that shared the bundle
// does not let Kubernetes' garbage collector delete it from under the job API, and deleting the
// job API deletes the bundles only it used. A bundle the job API moved away from is given up once
// no unfinished Job of it mounts it (a job's retried or later-indexed pods still unpack it). The
// cache here is also what the bundle collector's release and sweep read: a bundle a job API refers
// to is never taken as unreferenced.
import type { V1Job } from '@kubernetes/client-node';
import { BATCH_KIND, TASK_KIND, type BundleSpec } from '../api/v1alpha1/index.ts';
import { Informer, listerWatcher, objectKey } from '../controller/informer.ts';
import type { ReconcileResult } from '../controller/queue.ts';
import { SyncedWorkers } from '../controller/synced-workers.ts';
import type { KubeClient, KubeObject } from '../kube/client.ts';
import { JOBS } from '../kube/resources.ts';
import { BATCH_APIS, TASK_APIS } from '../job-resources.ts';
import { errorMessage } from '../util/errors.ts';
import type { Logger } from '../util/log.ts';
import { JOB_API_LABEL } from './batch-job.ts';
import type { BundleCollector } from './bundle-gc.ts';
import { mountedConfigMaps } from './bundle.ts';
import { ruleOn, type PolicyRule } from './types.ts';

export const jobApiBundleRbac: PolicyRule[] = [
  { apiGroups: [BATCH_APIS.group], resources: [BATCH_APIS.plural, TASK_APIS.plural], verbs: ['get', 'list', 'watch'] },
  // which unfinished Jobs of an API still mount a bundle it moved away from
  ruleOn(JOBS, ['list']),
];

type JobApi = KubeObject & {
  metadata: { name: string; namespace: string; uid: string; deletionTimestamp?: string };
  spec?: { predictor?: { bundle?: BundleSpec } };
};

/** Looked at again this often: a bundle held by a running job is given up after the job ends. */
const RESYNC_MS = 5 * 60_000;
/** How soon a job API whose bundle is missing is looked at again. */
const MISSING_RETRY_MS = 15_000;

export class JobApiBundles {
  private readonly caches: Record<typeof BATCH_KIND | typeof TASK_KIND, Informer<JobApi>>;
  private readonly loop: SyncedWorkers;
  /** Set by the RealtimeAPI controller once its collector exists. */
  collector: BundleCollector | undefined;

  private readonly o: { client: KubeClient; log: Logger; namespace?: string };

  constructor(o: { client: KubeClient; log: Logger; namespace?: string }) {
    this.o = o;
    const cache = (kind: typeof BATCH_KIND | typeof TASK_KIND) => {
      const r = kind === BATCH_KIND ? BATCH_APIS : TASK_APIS;
      const inf = new Informer<JobApi>({
        name: r.plural,
        source: listerWatcher(o.client, r, o.namespace),
        resyncMs: RESYNC_MS,
        log: o.log,
      });
      const enqueue = (api: JobApi) => this.loop.queue.add(`${kind}/${objectKey(api)}`);
      inf.on('add', enqueue).on('update', enqueue);
      return inf;
    };
    this.caches = { [BATCH_KIND]: cache(BATCH_KIND), [TASK_KIND]: cache(TASK_KIND) };
    this.loop = new SyncedWorkers(
      Object.values(this.caches),
      {
        workers: 1,
        reconcile: (key, signal) => this.reconcile(key, signal),
        onError: (key, error, retryInMs) =>
          this.o.log.warn('job API bundle reconcile failed', { api: key, error: errorMessage(error), retryInMs }),
      },
      'stopping',
    );
  }

  /** Every cached job API; undefined until both caches have their first list. */
  list(): KubeObject[] | undefined {
    const all = Object.values(this.caches);
    return all.every((c) => c.synced) ? all.flatMap((c) => c.list()) : undefined;
  }

  /** Starts the caches and, once they are synced, the worker; returns at once (the CRDs may come later). */
  start(): void {
    this.loop.start();
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }

  private async reconcile(key: string, signal: AbortSignal): Promise<ReconcileResult | void> {
    const collector = this.collector;
    if (!collector) return;
    const [kind, ...rest] = key.split('/');
    const api = this.caches[kind as typeof BATCH_KIND]?.get(rest.join('/'));
    // deleted: Kubernetes' garbage collector removes it from its bundles' owners
    if (!api || api.metadata.deletionTimestamp) return;
    const { name, namespace, uid } = api.metadata;
    const bundle = api.spec?.predictor?.bundle;
    const user = { name, namespace, uid, bundle, kind };
    const missing = await collector.adopt(user, signal);
    // uploaded after the apply (kubectl, GitOps): looked at again soon, not only at the resync
    if (missing) {
      this.o.log.warn('a job API refers to missing bundle ConfigMaps', { api: key, message: missing });
      return { requeueAfterMs: MISSING_RETRY_MS };
    }
    const jobs = await this.o.client.list<V1Job & KubeObject>(
      JOBS,
      namespace,
      { labelSelector: `${JOB_API_LABEL}=${name}` },
      undefined,
      { signal },
    );
    const inUse = new Set(bundle?.configMaps ?? []);
    for (const job of jobs.items) {
      const ended = (job.status?.conditions ?? []).some(
        (c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True',
      );
      if (!ended) for (const n of mountedConfigMaps(job.spec?.template?.spec)) inUse.add(n);
    }
    await collector.releaseUnused(user, inUse, signal);
  }
}
