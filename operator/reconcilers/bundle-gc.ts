// Garbage collection of code bundles, the part that talks to the API server (the decisions are
// in bundle.ts): a metadata-only cache of bundle ConfigMaps, owner references added to the
// ConfigMaps an API refers to, bundles an API no longer uses released, and a periodic sweep of
// orphans. Every write carries the resourceVersion it was computed from, so a concurrent change
// (another API adding itself as an owner, kubectl) makes it fail with 409 instead of being lost.

import { CONFIG_MAPS } from '../kube/resources.ts';
import { HttpMethod, type V1Deployment, type V1Pod } from '@kubernetes/client-node';
import { Informer, objectKey, type InformerOptions, type ListerWatcher } from '../controller/informer.ts';
import { errorMessage } from '../util/errors.ts';
import { KIND } from '../api/v1alpha1/index.ts';
import {
  isConflict,
  isNotFound,
  resourcePath,
  type KubeClient,
  type KubeObject,
  type OwnerReference,
} from '../kube/client.ts';
import type { Logger } from '../util/log.ts';
import { BUNDLE_LABEL } from './bundle-names.ts';
import {
  bundlesInUse,
  isBundle,
  missingMessage,
  planRelease,
  planSweep,
  unusable,
  withOwner,
  type BundleUser,
  type BundleWrite,
  type ConfigMapMeta,
} from './bundle.ts';
import { FIELD_MANAGER } from './apply.ts';

/**
 * Answers as PartialObjectMetadata(List): bundle ConfigMaps hold up to 176 KiB of data each,
 * which the operator never reads.
 */
export const METADATA_LIST = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1';
export const METADATA = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1';
/**
 * Default of --bundle-grace-period: how long a bundle no API refers to is kept (an upload whose
 * apply is still to come).
 */
export const DEFAULT_BUNDLE_GRACE_MS = 60 * 60_000;
/** Tries of an owner-reference write that keeps meeting concurrent changes. */
const WRITE_TRIES = 5;

/** What the collector reads from the controller's caches. */
export interface BundleSources {
  /** Every cached RealtimeAPI (raw, as the API server has it). */
  apis(): KubeObject[];
  /** Every cached pod of an API. */
  pods(): V1Pod[];
  /** Every cached Deployment of an API. */
  deployments(): V1Deployment[];
  /**
   * Every cached BatchAPI and TaskAPI (their specs refer to bundles too: job-api-bundles.ts);
   * undefined while that cache is not synced, when no bundle may be taken as unreferenced.
   */
  jobApis?(): KubeObject[] | undefined;
}

export interface BundleCollectorOptions {
  client: KubeClient;
  log: Logger;
  namespace?: string;
  sources: BundleSources;
  /** Reconcile this API ("namespace/name") again: a ConfigMap it uses changed. */
  enqueue(key: string): void;
  gracePeriodMs?: number;
  informer?: Pick<InformerOptions<KubeObject>, 'idleTimeoutMs' | 'watchTimeoutSeconds' | 'backoff'>;
  onWatchRestart?: InformerOptions<KubeObject>['onWatchRestart'];
  /** A write was sent (metrics). */
  wrote?(verb: 'patch' | 'delete'): void;
}

function metadataListerWatcher(client: KubeClient, namespace: string | undefined): ListerWatcher<ConfigMapMeta> {
  const selectors = { labelSelector: BUNDLE_LABEL };
  return {
    // an empty PartialObjectMetadataList comes with "items": null
    list: async (options, signal) => {
      const page = await client.list<ConfigMapMeta>(
        CONFIG_MAPS,
        namespace,
        { ...selectors, ...options },
        METADATA_LIST,
        { signal },
      );
      return { ...page, items: page.items ?? [] };
    },
    watch: (options, onEvent, signal) =>
      client.watch<ConfigMapMeta>(CONFIG_MAPS, namespace, { ...selectors, ...options }, onEvent, METADATA, signal),
  };
}

/** The bundle ConfigMap names a raw RealtimeAPI's (or BatchAPI's, TaskAPI's: same predictor) spec refers to. */
function referencedNames(api: KubeObject): string[] {
  const bundle = (api.spec as { predictor?: { bundle?: { configMaps?: unknown } } } | undefined)?.predictor?.bundle;
  return Array.isArray(bundle?.configMaps) ? bundle.configMaps.filter((n): n is string => typeof n === 'string') : [];
}

export class BundleCollector {
  readonly informer: Informer<ConfigMapMeta>;
  readonly gracePeriodMs: number;
  private readonly options: BundleCollectorOptions;
  private readonly orphanSince = new Map<string, number>();
  private sweepTimer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;
  /** Aborts a sweep's requests on stopSweeping(). */
  private readonly sweepStop = new AbortController();

  constructor(options: BundleCollectorOptions) {
    this.options = options;
    this.gracePeriodMs = options.gracePeriodMs ?? DEFAULT_BUNDLE_GRACE_MS;
    this.informer = new Informer<ConfigMapMeta>({
      name: 'bundle configmaps',
      source: metadataListerWatcher(options.client, options.namespace),
      resyncMs: 0,
      log: options.log,
      onWatchRestart: options.onWatchRestart,
      ...options.informer,
    });
    const changed = (cm: ConfigMapMeta) => this.enqueueUsers(cm);
    this.informer.on('add', changed).on('update', changed).on('delete', changed);
  }

  /**
   * The APIs that own a ConfigMap or refer to it: a deleted bundle turns their status to
   * "missing", a new one clears it.
   */
  private enqueueUsers(cm: ConfigMapMeta): void {
    const ns = cm.metadata.namespace;
    if (!ns) return;
    // only RealtimeAPIs are reconciled here (a job API's owner reference names its own kind)
    for (const r of cm.metadata.ownerReferences ?? []) if (r.kind === KIND) this.options.enqueue(`${ns}/${r.name}`);
    for (const api of this.options.sources.apis()) {
      if (api.metadata?.namespace === ns && referencedNames(api).includes(cm.metadata.name!))
        this.options.enqueue(objectKey(api));
    }
  }

  /** Starts the periodic orphan sweep (after the caches are synced). */
  startSweeping(): void {
    const every = Math.min(Math.max(this.gracePeriodMs / 2, 1000), 5 * 60_000);
    this.sweepTimer = setInterval(() => {
      this.sweeping ??= this.sweep()
        .catch((error: unknown) => {
          if (!this.sweepStop.signal.aborted)
            this.options.log.warn('bundle sweep failed', { error: errorMessage(error) });
        })
        .finally(() => (this.sweeping = undefined));
    }, every);
    this.sweepTimer.unref();
  }

  async stopSweeping(): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepStop.abort();
    await this.sweeping;
  }

  /**
   * Makes the API an owner of every bundle ConfigMap its spec refers to. Returns the status
   * message when some of them do not exist (then the replicas must not be rolled out to it).
   */
  async adopt(api: BundleUser, signal?: AbortSignal): Promise<string | undefined> {
    if (!api.bundle) return undefined;
    const missing: string[] = [];
    for (const name of api.bundle.configMaps) {
      let cm = this.informer.get(`${api.namespace}/${name}`);
      // not cached: not a bundle, or created a moment ago and not seen yet by the watch
      cm ??= await this.getMeta(api.namespace, name, signal);
      if (unusable(cm)) {
        missing.push(name);
        continue;
      }
      if (!isBundle(cm!)) continue; // the user's own ConfigMap: mounted, never owned or deleted
      await this.writeOwners(api.namespace, cm!, (current) => withOwner(current, api), signal);
    }
    return missing.length > 0 ? missingMessage(api.namespace, api.bundle, missing) : undefined;
  }

  /** Gives up the bundles the API owns but no longer uses (see bundlesInUse). */
  async release(
    api: BundleUser,
    deployment: V1Deployment | undefined,
    pods: V1Pod[],
    signal?: AbortSignal,
  ): Promise<void> {
    await this.releaseUnused(api, bundlesInUse(api.bundle, deployment, pods), signal);
  }

  /** Gives up the bundles the API (a RealtimeAPI, BatchAPI or TaskAPI) owns that are not in `inUse`. */
  async releaseUnused(api: BundleUser, inUse: Set<string>, signal?: AbortSignal): Promise<void> {
    const owned = this.informer
      .list()
      .filter(
        (cm) =>
          cm.metadata.namespace === api.namespace && (cm.metadata.ownerReferences ?? []).some((r) => r.uid === api.uid),
      );
    if (owned.length === 0) return;
    const jobApis = this.options.sources.jobApis?.();
    if (jobApis === undefined && this.options.sources.jobApis) return; // a job API may still refer to them: later
    const others = new Set(
      [...this.options.sources.apis(), ...(jobApis ?? [])]
        .filter((a) => a.metadata?.namespace === api.namespace && a.metadata?.uid !== api.uid)
        .flatMap(referencedNames),
    );
    for (const write of planRelease(api, owned, inUse, (name) => others.has(name))) {
      try {
        await this.send(api.namespace, write, signal);
      } catch (error) {
        // the cache was behind (our own last write) or someone changed it: its watch event brings the API back
        if (isConflict(error) || isNotFound(error)) continue;
        throw error;
      }
      this.options.log.info(write.op === 'delete' ? 'deleted unused bundle' : 'released bundle', {
        api: `${api.namespace}/${api.name}`,
        configMap: write.name,
      });
    }
  }

  /** Deletes bundle ConfigMaps that nothing has owned, referred to or mounted for the grace period. */
  async sweep(now = Date.now()): Promise<void> {
    const jobApis = this.options.sources.jobApis?.();
    if (jobApis === undefined && this.options.sources.jobApis) {
      this.options.log.info('bundle sweep skipped: the BatchAPIs and TaskAPIs are not listed yet');
      return;
    }
    const used = new Set<string>();
    for (const api of [...this.options.sources.apis(), ...(jobApis ?? [])])
      for (const n of referencedNames(api)) used.add(`${api.metadata?.namespace}/${n}`);
    for (const d of this.options.sources.deployments())
      for (const n of bundlesInUse(undefined, d, [])) used.add(`${d.metadata?.namespace}/${n}`);
    for (const p of this.options.sources.pods())
      for (const n of bundlesInUse(undefined, undefined, [p])) used.add(`${p.metadata?.namespace}/${n}`);
    const deletes = planSweep(
      this.informer.list(),
      (ns, name) => used.has(`${ns}/${name}`),
      this.orphanSince,
      now,
      this.gracePeriodMs,
    );
    for (const d of deletes) {
      try {
        await this.send(d.namespace, d, this.sweepStop.signal);
        this.options.log.info('deleted orphaned bundle', {
          configMap: `${d.namespace}/${d.name}`,
          graceSeconds: this.gracePeriodMs / 1000,
        });
      } catch (error) {
        if (!isConflict(error) && !isNotFound(error)) throw error; // changed or gone meanwhile: next sweep
      }
    }
  }

  private async getMeta(namespace: string, name: string, signal?: AbortSignal): Promise<ConfigMapMeta | undefined> {
    try {
      return await this.options.client.request<ConfigMapMeta>(
        HttpMethod.GET,
        resourcePath(CONFIG_MAPS, namespace, name),
        { accept: METADATA, signal },
      );
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /** Sets the owners `change` computes (undefined: nothing to do), reading the ConfigMap again after a conflict. */
  private async writeOwners(
    namespace: string,
    cm: ConfigMapMeta,
    change: (cm: ConfigMapMeta) => OwnerReference[] | undefined,
    signal?: AbortSignal,
  ): Promise<void> {
    let current: ConfigMapMeta | undefined = cm;
    for (let attempt = 1; ; attempt++) {
      const owners = change(current);
      if (owners === undefined) return;
      try {
        await this.send(
          namespace,
          {
            op: 'set-owners',
            name: current.metadata.name!,
            resourceVersion: current.metadata.resourceVersion!,
            ownerReferences: owners,
          },
          signal,
        );
        return;
      } catch (error) {
        if (!isConflict(error) || attempt >= WRITE_TRIES) throw error;
        current = await this.getMeta(namespace, cm.metadata.name!, signal);
        if (current === undefined) return; // deleted meanwhile: the next reconcile reports it missing
      }
    }
  }

  /** One guarded write: a merge patch of ownerReferences, or a delete, both preconditioned on the resourceVersion. */
  private async send(namespace: string, write: BundleWrite, signal?: AbortSignal): Promise<void> {
    const { client } = this.options;
    const path = resourcePath(CONFIG_MAPS, namespace, write.name);
    this.options.wrote?.(write.op === 'delete' ? 'delete' : 'patch');
    if (write.op === 'delete') {
      await client.request(HttpMethod.DELETE, path, {
        body: {
          kind: 'DeleteOptions',
          apiVersion: 'v1',
          preconditions: { uid: write.uid, resourceVersion: write.resourceVersion },
        },
        accept: METADATA,
        signal,
      });
      return;
    }
    // a merge patch replaces the whole list; metadata.resourceVersion makes it fail (409) if the
    // list changed since it was read
    await client.request(HttpMethod.PATCH, path, {
      query: { fieldManager: FIELD_MANAGER },
      body: { metadata: { resourceVersion: write.resourceVersion, ownerReferences: write.ownerReferences } },
      contentType: 'application/merge-patch+json',
      accept: METADATA,
      signal,
    });
  }
}
