// The TrafficSplitter controller: each splitter becomes one HTTPRoute on the admin's Gateway with
// weighted backends and a RequestMirror for the shadow (operator/routes/splitter-route.ts). A
// splitter whose APIs do not exist, whose endpoint an API or an older splitter serves, or a
// cluster whose routes are not Gateway API routes (an Ingress has no weights) gets status error
// with the fix, and no route. Splitters not serving yet are looked at again after 30 s (their
// APIs may come later; nothing watches the Gateway).

import {
  GROUP,
  SPLITTER_KIND,
  SPLITTER_PLURAL,
  VERSION,
  applySplitterDefaults,
  validateSplitter,
  type TrafficSplitterSpec,
  type TrafficSplitterStatus,
} from './api/v1alpha1/index.ts';
import { Informer, listerWatcher, objectKey } from './controller/informer.ts';
import type { ReconcileResult } from './controller/queue.ts';
import { SyncedWorkers } from './controller/synced-workers.ts';
import { isNotFound, type KubeClient, type KubeObject, type ResourceType } from './kube/client.ts';
import { FIELD_MANAGER } from './reconcilers/apply.ts';
import { isOwnedBy, canonicalJson, type PolicyRule } from './reconcilers/types.ts';
import { GATEWAYS, HTTP_ROUTES, type RouteConfig } from './routes/desired.ts';
import { ROUTE_RECHECK_MS, endpointOfObject, routedCondition, type RouteOutcome } from './routes/reconcile.ts';
import { desiredSplitterRoute, weightsText } from './routes/splitter-route.ts';
import { gatewayUrl, routeAcceptance } from './routes/url.ts';
import { STATUS_FIELD_MANAGER } from './realtimeapi-controller.ts';
import type { Logger } from './util/log.ts';
import { errorMessage } from './util/errors.ts';
import type { RealtimeApi } from './api/v1alpha1/index.ts';

export const TRAFFIC_SPLITTERS: ResourceType = {
  group: GROUP,
  version: VERSION,
  kind: SPLITTER_KIND,
  plural: SPLITTER_PLURAL,
};

export const splitterRbac: PolicyRule[] = [
  { apiGroups: [GROUP], resources: [SPLITTER_PLURAL], verbs: ['get', 'list', 'watch'] },
  { apiGroups: [GROUP], resources: [`${SPLITTER_PLURAL}/status`], verbs: ['get', 'patch', 'update'] },
  { apiGroups: [GROUP], resources: [`${SPLITTER_PLURAL}/finalizers`], verbs: ['update'] },
];

type SplitterObject = KubeObject & {
  metadata: { name: string; namespace: string; uid: string; generation?: number; creationTimestamp?: string };
  spec: Partial<TrafficSplitterSpec>;
  status?: TrafficSplitterStatus;
};
type ApiObject = RealtimeApi & KubeObject;

export interface SplitterControllerOptions {
  client: KubeClient;
  log: Logger;
  namespace?: string;
  routes: RouteConfig | undefined;
  /** The RealtimeAPI controller's cache: which APIs exist, which endpoints they hold. */
  apis: Pick<Informer<ApiObject>, 'list'>;
}

export class TrafficSplitterController {
  readonly splitters: Informer<SplitterObject>;
  private readonly options: SplitterControllerOptions;
  private readonly loop: SyncedWorkers;

  constructor(options: SplitterControllerOptions) {
    this.options = options;
    this.splitters = new Informer<SplitterObject>({
      name: SPLITTER_PLURAL,
      source: listerWatcher(options.client, TRAFFIC_SPLITTERS, options.namespace),
      resyncMs: 600_000,
      log: options.log,
    });
    this.loop = new SyncedWorkers(
      [this.splitters],
      {
        workers: 1,
        reconcile: (key, signal) => this.reconcile(key, signal),
        onError: (key, error, retryInMs) =>
          this.options.log.warn('traffic splitter reconcile failed', {
            splitter: key,
            error: errorMessage(error),
            retryInMs,
          }),
      },
      'the controller is stopping',
    );
    const enqueue = (o: KubeObject) => this.loop.queue.add(objectKey(o));
    this.splitters.on('add', enqueue).on('update', enqueue).on('delete', enqueue);
  }

  /**
   * Starts the cache and, once it synced, the workers. Returns at once: a cluster upgraded with
   * `helm upgrade` lacks the TrafficSplitter CRD (Helm installs crds/ only on install), and
   * RealtimeAPIs must not wait for it; the cache retries until the CRD is applied.
   */
  start(): void {
    this.loop.start();
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }

  /** Why the splitter cannot have its route, or undefined. */
  private problem(s: SplitterObject, spec: TrafficSplitterSpec): string | undefined {
    const issues = validateSplitter(spec);
    if (issues.length > 0) return issues.map((i) => `${i.path.join('.')}: ${i.message} (${i.fix})`).join('; ');
    const routes = this.options.routes;
    if (routes?.kind !== 'gateway')
      return (
        'a TrafficSplitter is an HTTPRoute with weighted backends, and this cluster writes ' +
        `${routes ? 'Ingresses, which have no weights' : 'no routes'}: set routes.kind: gateway in the chart values`
      );
    const all = this.options.apis.list();
    const here = all.filter((a) => a.metadata.namespace === s.metadata.namespace && !a.metadata.deletionTimestamp);
    const missing = spec.apis.filter((a) => !here.some((h) => h.metadata.name === a.name)).map((a) => a.name);
    if (missing.length > 0)
      return (
        `apis: no RealtimeAPI ${missing.join(', ')} in namespace ${s.metadata.namespace}: ` +
        'deploy it first (cortex deploy), or remove it from the splitter'
      );
    const endpoint = spec.networking.endpoint;
    const api = all.find((a) => endpointOfObject(a) === endpoint);
    if (api)
      return (
        `networking.endpoint ${endpoint} is already served by RealtimeAPI ${objectKey(api)}: ` +
        'give the splitter another endpoint'
      );
    const key = (o: SplitterObject) => `${o.metadata.creationTimestamp ?? ''} ${objectKey(o)}`;
    const older = this.splitters
      .list()
      .find(
        (o) =>
          o.metadata.uid !== s.metadata.uid &&
          applySplitterDefaults(o.metadata.name, o.spec).networking.endpoint === endpoint &&
          key(o) < key(s),
      );
    if (older)
      return (
        `networking.endpoint ${endpoint} is already served by TrafficSplitter ${objectKey(older)}: ` +
        'give this one another'
      );
    return undefined;
  }

  async reconcile(key: string, signal?: AbortSignal): Promise<ReconcileResult | void> {
    const s = this.splitters.get(key);
    if (!s || s.metadata.deletionTimestamp) return; // its route goes with it (owner reference)
    const spec = applySplitterDefaults(s.metadata.name, s.spec);
    const generation = s.metadata.generation ?? 0;
    const problem = this.problem(s, spec);
    let outcome: RouteOutcome;
    if (problem) {
      outcome = { status: 'False', reason: 'InvalidSplitter', message: problem };
    } else {
      const config = this.options.routes as Extract<RouteConfig, { kind: 'gateway' }>;
      const desired = desiredSplitterRoute({ ...s.metadata, spec }, config);
      const existing = await this.getOrUndefined(HTTP_ROUTES, s.metadata.namespace, s.metadata.name, signal);
      if (existing && !isOwnedBy(existing, s.metadata.uid)) {
        outcome = {
          status: 'False',
          reason: 'RouteTaken',
          message: `HTTPRoute ${key} exists and is not this splitter's (an API of the same name?): rename the splitter`,
        };
      } else {
        const route = await this.options.client.apply(HTTP_ROUTES, desired, {
          fieldManager: FIELD_MANAGER,
          force: true,
          signal,
        });
        const gateway = await this.getOrUndefined(GATEWAYS, config.gateway.namespace, config.gateway.name, signal);
        outcome = gateway
          ? {
              ...routeAcceptance(route, config.gateway, `HTTPRoute ${key}`),
              url: gatewayUrl(gateway, config, spec.networking.endpoint),
            }
          : {
              status: 'False',
              reason: 'GatewayNotFound',
              message: `Gateway ${objectKey(gatewayRefObject(config))} does not exist: create it (docs/routes.md)`,
            };
      }
    }
    const status: TrafficSplitterStatus = {
      observedGeneration: generation,
      status: outcome.status === 'True' ? 'live' : problem || outcome.status === 'False' ? 'error' : 'updating',
      weights: weightsText(spec),
      ...(outcome.status !== 'True' ? { message: outcome.message } : {}),
      ...(outcome.url ? { url: outcome.url } : {}),
      conditions: [routedCondition(outcome, generation, s.status?.conditions)],
    };
    if (canonicalJson(status) !== canonicalJson(s.status ?? {})) {
      try {
        await this.options.client.apply(
          TRAFFIC_SPLITTERS,
          {
            apiVersion: `${GROUP}/${VERSION}`,
            kind: SPLITTER_KIND,
            metadata: { name: s.metadata.name, namespace: s.metadata.namespace },
            status,
          },
          { fieldManager: STATUS_FIELD_MANAGER, force: true, subresource: 'status', signal },
        );
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
    }
    return outcome.status === 'True' ? undefined : { requeueAfterMs: ROUTE_RECHECK_MS };
  }

  private async getOrUndefined(r: ResourceType, namespace: string, name: string, signal?: AbortSignal) {
    try {
      return await this.options.client.get(r, namespace, name, { signal });
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }
}

/** The Gateway reference as an object key's input. */
function gatewayRefObject(config: Extract<RouteConfig, { kind: 'gateway' }>): KubeObject {
  return { metadata: { name: config.gateway.name, namespace: config.gateway.namespace } };
}
