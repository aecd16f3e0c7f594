// The activator's copy of the APIs' keys (networking.auth: api_key): an informer on the keys
// Secrets (labelled cortex.dev/api-keys=<api>, operator/reconcilers/api-keys.ts), each turned
// into a KeyRing of its API. A watch event reaches it within a second of the change, so a
// revoked key is refused by the activator at once, while the replicas see it when the kubelet
// updates their mounted copy.
//
// Why the activator checks at all: it holds requests for APIs at zero and wakes them. Without
// the check, anyone who can reach the Service could wake an API (and hold its requests) without
// a key; with it, a request without a valid key gets 401 and wakes nothing. It does not rate
// limit: the replica it passes the request to does, and a request must not pay twice.
import { KeyRing, parseRecord, type KeyRecord } from '../auth/keys.ts';
import { Informer, listerWatcher, type InformerOptions } from '../controller/informer.ts';
import type { KubeClient, KubeObject } from '../kube/client.ts';
import { SECRETS } from '../kube/resources.ts';
import { API_KEYS_LABEL, apiKeysRbac } from '../reconcilers/api-keys.ts';
import type { Logger } from '../util/log.ts';

interface Secret extends KubeObject {
  data?: Record<string, string>;
}

export { apiKeysRbac };

export interface ApiKeyRings {
  /** The keys of an API ("namespace/name"): empty when it has no keys Secret (every request 401). */
  ring(namespace: string, name: string): KeyRing;
  informer: Informer<Secret>;
}

export function apiKeyRings(options: {
  client: KubeClient;
  log: Logger;
  namespace?: string;
  informer?: Pick<InformerOptions<KubeObject>, 'idleTimeoutMs' | 'watchTimeoutSeconds' | 'backoff'>;
}): ApiKeyRings {
  const rings = new Map<string, KeyRing>();
  const empty = new KeyRing();
  const warned = new Set<string>();
  const keyOf = (s: Secret) => `${s.metadata?.namespace}/${s.metadata?.labels?.[API_KEYS_LABEL]}`;
  const put = (s: Secret) => {
    const records = new Map<string, KeyRecord>();
    for (const [id, value] of Object.entries(s.data ?? {})) {
      try {
        records.set(id, parseRecord(Buffer.from(value, 'base64').toString('utf8')));
      } catch (error) {
        // said once per Secret version: the key is refused, the others work
        const message = `${s.metadata?.resourceVersion}/${id}`;
        if (!warned.has(message)) {
          warned.add(message);
          options.log.warn('activator: an API key entry cannot be used; that key is refused', {
            secret: `${s.metadata?.namespace}/${s.metadata?.name}`,
            key: id,
            problem: (error as Error).message,
          });
        }
      }
    }
    const key = keyOf(s);
    let ring = rings.get(key);
    if (ring === undefined) rings.set(key, (ring = new KeyRing()));
    ring.replace(records);
  };
  const informer = new Informer<Secret>({
    name: 'api-key secrets',
    source: listerWatcher(options.client, SECRETS, options.namespace, { labelSelector: API_KEYS_LABEL }),
    log: options.log,
    resyncMs: 0,
    ...options.informer,
  });
  informer
    .on('add', put)
    .on('update', (s, old) => {
      if (keyOf(old) !== keyOf(s)) rings.delete(keyOf(old)); // relabelled to another API
      put(s);
    })
    .on('delete', (s) => rings.delete(keyOf(s)));
  return { ring: (namespace, name) => rings.get(`${namespace}/${name}`) ?? empty, informer };
}
