// The objects the operator benchmark creates and the API paths it watches.
import type { Obj } from './kube.ts';

export const LAT_NS = 'bench-latency';
export const BUILTIN_NS = 'bench-builtin';
export const SCALE_NS = 'bench-scale';
const CPU_POOL = { 'cortex.dev/node-pool': 'cpu' };

export const realtimeApi = (name: string, ns: string, autoscaling?: Record<string, number>): Obj => ({
  apiVersion: 'cortex.dev/v1alpha1',
  kind: 'RealtimeAPI',
  metadata: { name, namespace: ns },
  spec: {
    predictor: { type: 'python', path: 'predictor.py', image: 'fake.invalid/bench:1' },
    ...(autoscaling ? { autoscaling } : {}),
  },
});
export const deployment = (name: string, ns: string): Obj => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, namespace: ns, labels: { app: name } },
  spec: {
    replicas: 1,
    selector: { matchLabels: { app: name } },
    template: {
      metadata: { labels: { app: name } },
      spec: {
        nodeSelector: CPU_POOL,
        containers: [{ name: 'api', image: 'fake.invalid/bench:1', ports: [{ containerPort: 8888 }] }],
      },
    },
  },
});
export const RAPI = (ns: string) => `/apis/cortex.dev/v1alpha1/namespaces/${ns}/realtimeapis`;
export const DEPLOY = (ns: string) => `/apis/apps/v1/namespaces/${ns}/deployments`;
export const RS = (ns: string) => `/apis/apps/v1/namespaces/${ns}/replicasets`;
export const SVC = (ns: string) => `/api/v1/namespaces/${ns}/services`;
export const HPA = (ns: string) => `/apis/autoscaling/v2/namespaces/${ns}/horizontalpodautoscalers`;
export const ownerName = (o: Obj): string | undefined =>
  o.metadata?.ownerReferences?.find((r: Obj) => r.controller)?.name;
/** The controller has observed the object's latest generation. */
export const settled = (o: Obj): boolean =>
  o.status?.observedGeneration !== undefined && o.status.observedGeneration >= o.metadata.generation;
