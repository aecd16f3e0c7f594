// Garbage collection of code bundles, the pure part: which ConfigMaps an API uses, and what to
// write so that Kubernetes' own garbage collector deletes a bundle once no API uses it.
//
// Every bundle ConfigMap an API refers to carries an owner reference to that API (not a
// controller reference: several APIs may share one bundle). Deleting the last API that uses a
// bundle thus deletes it, also when the ConfigMaps were applied by kubectl or a GitOps tool
// without owners. An API that moves to another bundle gives up the old one only once nothing of
// it mounts the old one any more (the Deployment's template and every unfinished pod: old
// replicas of a rollout in progress, or a rollout stuck, still need it): then it removes itself
// from the owners, and deletes the ConfigMap when it was the last one. Only ConfigMaps labelled
// as bundles (cortex.dev/bundle) are ever touched; a bundle no API has referred to for a grace
// period (an upload whose apply failed) is deleted by a periodic sweep (planSweep).

import type { V1Deployment, V1Pod, V1PodSpec } from '@kubernetes/client-node';
import { API_VERSION, KIND } from '../api/v1alpha1/index.ts';
import type { BundleSpec } from '../api/v1alpha1/index.ts';
import type { KubeObject, OwnerReference } from '../kube/client.ts';
import { BUNDLE_LABEL } from './bundle-names.ts';
import type { PolicyRule } from './types.ts';

export const bundleRbac: PolicyRule[] = [
  // list/watch (metadata only) the bundles, get one the cache lacks, patch owner references, delete unused ones
  { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch', 'patch', 'delete'] },
];

/** A ConfigMap as the metadata-only watch has it. */
export type ConfigMapMeta = KubeObject & { metadata: NonNullable<KubeObject['metadata']> };

/** What the bundle step needs to know of an API. */
export interface BundleUser {
  name: string;
  namespace: string;
  uid: string;
  bundle?: BundleSpec;
  /** RealtimeAPI unless said: a BatchAPI or TaskAPI owns the bundles its spec refers to too. */
  kind?: string;
}

/** Whether the ConfigMap is a bundle (the CLI labels them): the only ConfigMaps ever given owners or deleted. */
export function isBundle(cm: KubeObject): boolean {
  return cm.metadata?.labels?.[BUNDLE_LABEL] !== undefined;
}

/**
 * The API as an owner of its bundles: not a controller (several APIs share a bundle), not
 * blocking the API's deletion.
 */
export function bundleOwnerReference(api: Pick<BundleUser, 'name' | 'uid' | 'kind'>): OwnerReference {
  return { apiVersion: API_VERSION, kind: api.kind ?? KIND, name: api.name, uid: api.uid };
}

/** Names of the ConfigMaps a pod spec mounts (configMap volumes and projected sources). */
export function mountedConfigMaps(spec: V1PodSpec | undefined): string[] {
  const names: string[] = [];
  for (const v of spec?.volumes ?? []) {
    if (v.configMap?.name) names.push(v.configMap.name);
    for (const s of v.projected?.sources ?? []) if (s.configMap?.name) names.push(s.configMap.name);
  }
  return names;
}

/**
 * The ConfigMaps an API still needs: those of its spec, those the Deployment's pod template
 * mounts (it may still be the previous version, when the new one could not be applied), and
 * those of its pods that have not finished (old replicas during a rollout).
 */
export function bundlesInUse(
  bundle: BundleSpec | undefined,
  deployment: V1Deployment | undefined,
  pods: V1Pod[],
): Set<string> {
  const names = new Set(bundle?.configMaps ?? []);
  for (const n of mountedConfigMaps(deployment?.spec?.template?.spec)) names.add(n);
  for (const pod of pods) {
    if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') continue;
    for (const n of mountedConfigMaps(pod.spec)) names.add(n);
  }
  return names;
}

/** A write to one bundle ConfigMap, guarded by its resourceVersion (nobody changed it since it was read). */
export type BundleWrite =
  | { op: 'set-owners'; name: string; resourceVersion: string; ownerReferences: OwnerReference[] }
  | { op: 'delete'; name: string; resourceVersion: string; uid: string };

/** The owners with `api` added, or undefined when it is one already. */
export function withOwner(
  cm: ConfigMapMeta,
  api: Pick<BundleUser, 'name' | 'uid' | 'kind'>,
): OwnerReference[] | undefined {
  const owners = cm.metadata.ownerReferences ?? [];
  if (owners.some((r) => r.uid === api.uid)) return undefined;
  return [...owners, bundleOwnerReference(api)];
}

/** Whether the ConfigMap counts as missing for the replicas: absent, or being deleted. */
export function unusable(cm: ConfigMapMeta | undefined): boolean {
  return cm === undefined || cm.metadata.deletionTimestamp !== undefined;
}

/**
 * For a bundle ConfigMap this API owns but no longer uses: remove the API from its owners, or
 * delete it when the API is its only owner and no other API's spec refers to it (that API may
 * not have been reconciled yet: it will add itself).
 */
export function releaseWrite(
  cm: ConfigMapMeta,
  api: Pick<BundleUser, 'uid'>,
  referencedElsewhere: boolean,
): BundleWrite | undefined {
  const owners = cm.metadata.ownerReferences ?? [];
  if (!owners.some((r) => r.uid === api.uid) || !isBundle(cm) || cm.metadata.deletionTimestamp) return undefined;
  const rest = owners.filter((r) => r.uid !== api.uid);
  const { name, resourceVersion, uid } = cm.metadata as { name: string; resourceVersion: string; uid: string };
  if (rest.length === 0 && !referencedElsewhere) return { op: 'delete', name, resourceVersion, uid };
  return { op: 'set-owners', name, resourceVersion, ownerReferences: rest };
}

/** The releases of one API: every bundle it owns that it no longer uses. */
export function planRelease(
  api: BundleUser,
  namespaceBundles: ConfigMapMeta[],
  inUse: Set<string>,
  referencedElsewhere: (name: string) => boolean,
): BundleWrite[] {
  const writes: BundleWrite[] = [];
  for (const cm of namespaceBundles) {
    const name = cm.metadata.name!;
    if (inUse.has(name)) continue;
    const w = releaseWrite(cm, api, referencedElsewhere(name));
    if (w) writes.push(w);
  }
  return writes;
}

/**
 * The orphan sweep: bundle ConfigMaps without owners that no API refers to or mounts, for at
 * least `graceMs` both since they were created and since this process first saw them orphaned
 * (`orphanSince`, updated here: a restarted operator waits a full grace period again, so a
 * bundle uploaded just before an apply is never taken from under it). Returns the deletions.
 */
export function planSweep(
  bundles: ConfigMapMeta[],
  inUse: (namespace: string, name: string) => boolean,
  orphanSince: Map<string, number>,
  now: number,
  graceMs: number,
): (BundleWrite & { op: 'delete'; namespace: string })[] {
  const deletes: (BundleWrite & { op: 'delete'; namespace: string })[] = [];
  const seen = new Set<string>();
  for (const cm of bundles) {
    const { name, namespace, uid, resourceVersion, creationTimestamp, deletionTimestamp } = cm.metadata;
    if (!name || !namespace || !uid || !resourceVersion || !isBundle(cm) || deletionTimestamp) continue;
    const orphan = (cm.metadata.ownerReferences ?? []).length === 0 && !inUse(namespace, name);
    if (!orphan) continue;
    seen.add(uid);
    const first = orphanSince.get(uid) ?? now;
    orphanSince.set(uid, first);
    const created = creationTimestamp ? Date.parse(creationTimestamp) : now;
    if (now - Math.max(first, Number.isNaN(created) ? now : created) >= graceMs)
      deletes.push({ op: 'delete', namespace, name, uid, resourceVersion });
  }
  for (const uid of orphanSince.keys()) if (!seen.has(uid)) orphanSince.delete(uid);
  return deletes;
}

/** The status message for bundle ConfigMaps an API refers to that do not exist (or are being deleted). */
export function missingMessage(namespace: string, bundle: BundleSpec, missing: string[]): string {
  const which = missing.map((n) => `${namespace}/${n}`).join(', ');
  const plural = bundle.configMaps.length === 1 ? '' : 's';
  const count = `${missing.length} of the ${bundle.configMaps.length} ConfigMap${plural} of predictor.bundle`;
  return (
    `${count} ${missing.length === 1 ? 'is' : 'are'} missing (${which}): the replicas cannot unpack the project. ` +
    'Redeploy the API (cortex deploy uploads the bundle again, or kubectl apply the ConfigMaps cortex render wrote); ' +
    'the running replicas are left as they are'
  );
}
