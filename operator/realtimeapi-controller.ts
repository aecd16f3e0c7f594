// The RealtimeAPI controller: informers on RealtimeAPIs, their children and pods feed one keyed
// work queue (handlers only enqueue "namespace/name"); workers reconcile a key at a time:
// default and validate the spec, pick a node pool, apply the Service, Deployment and HPA,
// derive the status from what was observed and write it when it changed.
// Its parts live beside it: realtimeapi-children.ts (what is applied), realtimeapi-spec-check.ts,
// realtimeapi-keys.ts (which API an event is about), realtimeapi-status-write.ts.

import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import {
  GROUP,
  PLURAL,
  applyDefaults,
  ASYNC_NEEDS_QUEUE,
  type RealtimeApi,
  gpusPerReplica,
} from './api/v1alpha1/index.ts';
import { Informer, listerWatcher, objectKey, type InformerOptions } from './controller/informer.ts';
import { errorMessage } from './util/errors.ts';
import { WorkQueue, runWorkers, type ReconcileResult } from './controller/queue.ts';
import type { KubeClient, KubeObject } from './kube/client.ts';
import { ENDPOINT_SLICES, PODS, REALTIME_APIS } from './kube/resources.ts';
import type { Logger } from './util/log.ts';
import type { NodePoolSource } from './node-pools-source.ts';
import { selectPool } from './node-pools.ts';
import { NotOwnedError, applyChild, type ApplyHooks } from './reconcilers/apply.ts';
import type { EventRecorder } from './events.ts';
import type { OperatorMetrics } from './metrics.ts';
import { deploymentReconciler } from './reconcilers/deployment.ts';
import {
  API_LABEL,
  type ApiInstance,
  type ChildReconciler,
  type OperatorConfig,
  type PolicyRule,
} from './reconcilers/types.ts';
import { BundleCollector } from './reconcilers/bundle-gc.ts';
import { deriveStatus, statusChanged, type Observed } from './status.ts';
import { ScaleToZero, type ScaleToZeroOptions } from './scale-to-zero/index.ts';
import { HTTP_ROUTES, INGRESSES, type RouteConfig } from './routes/desired.ts';
import { ROUTE_RECHECK_MS, RouteReconciler, withRoute, type RouteOutcome } from './routes/reconcile.ts';
import { CHILDREN, type Holds } from './realtimeapi-children.ts';
import { labelledApiKey, ownerApiKey } from './realtimeapi-keys.ts';
import { invalidSpecReason } from './realtimeapi-spec-check.ts';
import { statusEvent, writeStatus } from './realtimeapi-status-write.ts';

// still importable from here, where rbac.ts, job-resources.ts and trafficsplitter-controller.ts find them
export { CHILDREN, type Child, type Holds } from './realtimeapi-children.ts';
export { STATUS_FIELD_MANAGER } from './realtimeapi-status-write.ts';

export const realtimeApiRbac: PolicyRule[] = [
  { apiGroups: [GROUP], resources: [PLURAL], verbs: ['get', 'list', 'watch'] },
  { apiGroups: [GROUP], resources: [`${PLURAL}/status`], verbs: ['get', 'patch', 'update'] },
  // ownerReferences with blockOwnerDeletion need this where OwnerReferencesPermissionEnforcement is on
  { apiGroups: [GROUP], resources: [`${PLURAL}/finalizers`], verbs: ['update'] },
];

export interface ControllerOptions {
  client: KubeClient;
  config: OperatorConfig;
  nodePools: NodePoolSource;
  log: Logger;
  /** Watch one namespace; default: all. */
  namespace?: string;
  workers?: number;
  /** Periodic resync of every API. Default 10 min. */
  resyncMs?: number;
  /** Passed to every informer (tests shorten timeouts). */
  informer?: Pick<InformerOptions<KubeObject>, 'idleTimeoutMs' | 'watchTimeoutSeconds' | 'backoff'>;
  /** Backoff of failed reconciles. */
  queueBackoff?: { baseMs?: number; maxMs?: number; jitter?: number };
  /** The operator's metrics (reconciles, queue depth, watch restarts, writes). */
  metrics?: OperatorMetrics;
  /** Kubernetes Events on the APIs; none when absent. */
  events?: EventRecorder;
  /** How long a bundle ConfigMap no API refers to is kept. Default 1 h. */
  bundleGracePeriodMs?: number;
  /** The BatchAPIs and TaskAPIs (their bundles are kept too: reconcilers/job-api-bundles.ts); undefined: not synced. */
  jobApis?: () => KubeObject[] | undefined;
  /** The queue AsyncAPIs' replicas work (--queue-url); undefined: AsyncAPIs get status error, QueueMissing. */
  queueUrl?: string;
  /** minReplicas 0: the activator's address, the metrics adapter's activity (operator/scale-to-zero). */
  scaleToZero?: ScaleToZeroOptions;
  /** Each API's endpoint as an HTTPRoute or Ingress (operator/routes); undefined: none. */
  routes?: RouteConfig;
}

type ApiObject = RealtimeApi & KubeObject;

export class RealtimeApiController {
  readonly queue: WorkQueue;
  readonly apis: Informer<ApiObject>;
  /** The cache of each child kind (CHILDREN's), by kind. */
  readonly children = new Map<string, Informer<KubeObject>>();
  /** The Deployments' cache (the bundle collector, scale to zero and the status read it). */
  private readonly deployments: Informer<KubeObject>;
  readonly pods: Informer<V1Pod & KubeObject>;
  /** Owner references on bundle ConfigMaps, release of unused ones, the orphan sweep. */
  readonly bundles: BundleCollector;
  /** The activator's EndpointSlices, and the scale-to-zero loop (a Runnable of its own: start it after this). */
  readonly scaleToZero: ScaleToZero;
  /** The APIs' HTTPRoutes or Ingresses, when the admin chose either. */
  private readonly routes: RouteReconciler | undefined;
  private readonly options: ControllerOptions;
  private readonly log: Logger;
  private workers: Promise<void> | undefined;
  /** Aborts the reconciles in flight when the controller stops. */
  private readonly stopping = new AbortController();

  constructor(options: ControllerOptions) {
    this.options = options;
    this.log = options.log;
    this.queue = new WorkQueue({ backoff: options.queueBackoff });
    const { client, namespace } = options;
    const metrics = options.metrics;
    const restarts = (resource: string) => (reason: string) => metrics?.watchRestarts.inc({ resource, reason });
    if (metrics) metrics.queueDepthSource = () => this.queue.length;
    const common = { log: options.log, ...options.informer };
    this.apis = new Informer<ApiObject>({
      name: PLURAL,
      onWatchRestart: restarts(PLURAL),
      source: listerWatcher(client, REALTIME_APIS, namespace),
      resyncMs: options.resyncMs ?? 600_000,
      ...common,
    });
    this.apis
      .on('add', (o) => this.enqueue(o))
      .on('update', (o) => this.enqueue(o))
      .on('delete', (o) => this.enqueue(o));
    // children and pods are labelled cortex.dev/api: only those are cached
    for (const child of CHILDREN) {
      const inf = new Informer<KubeObject>({
        name: child.resource.plural,
        source: listerWatcher(client, child.resource, namespace, { labelSelector: API_LABEL }),
        resyncMs: 0,
        onWatchRestart: restarts(child.resource.plural),
        ...common,
      });
      inf
        .on('add', (o) => this.enqueueIfKey(ownerApiKey(o)))
        .on('update', (o) => this.enqueueIfKey(ownerApiKey(o)))
        .on('delete', (o) => this.enqueueIfKey(ownerApiKey(o)));
      this.children.set(child.resource.kind, inf);
    }
    this.deployments = this.cacheOf(deploymentReconciler);
    this.pods = new Informer<V1Pod & KubeObject>({
      name: 'pods',
      onWatchRestart: restarts('pods'),
      source: listerWatcher(client, PODS, namespace, { labelSelector: API_LABEL }),
      resyncMs: 0,
      ...common,
    });
    this.pods
      .on('add', (o) => this.enqueueIfKey(labelledApiKey(o)))
      .on('update', (o) => this.enqueueIfKey(labelledApiKey(o)))
      .on('delete', (o) => this.enqueueIfKey(labelledApiKey(o)));
    this.bundles = new BundleCollector({
      client,
      namespace,
      log: options.log,
      informer: options.informer,
      gracePeriodMs: options.bundleGracePeriodMs,
      onWatchRestart: restarts('configmaps'),
      enqueue: (key) => this.queue.add(key),
      wrote: (verb) => metrics?.writes.inc({ kind: 'ConfigMap', verb }),
      sources: {
        apis: () => this.apis.list(),
        pods: () => this.pods.list(),
        deployments: () => this.deployments.list() as V1Deployment[],
        ...(options.jobApis ? { jobApis: options.jobApis } : {}),
      },
    });
    this.routes = options.routes ? new RouteReconciler(client, options.routes) : undefined;
    this.scaleToZero = new ScaleToZero(
      {
        client,
        namespace,
        log: options.log,
        informer: options.informer,
        events: options.events,
        onWatchRestart: restarts('endpointslices'),
        apis: this.apis,
        deployments: this.deployments,
        enqueue: (key) => this.queue.add(key),
      },
      options.scaleToZero ?? {},
    );
  }

  private cacheOf(child: Pick<ChildReconciler<unknown>, 'resource'>): Informer<KubeObject> {
    const informer = this.children.get(child.resource.kind);
    if (!informer) throw new Error(`no cache of ${child.resource.kind}: it is not one of CHILDREN`);
    return informer;
  }

  private enqueue(obj: KubeObject): void {
    this.queue.add(objectKey(obj));
  }

  /** Queues the API a child or pod belongs to (realtimeapi-keys.ts), if any. */
  private enqueueIfKey(key: string | undefined): void {
    if (key) this.queue.add(key);
  }

  /** One API again, by namespace/name (a replica's failing model reloads changed). */
  enqueueKey(key: string): void {
    this.queue.add(key);
  }

  /** Every known API again (node pools changed, periodic resync). */
  enqueueAll(): void {
    for (const api of this.apis.list()) this.enqueue(api);
  }

  private informers(): Informer<KubeObject>[] {
    return [
      this.apis as unknown as Informer<KubeObject>,
      ...this.children.values(),
      this.pods as unknown as Informer<KubeObject>,
      this.bundles.informer as Informer<KubeObject>,
      this.scaleToZero.slices,
    ];
  }

  /** Starts the informers, waits for their first lists, then the workers. */
  async start(): Promise<void> {
    await this.options.nodePools.start(() => this.enqueueAll());
    for (const inf of this.informers()) inf.start();
    await Promise.all(this.informers().map((inf) => inf.waitForSync()));
    if (this.stopping.signal.aborted) return; // stopped before the caches synced
    this.log.info('caches synced', { apis: this.apis.list().length });
    this.workers = runWorkers(this.queue, {
      workers: this.options.workers ?? 4,
      signal: this.stopping.signal,
      reconcile: (key, signal) => this.measured(key, signal),
      onError: (key, error, retryInMs) => {
        if (this.stopping.signal.aborted) this.log.info('reconcile stopped', { api: key, error: errorMessage(error) });
        else this.log.warn('reconcile failed', { api: key, error: errorMessage(error), retryInMs });
      },
    });
    this.bundles.startSweeping();
  }

  get synced(): boolean {
    return this.informers().every((i) => i.synced);
  }

  /** Stops the workers (aborting the reconciles in flight, waiting for them), the loops and the caches. */
  async stop(): Promise<void> {
    this.queue.shutDown();
    this.stopping.abort(new Error('the controller is stopping'));
    await this.workers;
    await this.bundles.stopSweeping();
    await Promise.all(this.informers().map((i) => i.stop()));
    await this.options.nodePools.stop();
  }

  /** reconcile(key), counted and timed. */
  private async measured(key: string, signal: AbortSignal): Promise<ReconcileResult | void> {
    const m = this.options.metrics;
    const start = process.hrtime.bigint();
    const seconds = () => Number(process.hrtime.bigint() - start) / 1e9;
    try {
      const result = await this.reconcile(key, signal);
      const label = result && result.requeueAfterMs !== undefined ? 'requeue' : 'success';
      m?.reconciles.inc({ result: label });
      m?.reconcileDuration.observe({ result: label }, seconds());
      this.log.debug('reconciled', { api: key, result: label, seconds: seconds() });
      return result;
    } catch (error) {
      m?.reconciles.inc({ result: 'error' });
      m?.reconcileErrors.inc();
      m?.reconcileDuration.observe({ result: 'error' }, seconds());
      throw error;
    }
  }

  /** Makes one API's children and status match its spec; `signal` aborts its requests (it then rejects). */
  async reconcile(key: string, signal?: AbortSignal): Promise<ReconcileResult | void> {
    const api = this.apis.get(key);
    if (!api || api.metadata.deletionTimestamp) return; // deleted: garbage collection removes the children
    const { name, namespace, uid } = api.metadata;
    const generation = api.metadata.generation ?? 0;
    const { client, config } = this.options;
    const observed: Observed = { name, namespace, generation, pods: [], previous: api.status, now: new Date() };
    let failure: unknown;
    let result: ReconcileResult | void = undefined;

    const spec = applyDefaults(name, api.spec);
    const cachedDeployment = this.deployments.get(key) as V1Deployment | undefined;
    let instance: ApiInstance | undefined;
    let route: RouteOutcome | undefined;
    const invalidSpec = invalidSpecReason({ name, namespace, uid, generation, spec });
    if (invalidSpec !== undefined) {
      observed.invalidSpec = invalidSpec;
      observed.deployment = cachedDeployment;
    } else if (spec.async && !this.options.queueUrl) {
      // nothing half-made: no Deployment whose replicas would crash-loop without a queue
      observed.queueMissing = `${ASYNC_NEEDS_QUEUE.message}; fix: ${ASYNC_NEEDS_QUEUE.fix}`;
      observed.deployment = cachedDeployment;
    } else {
      instance = { name, namespace, uid, generation, spec };
      const needs = { gpu: gpusPerReplica(spec), nodeGroups: spec.compute.nodeGroups };
      const choice = selectPool(needs, this.options.nodePools.current());
      const childConfig = {
        ...config,
        ...(this.options.queueUrl ? { queueUrl: this.options.queueUrl } : {}),
        placement: choice.placement ?? { pools: [], tolerations: [] },
      };
      const hooks = (r: Pick<ChildReconciler<unknown>, 'resource'>): ApplyHooks => ({
        wrote: (verb, field) => {
          this.options.metrics?.writes.inc({ kind: r.resource.kind, verb });
          this.log.debug(`${verb} ${r.resource.kind}`, {
            api: key,
            ...(field !== undefined ? { differs: field } : {}),
          });
        },
        changed: (how) => {
          this.log.info(`${how} ${r.resource.kind}`, { api: key });
          this.options.events?.event(
            api,
            'Normal',
            how === 'created' ? 'Created' : 'Updated',
            `${how} ${r.resource.kind} ${namespace}/${name}`,
          );
        },
      });
      try {
        const bundle = spec.predictor?.bundle; // a pod API has none
        observed.bundleMissing = await this.bundles.adopt({ name, namespace, uid, bundle }, signal);
        const holds: Holds = { computeUnavailable: choice.unavailable, bundleMissing: observed.bundleMissing };
        for (const child of CHILDREN) {
          let obj = this.cacheOf(child).get(key);
          if (child.gate?.(holds) === false) observed.computeUnavailable ??= holds.computeUnavailable;
          else obj = await applyChild(client, child, instance, childConfig, obj, hooks(child), signal);
          child.observe?.(observed, obj, instance, config);
        }
        observed.scaledToZero = await this.scaleToZero.reconcile(
          instance,
          childConfig,
          observed.deployment,
          hooks({ resource: ENDPOINT_SLICES }),
          signal,
        );
        if (this.routes) {
          const kind = this.routes.config.kind === 'gateway' ? HTTP_ROUTES : INGRESSES;
          route = await this.routes.reconcile(
            instance,
            api,
            this.apis.list(),
            childConfig,
            hooks({ resource: kind }),
            signal,
          );
          // nothing watches routes and Gateways (their CRDs may be missing): look again until it serves
          if (route.status !== 'True') result = { requeueAfterMs: ROUTE_RECHECK_MS };
        }
      } catch (error) {
        // given up (the operator stops, the reconcile took too long): no status from half a reconcile
        signal?.throwIfAborted();
        observed.applyError = errorMessage(error);
        observed.deployment ??= cachedDeployment;
        if (error instanceof NotOwnedError) result = { requeueAfterMs: 60_000 };
        else failure = error;
      }
    }
    observed.pods = this.pods
      .list()
      .filter((p) => p.metadata?.namespace === namespace && p.metadata?.labels?.[API_LABEL] === name);
    // the replicas' cortex_model_reload_failing, as the metrics adapter last scraped it
    const current = new Set(observed.pods.map((p) => p.metadata?.name));
    observed.reloadFailing = (this.options.scaleToZero?.activity?.(namespace, name)?.pods ?? [])
      .filter((p) => current.has(p.name) && (p.reloadFailing ?? []).length > 0)
      .map((p) => ({ pod: p.name, models: p.reloadFailing ?? [] }));
    if (instance) {
      try {
        await this.bundles.release(
          { name, namespace, uid, bundle: instance.spec.predictor?.bundle },
          observed.deployment,
          observed.pods,
          signal,
        );
      } catch (error) {
        this.log.warn('releasing unused bundles failed', { api: key, error: errorMessage(error) });
        result ??= { requeueAfterMs: 10_000 };
      }
    }

    let status = deriveStatus(observed);
    if (route) status = withRoute(status, route, generation, api.status, observed.now);
    if (statusChanged(api.status, status)) {
      await writeStatus({ client, metrics: this.options.metrics, log: this.log }, api, status, signal);
      statusEvent(this.options.events, api, status);
    }
    if (failure) throw failure;
    return result;
  }
}
