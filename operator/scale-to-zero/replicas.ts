// Writing an API's replicas to and from zero: shared by the scale-to-zero loop (leader only) and
// the activator (every operator replica).
//
// Why a merge patch of the Deployment rather than its /scale subresource: going to zero also
// marks the Deployment (annotation cortex.dev/scaled-to-zero-at), so that 0 replicas the operator
// chose can be told from 0 replicas a person chose with `kubectl scale` (the HPA's convention for
// "autoscaling off"), and the two must change together. The patch carries the resourceVersion
// the decision was made on: the API server refuses it (409) if anything changed meanwhile — a
// wake-up by another operator replica, the HPA, a person — so the loop and the activator never
// overwrite each other. The HPA leaves a Deployment at 0 replicas alone ("scaling is disabled")
// and takes it over again once it has 1.

import type { V1Deployment } from '@kubernetes/client-node';
import { HttpMethod } from '@kubernetes/client-node';
import { isConflict, resourcePath, type KubeClient, type KubeObject } from '../kube/client.ts';
import { DEPLOYMENTS } from '../kube/resources.ts';
import { ruleOn, type PolicyRule } from '../reconcilers/types.ts';

/** On a Deployment the operator scaled to zero: when (RFC 3339). Removed when it wakes. */
export const SCALED_TO_ZERO_ANNOTATION = 'cortex.dev/scaled-to-zero-at';
/** Field manager of these patches (the children's applies are cortex-operator's and never set replicas). */
export const SCALE_FIELD_MANAGER = 'cortex-operator-scale-to-zero';

export const replicasRbac: PolicyRule[] = [ruleOn(DEPLOYMENTS, ['get', 'patch'])];

export type Deployment = V1Deployment & KubeObject;

/** The replicas a Deployment asks for (the API server defaults an absent field to 1). */
export function replicasOf(d: V1Deployment): number {
  return d.spec?.replicas ?? 1;
}

/** Whether the operator put this Deployment at zero (its annotation is there). */
export function scaledToZeroAt(d: V1Deployment): string | undefined {
  return d.metadata?.annotations?.[SCALED_TO_ZERO_ANNOTATION];
}

/**
 * Sets `replicas` on the Deployment `d` was read as, with the annotation set (going to zero) or
 * removed (any other count). Returns the patched Deployment, or undefined when `d` was stale
 * (409: someone changed it since; decide again on a fresh read).
 */
export async function patchReplicas(
  client: KubeClient,
  d: Deployment,
  replicas: number,
  now = new Date(),
): Promise<Deployment | undefined> {
  const { name, namespace, resourceVersion } = d.metadata ?? {};
  if (!name || !namespace || !resourceVersion)
    throw new Error('patchReplicas: the Deployment has no name, namespace or resourceVersion');
  const at = replicas === 0 ? now.toISOString().replace(/\.\d+Z$/, 'Z') : null;
  try {
    return await client.request<Deployment>(HttpMethod.PATCH, resourcePath(DEPLOYMENTS, namespace, name), {
      query: { fieldManager: SCALE_FIELD_MANAGER },
      contentType: 'application/merge-patch+json',
      // resourceVersion in a merge patch is a precondition: 409 when the object changed
      body: { metadata: { resourceVersion, annotations: { [SCALED_TO_ZERO_ANNOTATION]: at } }, spec: { replicas } },
    });
  } catch (error) {
    if (isConflict(error)) return undefined;
    throw error;
  }
}

/**
 * Wakes an API at zero: reads its Deployment afresh and, if it has 0 replicas, sets the count
 * `replicasFor(current)` gives (1, from wakeOnRequest), retrying on conflicts. Returns the
 * replicas before and after; from === to when it already had replicas (nothing written).
 */
export async function wake(
  client: KubeClient,
  namespace: string,
  name: string,
  replicasFor: (current: number) => number,
): Promise<{ from: number; to: number }> {
  for (let attempt = 0; ; attempt++) {
    const d = await client.get<Deployment>(DEPLOYMENTS, namespace, name);
    const from = replicasOf(d);
    const to = replicasFor(from);
    if (to === from) return { from, to };
    if (await patchReplicas(client, d, to)) return { from, to };
    if (attempt >= 4) throw new Error(`the Deployment ${namespace}/${name} kept changing while scaling it to ${to}`);
  }
}
