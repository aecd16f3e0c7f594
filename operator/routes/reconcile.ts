// One API's route, reconciled: refuse an endpoint another API already serves, check that the
// Gateway (and the Gateway API itself) exists, apply the HTTPRoute or Ingress, and tell the
// status the external URL and a Routed condition with a reason and a fix.
//
// There is no informer on HTTPRoutes: the Gateway API's CRDs may be missing (then a watch fails
// for ever, and that is a status to report, not a reason to stop reconciling). The route is read
// with a GET per reconcile instead, and routes that are not serving yet are looked at again
// after ROUTE_RECHECK_MS (a Gateway created later, a controller that accepts the route).

import { HttpMethod } from '@kubernetes/client-node';
import {
  canonicalEndpoint,
  isGrpcApi,
  type Condition,
  type RealtimeApi,
  type RealtimeApiStatus,
} from '../api/v1alpha1/index.ts';
import { isNotFound, type KubeClient, type KubeObject } from '../kube/client.ts';
import { applyChild, type ApplyHooks } from '../reconcilers/apply.ts';
import { isOwnedBy, type ApiInstance, type ChildConfig, type ChildReconciler } from '../reconcilers/types.ts';
import {
  GATEWAYS,
  GATEWAY_GROUP,
  GRPC_ROUTES,
  HTTP_ROUTES,
  INGRESSES,
  desiredGrpcRoute,
  desiredHttpRoute,
  desiredIngress,
  routeRbac,
  type RouteConfig,
} from './desired.ts';
import { gatewayUrl, ingressPublished, ingressUrl, routeAcceptance } from './url.ts';

export const CONDITION_ROUTED = 'Routed';
/** How soon a route that does not serve yet is looked at again. */
export const ROUTE_RECHECK_MS = 30_000;

/** What the status gets: the Routed condition and, when known, the URL outside the cluster. */
export interface RouteOutcome {
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  url?: string;
}

type ApiObject = RealtimeApi & KubeObject;

/** An API's endpoint as its defaults make it (networking.endpoint, else /<name>). */
export function endpointOfObject(api: ApiObject): string {
  return canonicalEndpoint(api.spec?.networking?.endpoint ?? `/${api.metadata.name}`);
}

/** Every other live API with the same endpoint: they share the Gateway (or Ingress class) and its hostnames. */
export function rivalsOf(api: ApiObject, all: ApiObject[]): ApiObject[] {
  const endpoint = endpointOfObject(api);
  return all.filter(
    (o) => o.metadata.uid !== api.metadata.uid && !o.metadata.deletionTimestamp && endpointOfObject(o) === endpoint,
  );
}

/** Who keeps an endpoint several APIs ask for: the oldest, then by namespace/name (so every reconcile agrees). */
function holderOf(apis: ApiObject[]): ApiObject {
  const key = (o: ApiObject) => `${o.metadata.creationTimestamp ?? ''} ${o.metadata.namespace}/${o.metadata.name}`;
  return [...apis].sort((a, b) => key(a).localeCompare(key(b)))[0];
}

/** The Routed condition as metav1.Condition, keeping lastTransitionTime while its status stays. */
export function routedCondition(
  outcome: RouteOutcome,
  generation: number,
  previous: Condition[] = [],
  now = new Date(),
) {
  const before = previous.find((c) => c.type === CONDITION_ROUTED);
  return {
    type: CONDITION_ROUTED,
    status: outcome.status,
    observedGeneration: generation,
    lastTransitionTime:
      before && before.status === outcome.status
        ? before.lastTransitionTime
        : now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    reason: outcome.reason,
    message: outcome.message,
  } satisfies Condition;
}

export class RouteReconciler {
  readonly rbac = routeRbac;
  private readonly client: KubeClient;
  readonly config: RouteConfig;
  constructor(client: KubeClient, config: RouteConfig) {
    this.client = client;
    this.config = config;
  }

  async reconcile(
    api: ApiInstance,
    self: ApiObject,
    all: ApiObject[],
    childConfig: ChildConfig,
    hooks: ApplyHooks,
    signal?: AbortSignal,
  ): Promise<RouteOutcome> {
    const endpoint = api.spec.networking.endpoint;
    const rivals = rivalsOf(self, all);
    if (rivals.length > 0) {
      const holder = holderOf([self, ...rivals]);
      if (holder.metadata.uid !== self.metadata.uid) {
        return {
          status: 'False',
          reason: 'EndpointTaken',
          message:
            `networking.endpoint ${endpoint} is already served by RealtimeAPI ` +
            `${holder.metadata.namespace}/${holder.metadata.name}: ` +
            'give this API another networking.endpoint, or delete that API',
        };
      }
    }
    if (isGrpcApi(api.spec)) return this.grpcRoute(api, childConfig, hooks, signal);
    // The route of the other kind, left from before the admin switched routes.kind, goes first:
    // two routes for one endpoint would both serve it. So does the GRPCRoute of an API that no
    // longer has a protobufPath (a 404 where the cluster has no GRPCRoute kind).
    await this.removeOwned(this.config.kind === 'gateway' ? INGRESSES : HTTP_ROUTES, api, signal);
    await this.removeOwned(GRPC_ROUTES, api, signal);
    return this.config.kind === 'gateway'
      ? this.gatewayRoute(api, this.config, childConfig, hooks, signal)
      : this.ingress(api, this.config, childConfig, hooks, signal);
  }

  /** Deletes the API's object of this kind when the API controls it (one of ours, not a user's). */
  private async removeOwned(r: typeof HTTP_ROUTES, api: ApiInstance, signal?: AbortSignal): Promise<void> {
    const found = await this.getOrUndefined(r, api.namespace, api.name, signal);
    if (found === undefined || !isOwnedBy(found, api.uid)) return;
    try {
      await this.client.delete(r, api.namespace, api.name, 'Background', { signal });
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }

  private async getOrUndefined(r: typeof GATEWAYS, namespace: string, name: string, signal?: AbortSignal) {
    try {
      return await this.client.get(r, namespace, name, { signal });
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /** Whether the API server serves gateway.networking.k8s.io/v1 (its CRDs are installed). */
  private async gatewayApiServed(signal?: AbortSignal): Promise<boolean> {
    try {
      await this.client.request(HttpMethod.GET, `/apis/${GATEWAY_GROUP}/v1`, { signal });
      return true;
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
  }

  /** A gRPC API: a GRPCRoute on the Gateway; an Ingress has no portable way to speak h2c to the Service. */
  private async grpcRoute(
    api: ApiInstance,
    childConfig: ChildConfig,
    hooks: ApplyHooks,
    signal?: AbortSignal,
  ): Promise<RouteOutcome> {
    await this.removeOwned(HTTP_ROUTES, api, signal);
    await this.removeOwned(INGRESSES, api, signal);
    if (this.config.kind !== 'gateway') {
      return {
        status: 'False',
        reason: 'GrpcNeedsGateway',
        message:
          'a gRPC API (predictor.protobufPath) is routed by a GRPCRoute on a Gateway, and routes.kind is ingress: ' +
          `call it in the cluster at ${api.name}.${api.namespace}:80 (h2c), or set routes.kind: gateway (docs/grpc.md)`,
      };
    }
    return this.gatewayRoute(api, this.config, childConfig, hooks, signal, GRPC_ROUTES);
  }

  private async gatewayRoute(
    api: ApiInstance,
    config: Extract<RouteConfig, { kind: 'gateway' }>,
    childConfig: ChildConfig,
    hooks: ApplyHooks,
    signal?: AbortSignal,
    kind = HTTP_ROUTES,
  ): Promise<RouteOutcome> {
    const { name, namespace } = config.gateway;
    const gateway = await this.getOrUndefined(GATEWAYS, namespace, name, signal);
    if (!gateway && !(await this.gatewayApiServed(signal))) {
      return {
        status: 'False',
        reason: 'GatewayAPIMissing',
        message:
          'the cluster does not serve the Gateway API (gateway.networking.k8s.io/v1), so no HTTPRoute was written: ' +
          'install its CRDs (kubectl apply -f https://github.com/kubernetes-sigs/gateway-api/releases/download/' +
          'v1.4.1/standard-install.yaml) and a Gateway implementation, or set routes.kind: ingress in the chart values',
      };
    }
    const child: ChildReconciler<KubeObject> = {
      resource: kind,
      desired: (a) => (kind === GRPC_ROUTES ? desiredGrpcRoute(a, config) : desiredHttpRoute(a, config)),
      rbac: [],
    };
    const existing = await this.getOrUndefined(kind, api.namespace, api.name, signal);
    const route = await applyChild(this.client, child, api, childConfig, existing, hooks, signal);
    if (!gateway) {
      return {
        status: 'False',
        reason: 'GatewayNotFound',
        message:
          `${kind.kind} ${api.namespace}/${api.name} waits for Gateway ${namespace}/${name}, which does not exist: ` +
          'create it (docs/routes.md), or name an existing one in the chart values routes.gateway.name/namespace',
      };
    }
    const url = gatewayUrl(gateway, config, api.spec.networking.endpoint);
    return { ...routeAcceptance(route, config.gateway, `${kind.kind} ${api.namespace}/${api.name}`), url };
  }

  private async ingress(
    api: ApiInstance,
    config: Extract<RouteConfig, { kind: 'ingress' }>,
    childConfig: ChildConfig,
    hooks: ApplyHooks,
    signal?: AbortSignal,
  ): Promise<RouteOutcome> {
    const child: ChildReconciler<KubeObject> = {
      resource: INGRESSES,
      desired: (a, c) => desiredIngress(a, config, c.clusterDomain),
      rbac: [],
    };
    const existing = await this.getOrUndefined(INGRESSES, api.namespace, api.name, signal);
    const ingress = await applyChild(this.client, child, api, childConfig, existing, hooks, signal);
    const url = ingressUrl(ingress, config, api.spec.networking.endpoint);
    if (!ingressPublished(ingress)) {
      return {
        status: 'Unknown',
        reason: 'AddressPending',
        message:
          `Ingress ${api.namespace}/${api.name} has no address yet: its ingress controller publishes one ` +
          `(check that the IngressClass ${config.className ?? '(the default)'} exists and its controller runs)`,
        url,
      };
    }
    return { status: 'True', reason: 'Routed', message: `Ingress ${api.namespace}/${api.name} routes ${url}`, url };
  }
}

/** The status with the route's part: its URL, the Routed condition, and its problem as the message if none. */
export function withRoute(
  status: RealtimeApiStatus,
  outcome: RouteOutcome,
  generation: number,
  previous: RealtimeApiStatus | undefined,
  now = new Date(),
): RealtimeApiStatus {
  const out: RealtimeApiStatus = { ...status };
  if (outcome.url) out.url = outcome.url;
  out.conditions = [...(status.conditions ?? []), routedCondition(outcome, generation, previous?.conditions, now)];
  if (outcome.status === 'False' && !out.message) out.message = outcome.message;
  return out;
}
