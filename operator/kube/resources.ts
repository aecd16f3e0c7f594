// Every resource type the operator and the CLI read or write, and the labels they share, named
// once: nothing else spells a group, version, kind or plural. Cortex's own come from the API
// definition (api/v1alpha1/groupversion.ts, which the CRD generator reads too).
import { GROUP, KIND, PLURAL, VERSION } from '../api/v1alpha1/groupversion.ts';
import type { ResourceType } from './client.ts';

/** Cortex's RealtimeAPI custom resource. */
export const REALTIME_APIS: ResourceType = { group: GROUP, version: VERSION, kind: KIND, plural: PLURAL };

export const CONFIG_MAPS: ResourceType = { group: '', version: 'v1', kind: 'ConfigMap', plural: 'configmaps' };
export const SECRETS: ResourceType = { group: '', version: 'v1', kind: 'Secret', plural: 'secrets' };
export const PODS: ResourceType = { group: '', version: 'v1', kind: 'Pod', plural: 'pods' };
export const SERVICES: ResourceType = { group: '', version: 'v1', kind: 'Service', plural: 'services' };
export const EVENTS: ResourceType = { group: '', version: 'v1', kind: 'Event', plural: 'events' };
export const JOBS: ResourceType = { group: 'batch', version: 'v1', kind: 'Job', plural: 'jobs' };
export const DEPLOYMENTS: ResourceType = { group: 'apps', version: 'v1', kind: 'Deployment', plural: 'deployments' };
export const HPAS: ResourceType = {
  group: 'autoscaling',
  version: 'v2',
  kind: 'HorizontalPodAutoscaler',
  plural: 'horizontalpodautoscalers',
};
export const ENDPOINT_SLICES: ResourceType = {
  group: 'discovery.k8s.io',
  version: 'v1',
  kind: 'EndpointSlice',
  plural: 'endpointslices',
};
export const LEASES: ResourceType = { group: 'coordination.k8s.io', version: 'v1', kind: 'Lease', plural: 'leases' };

/** Who manages an object (app.kubernetes.io/managed-by): the operator its children, the CLI what it deploys. */
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
