// How an API is reached from outside the cluster: its networking.endpoint as a Gateway API
// HTTPRoute (gateway.networking.k8s.io/v1, standard channel) on the Gateway the cluster admin
// names in the chart values, or, where the admin chose Ingress, a networking.k8s.io/v1 Ingress.
// Both are named like the API, owned by it (deleted with it) and send the endpoint's requests,
// with the endpoint prefix taken off, to the API's Service, which at zero replicas is the
// activator's path (operator/scale-to-zero): the route also names the API in X-Cortex-API, since
// the Host header a Gateway forwards is the external one, not the Service's name the activator
// reads otherwise (operator/activator/route.ts).

import type { KubeObject, ResourceType } from '../kube/client.ts';
import { API_HEADER } from '../activator/route.ts';
import { SERVICE_PORT } from '../reconcilers/service.ts';
import { childMetadata, ruleOn, type ApiInstance, type PolicyRule } from '../reconcilers/types.ts';

export const GATEWAY_GROUP = 'gateway.networking.k8s.io';
export const HTTP_ROUTES: ResourceType = {
  group: GATEWAY_GROUP,
  version: 'v1',
  kind: 'HTTPRoute',
  plural: 'httproutes',
};
export const GRPC_ROUTES: ResourceType = {
  group: GATEWAY_GROUP,
  version: 'v1',
  kind: 'GRPCRoute',
  plural: 'grpcroutes',
};
export const GATEWAYS: ResourceType = { group: GATEWAY_GROUP, version: 'v1', kind: 'Gateway', plural: 'gateways' };
export const INGRESSES: ResourceType = {
  group: 'networking.k8s.io',
  version: 'v1',
  kind: 'Ingress',
  plural: 'ingresses',
};

/** The operator writes the routes, and reads the Gateway (does it exist, its addresses and listeners). */
export const routeRbac: PolicyRule[] = [
  ruleOn(HTTP_ROUTES, ['get', 'list', 'watch', 'create', 'patch', 'delete']),
  ruleOn(GRPC_ROUTES, ['get', 'create', 'patch', 'delete']),
  ruleOn(GATEWAYS, ['get']),
  ruleOn(INGRESSES, ['get', 'list', 'watch', 'create', 'patch', 'delete']),
];

/** The Gateway every API's HTTPRoute attaches to (a parentRef). */
export interface GatewayRef {
  name: string;
  namespace: string;
  /** One listener of the Gateway; undefined: every listener that allows the route. */
  sectionName?: string;
}

/** What the cluster admin chose in the chart values (`routes`). */
export type RouteConfig =
  | { kind: 'gateway'; gateway: GatewayRef; hostnames: string[] }
  | {
      kind: 'ingress';
      /** spec.ingressClassName; undefined: the cluster's default IngressClass. */
      className?: string;
      hostnames: string[];
      /** A kubernetes.io/tls Secret in each API's namespace (cert-manager can make it): HTTPS for `hostnames`. */
      tlsSecretName?: string;
      /**
       * ingress-nginx: a regex path and its rewrite-target annotation take the endpoint prefix off, and
       * upstream-vhost sets the Service's name as Host (for the activator). Ingress has no portable way to
       * do either; with false, `annotations` must do it in the controller's own way.
       */
      nginx: boolean;
      /** Copied onto every Ingress (e.g. cert-manager.io/cluster-issuer, a Traefik strip-prefix middleware). */
      annotations: Record<string, string>;
    };

/** The HTTPRoute: a path-prefix match on the endpoint, the prefix rewritten to /, the API's Service as backend. */
export function desiredHttpRoute(api: ApiInstance, config: Extract<RouteConfig, { kind: 'gateway' }>): KubeObject {
  return {
    apiVersion: `${GATEWAY_GROUP}/v1`,
    kind: 'HTTPRoute',
    metadata: childMetadata(api),
    spec: routeSpec(config, api.spec.networking.endpoint, {
      filters: [
        { type: 'URLRewrite', urlRewrite: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/' } } },
        {
          type: 'RequestHeaderModifier',
          requestHeaderModifier: { set: [{ name: API_HEADER, value: `${api.namespace}/${api.name}` }] },
        },
      ],
      backendRefs: [{ group: '', kind: 'Service', name: api.name, port: SERVICE_PORT }],
    }),
  };
}

/**
 * A gRPC API's GRPCRoute (docs/grpc.md): the calls of its service to its Service (port grpc, h2c).
 * The service is the endpoint without its slash (/<package>.<Service>, which cortex deploy sets
 * from the .proto as Cortex did); an endpoint that names no service routes every call of the
 * hostnames to the API.
 */
export function desiredGrpcRoute(api: ApiInstance, config: Extract<RouteConfig, { kind: 'gateway' }>): KubeObject {
  const service = api.spec.networking.endpoint.slice(1);
  const matches = /^[A-Za-z_][\w.]*\.[A-Za-z_]\w*$/.test(service)
    ? [{ method: { type: 'Exact', service } }]
    : undefined;
  const spec = routeSpec(config, api.spec.networking.endpoint, {
    filters: [],
    backendRefs: [{ group: '', kind: 'Service', name: api.name, port: SERVICE_PORT }],
  });
  const rules = spec.rules as Record<string, unknown>[];
  spec.rules = [{ ...(matches ? { matches } : {}), backendRefs: rules[0].backendRefs }];
  return { apiVersion: `${GATEWAY_GROUP}/v1`, kind: 'GRPCRoute', metadata: childMetadata(api), spec };
}

/** An HTTPRoute's spec on the admin's Gateway (and hostnames): one rule, matching the endpoint's prefix. */
export function routeSpec(
  config: Extract<RouteConfig, { kind: 'gateway' }>,
  endpoint: string,
  rule: { filters: object[]; backendRefs: object[] },
): Record<string, unknown> {
  const { gateway, hostnames } = config;
  return {
    parentRefs: [
      {
        group: GATEWAY_GROUP,
        kind: 'Gateway',
        name: gateway.name,
        namespace: gateway.namespace,
        ...(gateway.sectionName ? { sectionName: gateway.sectionName } : {}),
      },
    ],
    ...(hostnames.length > 0 ? { hostnames } : {}),
    rules: [{ matches: [{ path: { type: 'PathPrefix', value: endpoint } }], ...rule }],
  };
}

/** `s` with every regex metacharacter escaped (an endpoint inside ingress-nginx's regex path). */
function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The Ingress: a rule per hostname (or one for any host), TLS from the admin's Secret. */
export function desiredIngress(
  api: ApiInstance,
  config: Extract<RouteConfig, { kind: 'ingress' }>,
  clusterDomain: string,
): KubeObject {
  const endpoint = api.spec.networking.endpoint;
  const backend = { service: { name: api.name, port: { number: SERVICE_PORT } } };
  // /iris(/|$)(.*) → /$2: /iris → /, /iris/predict → /predict (the endpoint / matches everything)
  const path = config.nginx
    ? { path: endpoint === '/' ? '/()(.*)' : `${escapeRegex(endpoint)}(/|$)(.*)`, pathType: 'ImplementationSpecific' }
    : { path: endpoint, pathType: 'Prefix' };
  const http = { paths: [{ ...path, backend }] };
  const nginx: Record<string, string> = config.nginx
    ? {
        'nginx.ingress.kubernetes.io/use-regex': 'true',
        'nginx.ingress.kubernetes.io/rewrite-target': '/$2',
        'nginx.ingress.kubernetes.io/upstream-vhost': `${api.name}.${api.namespace}.svc.${clusterDomain}`,
      }
    : {};
  const annotations = { ...nginx, ...config.annotations };
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { ...childMetadata(api), ...(Object.keys(annotations).length > 0 ? { annotations } : {}) },
    spec: {
      ...(config.className ? { ingressClassName: config.className } : {}),
      ...(config.tlsSecretName && config.hostnames.length > 0
        ? { tls: [{ hosts: config.hostnames, secretName: config.tlsSecretName }] }
        : {}),
      rules: config.hostnames.length > 0 ? config.hostnames.map((host) => ({ host, http })) : [{ http }],
    },
  };
}
