// What a replica needs for predictor.models' storage URIs (issue 17): the Secret named by
// models.storage.secret as environment (the downloader reads AWS_*, GOOGLE_*, HF_TOKEN,
// STORAGE_HTTP_AUTHORIZATION), and each pvc://claim/... claim mounted read-only where the runtime
// reads it (PVC_ROOT/<claim>). The downloads themselves land in the node cache (deployment.ts).
import type { V1EnvFromSource, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import { PVC_ROOT, pvcClaims, type ModelsSpec } from '../api/v1alpha1/index.ts';

export interface ModelStorage {
  volumes: V1Volume[];
  mounts: V1VolumeMount[];
  envFrom?: V1EnvFromSource[];
}

export function modelStorage(models: ModelsSpec | undefined): ModelStorage {
  if (models === undefined) return { volumes: [], mounts: [] };
  const sources = [models.path, models.dir, ...(models.paths ?? []).map((m) => m.path)].filter(
    (s): s is string => typeof s === 'string',
  );
  const claims = pvcClaims(sources);
  return {
    volumes: claims.map((claimName, i) => ({
      name: `model-pvc-${i}`,
      persistentVolumeClaim: { claimName, readOnly: true },
    })),
    mounts: claims.map((claim, i) => ({ name: `model-pvc-${i}`, mountPath: `${PVC_ROOT}/${claim}`, readOnly: true })),
    envFrom: models.storage?.secret !== undefined ? [{ secretRef: { name: models.storage.secret } }] : undefined,
  };
}
