// A TrafficSplitter's HTTPRoute: its endpoint on the admin's Gateway (operator/routes/desired.ts),
// the prefix rewritten away, one weighted backendRef per API that answers and a RequestMirror
// filter for the shadow. Each backendRef names its API in X-Cortex-API (a backend filter), so the
// activator wakes an API at zero behind the splitter; the rule-level header names the shadow,
// which the mirrored copy carries.

import type { KubeObject } from '../kube/client.ts';
import { API_HEADER } from '../activator/route.ts';
import { SERVICE_PORT } from '../reconcilers/service.ts';
import { MANAGED_BY } from '../reconcilers/types.ts';
import { MANAGED_BY_LABEL } from '../kube/resources.ts';
import { API_VERSION, SPLITTER_KIND, type TrafficSplitterSpec } from '../api/v1alpha1/index.ts';
import { GATEWAY_GROUP, routeSpec, type RouteConfig } from './desired.ts';

export interface SplitterInstance {
  name: string;
  namespace: string;
  uid: string;
  spec: TrafficSplitterSpec;
}

const header = (namespace: string, api: string) => ({
  set: [{ name: API_HEADER, value: `${namespace}/${api}` }],
});

export function desiredSplitterRoute(
  s: SplitterInstance,
  config: Extract<RouteConfig, { kind: 'gateway' }>,
): KubeObject {
  const shadow = s.spec.apis.find((a) => a.shadow);
  const filters: object[] = [
    { type: 'URLRewrite', urlRewrite: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/' } } },
  ];
  if (shadow) {
    filters.push(
      { type: 'RequestHeaderModifier', requestHeaderModifier: header(s.namespace, shadow.name) },
      {
        type: 'RequestMirror',
        requestMirror: { backendRef: { group: '', kind: 'Service', name: shadow.name, port: SERVICE_PORT } },
      },
    );
  }
  return {
    apiVersion: `${GATEWAY_GROUP}/v1`,
    kind: 'HTTPRoute',
    metadata: {
      name: s.name,
      namespace: s.namespace,
      labels: { 'cortex.dev/traffic-splitter': s.name, [MANAGED_BY_LABEL]: MANAGED_BY },
      ownerReferences: [
        {
          apiVersion: API_VERSION,
          kind: SPLITTER_KIND,
          name: s.name,
          uid: s.uid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: routeSpec(config, s.spec.networking.endpoint, {
      filters,
      backendRefs: s.spec.apis
        .filter((a) => !a.shadow)
        .map((a) => ({
          group: '',
          kind: 'Service',
          name: a.name,
          port: SERVICE_PORT,
          weight: a.weight,
          filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: header(s.namespace, a.name) }],
        })),
    }),
  };
}

/** The split in one line, for the status and `kubectl get tsplit`: "iris:90 iris-v2:10 shadow:iris-v3". */
export function weightsText(spec: TrafficSplitterSpec): string {
  return spec.apis.map((a) => (a.shadow ? `shadow:${a.name}` : `${a.name}:${a.weight}`)).join(' ');
}
