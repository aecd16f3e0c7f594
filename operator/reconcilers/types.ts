// What every child reconciler shares: the API it works for, the operator's settings, the
// labels and owner reference of every child, and the RBAC rules a reconciler needs.

import { createHash } from 'node:crypto';
import { API_VERSION, KIND, type RealtimeApiSpec } from '../api/v1alpha1/index.ts';
import type { KubeObject, OwnerReference, ResourceType } from '../kube/client.ts';
import { MANAGED_BY_LABEL } from '../kube/resources.ts';
import type { Placement } from '../node-pools.ts';

/** The label every object of an API carries; Services and Deployments select on it. */
export const API_LABEL = 'cortex.dev/api';
export const MANAGED_BY = 'cortex-operator';

/** A RealtimeAPI with its spec defaulted (applyDefaults) and validated. */
export interface ApiInstance {
  name: string;
  namespace: string;
  uid: string;
  generation: number;
  spec: RealtimeApiSpec;
}

/** Settings of the operator that shape the children. */
export interface OperatorConfig {
  /** The runtime image used when predictor.image is not set. */
  runtimeImage: string;
  /**
   * The runtime image of APIs with compute.gpu > 0 and no predictor.image (CUDA libraries
   * inside); default: runtimeImage.
   */
  gpuRuntimeImage?: string;
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  /**
   * Whether the API server keeps HPA behavior tolerances (autoscaling/v2, Kubernetes ≥ 1.35,
   * where the feature is on by default).
   */
  hpaTolerance: boolean;
  /** DNS suffix of Services (cluster.local). */
  clusterDomain: string;
  /**
   * A folder on each node that the replicas there share their installed requirements.txt in
   * (runtime/venv-cache.ts), so that only a node's first replica of an API runs pip; undefined: none.
   */
  dependencyCache?: DependencyCacheConfig;
  /**
   * The queue of AsyncAPIs' requests (--queue-url, redis://HOST:PORT): an AsyncAPI's replicas get
   * it in CORTEX_QUEUE_URL. Undefined: AsyncAPIs are not run (their status says why).
   */
  queueUrl?: string;
}

export interface DependencyCacheConfig {
  /** The hostPath folder on every node. */
  hostPath: string;
  /** Its size cap (a Kubernetes quantity, e.g. 20Gi): least recently used environments go first. */
  maxSize: string;
}

/** What a reconciler's desired() reads: the operator's settings and where the replicas go. */
export interface ChildConfig extends OperatorConfig {
  placement: Placement;
}

/**
 * An RBAC rule (rbac.authorization.k8s.io/v1 PolicyRule), and whether it is needed in every
 * namespace or only the operator's.
 */
export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
  /**
   * 'cluster': a ClusterRole (APIs live in any namespace); 'operator-namespace': a Role in the
   * operator's namespace.
   */
  scope?: 'cluster' | 'operator-namespace';
}

/** A rule on one resource type of kube/resources.ts (or one of its subresources: `${plural}/status`). */
export function ruleOn(
  resource: ResourceType,
  verbs: string[],
  more: Omit<PolicyRule, 'apiGroups' | 'resources' | 'verbs'> & { subresource?: string } = {},
): PolicyRule {
  const { subresource, ...rest } = more;
  const name = subresource === undefined ? resource.plural : `${resource.plural}/${subresource}`;
  return { apiGroups: [resource.group], resources: [name], verbs, ...rest };
}

/** One kind of child object. */
export interface ChildReconciler<T = KubeObject> {
  resource: ResourceType;
  /** The object as this API wants it (pure). */
  desired(api: ApiInstance, config: ChildConfig): T;
  /**
   * Fields set only when the object is created and never applied again (e.g. the Deployment's
   * replicas, which belong to the autoscaler afterwards): merged into the create request.
   */
  onCreate?(api: ApiInstance, config: ChildConfig): Record<string, unknown>;
  /** What the reconciler needs to be allowed to do. */
  rbac: PolicyRule[];
}

export function labelsFor(api: ApiInstance): Record<string, string> {
  return { [API_LABEL]: api.name, [MANAGED_BY_LABEL]: MANAGED_BY };
}

/** The owner reference that makes the API's deletion cascade to the child (garbage collection). */
export function ownerReference(api: ApiInstance): OwnerReference {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    name: api.name,
    uid: api.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** metadata of a child named like the API. */
export function childMetadata(
  api: ApiInstance,
): Required<Pick<NonNullable<KubeObject['metadata']>, 'name' | 'namespace' | 'labels' | 'ownerReferences'>> {
  return { name: api.name, namespace: api.namespace, labels: labelsFor(api), ownerReferences: [ownerReference(api)] };
}

/** Whether `obj` is controlled by the RealtimeAPI with this uid. */
export function isOwnedBy(obj: KubeObject, uid: string): boolean {
  return (obj.metadata?.ownerReferences ?? []).some((r) => r.controller === true && r.uid === uid);
}

/** A short stable hash of JSON-able data (key order independent). */
export function hashOf(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex').slice(0, 16);
}

/** JSON with object keys sorted: equal values give equal strings. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(
        Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
      );
    }
    return v;
  });
}
