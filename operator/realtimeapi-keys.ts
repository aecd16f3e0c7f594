// Which RealtimeAPI an object the controller watches belongs to, as its work-queue key "namespace/name":
// a child by its controller owner reference, a pod by its cortex.dev/api label. Apart from the controller
// so its informer handlers stay one line each and the mapping reads in one place.

import { GROUP, KIND } from './api/v1alpha1/index.ts';
import type { KubeObject } from './kube/client.ts';
import { API_LABEL } from './reconcilers/types.ts';

/** The key of the RealtimeAPI that controls a child (Service, Deployment, HPA); undefined: none does. */
export function ownerApiKey(obj: KubeObject): string | undefined {
  const owner = (obj.metadata?.ownerReferences ?? []).find(
    (r) => r.controller && r.kind === KIND && r.apiVersion.startsWith(`${GROUP}/`),
  );
  return owner && obj.metadata?.namespace ? `${obj.metadata.namespace}/${owner.name}` : undefined;
}

/** The key of the RealtimeAPI a pod is labelled with; undefined: no label. */
export function labelledApiKey(obj: KubeObject): string | undefined {
  const name = obj.metadata?.labels?.[API_LABEL];
  return name && obj.metadata?.namespace ? `${obj.metadata.namespace}/${name}` : undefined;
}
