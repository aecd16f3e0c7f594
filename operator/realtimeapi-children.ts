// The RealtimeAPI's children as one table (Service, Deployment, HPA): the order the controller applies
// them, which hold keeps the replicas as they are, what each tells the status. It is its own file
// because rbac.ts reads the same table for the operator's permissions, without the controller.

import type { V1Deployment } from '@kubernetes/client-node';
import type { KubeObject } from './kube/client.ts';
import { deploymentReconciler } from './reconcilers/deployment.ts';
import { hpaReconciler } from './reconcilers/hpa.ts';
import { endpointOf, serviceReconciler } from './reconcilers/service.ts';
import type { ApiInstance, ChildReconciler, OperatorConfig } from './reconcilers/types.ts';
import type { Observed } from './status.ts';

/** What holds the replicas back this time: new ones could not run, so the running ones are kept. */
export interface Holds {
  /** No node pool fits compute (the status says why). */
  computeUnavailable?: string;
  /** Bundle ConfigMaps the spec names do not exist: new replicas would be stuck in ContainerCreating. */
  bundleMissing?: string;
}

/** One row of the apply sequence: a child reconciler, when it applies, what it tells the status. */
export interface Child extends ChildReconciler<unknown> {
  /** Whether to apply the child this time (default: always); false keeps the cached object as it is. */
  gate?(holds: Holds): boolean;
  /** Records the child as applied (or as cached, when gated off) for the status. */
  observe?(observed: Observed, child: KubeObject | undefined, api: ApiInstance, config: OperatorConfig): void;
}

/** Only when new replicas can run: nothing to run the new spec on leaves the old ones as they are. */
const replicasCanRun = (h: Holds) => h.computeUnavailable === undefined && h.bundleMissing === undefined;

/** The children, in the order they are applied. */
export const CHILDREN: Child[] = [
  { ...serviceReconciler, observe: (o, _service, api, config) => (o.endpoint = endpointOf(api, config)) },
  { ...deploymentReconciler, gate: replicasCanRun, observe: (o, d) => (o.deployment = d as V1Deployment) },
  { ...hpaReconciler, gate: replicasCanRun },
];
