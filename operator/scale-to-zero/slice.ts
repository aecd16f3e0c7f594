// The activator's EndpointSlice: while an API is at zero, its Service also sends requests to the
// activator, which holds them and wakes the API.
//
// The Service itself never changes (its selector stays). At zero no pod matches it, so the
// EndpointSlice controller's slices are empty; this extra slice — labelled with the Service's
// name and managed by cortex-operator, so the controller leaves it alone — gives kube-proxy (or
// any other Service implementation, which all read every slice labelled
// kubernetes.io/service-name) one endpoint: the activator. It is deleted once a replica is
// ready; during the overlap requests go to the replicas or through the activator to them.
//
// Why not remove the Service's selector and point a slice at the activator: the EndpointSlice
// and Endpoints controllers leave their objects behind when a selector is removed (frozen with
// the last pod addresses, and the Endpoints then mirrored into yet another slice:
// kubernetes#91072, #118376), so requests would go to pods that are gone.

import type { KubeObject } from '../kube/client.ts';
import { ENDPOINT_SLICES, MANAGED_BY_LABEL } from '../kube/resources.ts';
import {
  API_LABEL,
  MANAGED_BY,
  childMetadata,
  ruleOn,
  type ApiInstance,
  type ChildReconciler,
  type PolicyRule,
} from '../reconcilers/types.ts';

/** The label every implementation of Services selects slices by. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
/** Who manages a slice; anything but endpointslice-controller.k8s.io is left alone by the controller. */
export const SLICE_MANAGED_BY_LABEL = 'endpointslice.kubernetes.io/managed-by';
/** The label selector of the slices this operator manages (its informer's). */
export const ACTIVATOR_SLICES_SELECTOR = `${API_LABEL},${SLICE_MANAGED_BY_LABEL}=${MANAGED_BY}`;

export const sliceRbac: PolicyRule[] = [ruleOn(ENDPOINT_SLICES, ['get', 'list', 'watch', 'create', 'patch', 'delete'])];

/** Where the activator listens, as Services reach it: the operator pod's IP and the activator port. */
export interface ActivatorEndpoint {
  address: string;
  port: number;
}

/**
 * The slice, named like the API (and its Service): the controller names its own slices
 * `<service>-<random>`, so the plain name is never taken by one of them.
 */
export function desiredActivatorSlice(api: ApiInstance, activator: ActivatorEndpoint): KubeObject {
  const metadata = childMetadata(api);
  metadata.labels = {
    ...metadata.labels,
    [SERVICE_NAME_LABEL]: api.name,
    [SLICE_MANAGED_BY_LABEL]: MANAGED_BY,
    [MANAGED_BY_LABEL]: MANAGED_BY,
  };
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata,
    addressType: activator.address.includes(':') ? 'IPv6' : 'IPv4',
    endpoints: [{ addresses: [activator.address], conditions: { ready: true, serving: true, terminating: false } }],
    // the Service's port is named http: a slice port of the same name is where its traffic goes
    ports: [{ name: 'http', protocol: 'TCP', port: activator.port }],
  };
}

/** desiredActivatorSlice as a child reconciler, for the shared apply step (ownership check, SSA). */
export function activatorSliceReconciler(activator: ActivatorEndpoint): ChildReconciler<KubeObject> {
  return { resource: ENDPOINT_SLICES, desired: (api) => desiredActivatorSlice(api, activator), rbac: sliceRbac };
}
