// Where an API's keys live in a cluster (networking.auth: api_key) and how its replicas get them.
//
// One Secret per API, `cortex-api-keys-<api>` in the API's namespace, labelled
// cortex.dev/api-keys=<api>: one data entry per key, named by the key's id, holding its
// KeyRecord as JSON (the SHA-256 of the key and its rate limit; never the key). `cortex api-key`
// writes it; a platform team can write it by hand or from Git (docs/auth.md shows the shape).
//
// How replicas learn of a new or revoked key without a restart: the Secret is mounted as a
// volume (optional: an API with no key yet refuses everything) and the runtime reads the folder
// again every second (runtime/key-dir.ts); the kubelet updates a mounted Secret in place within
// its sync period (about 60-90 s). Chosen over the runtime watching the Secret through the API
// server because the replica's container runs the user's predictor: it gets no API credentials
// and no RBAC of its own, and the pod template does not change when keys change (no rollout).
// The activator, which holds requests for APIs at zero, watches the Secrets through the API
// (operator/activator/kube-backend.ts) and sees a revoke within a second.
import type { V1EnvVar, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import type { PolicyRule } from './types.ts';

/** The runtime's `cortex serve --api-keys` as an environment variable. */
export const API_KEYS_DIR_ENV = 'CORTEX_API_KEYS_DIR';
/** Where a replica's container sees its keys Secret. */
export const API_KEYS_MOUNT = '/etc/cortex/api-keys';
/** Label of a keys Secret: its value is the API's name. */
export const API_KEYS_LABEL = 'cortex.dev/api-keys';

export function apiKeysSecretName(api: string): string {
  return `cortex-api-keys-${api}`;
}

/** The keys Secret's volume, its mount and the runtime's variable, added to the replica's pod. */
export function addApiKeysVolume(api: string, volumes: V1Volume[], mounts: V1VolumeMount[], env: V1EnvVar[]): void {
  volumes.push({
    name: 'api-keys',
    // optional: no Secret yet means no key yet (every prediction 401), not a pod that cannot start.
    // 0444: the files are root's and the runtime runs as the image's user (10001, no fsGroup); they
    // hold hashes only, and the predictor in the same container could not be kept from them anyway
    secret: { secretName: apiKeysSecretName(api), optional: true, defaultMode: 0o444 },
  });
  mounts.push({ name: 'api-keys', mountPath: API_KEYS_MOUNT, readOnly: true });
  env.push({ name: API_KEYS_DIR_ENV, value: API_KEYS_MOUNT });
}

/** The activator reads the keys Secrets of every namespace (by label) to check held requests. */
export const apiKeysRbac: PolicyRule[] = [{ apiGroups: [''], resources: ['secrets'], verbs: ['list', 'watch'] }];
