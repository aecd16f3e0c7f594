// One cache of RealtimeAPIs and of Cortex pods (labelled cortex.dev/api) for the parts of the
// operator that run in every replica, leader or not: the metrics adapter and the activator.
// Sharing it keeps one copy of every pod in memory instead of one per part. (The controller,
// which runs only on the leader and must see every object from its first list, keeps its own.)
import type { V1Pod } from '@kubernetes/client-node';
import type { RealtimeApi } from '../api/v1alpha1/index.ts';
import type { KubeClient, KubeObject } from '../kube/client.ts';
import { PODS, REALTIME_APIS } from '../kube/resources.ts';
import type { Logger } from '../util/log.ts';
import { API_LABEL } from '../reconcilers/types.ts';
import { Informer, listerWatcher, type InformerOptions } from './informer.ts';

export type CortexPod = V1Pod & KubeObject;
export type CortexApi = RealtimeApi & KubeObject;

export interface CortexInformers {
  pods: Informer<CortexPod>;
  apis: Informer<CortexApi>;
}

export interface CortexInformerOptions {
  client: KubeClient;
  log: Logger;
  /** Only this namespace (the operator's --namespace). Default: all. */
  namespace?: string;
  informer?: Pick<InformerOptions<KubeObject>, 'idleTimeoutMs' | 'watchTimeoutSeconds' | 'backoff'>;
}

/** The informers, not started: attach handlers first, then start them (or let their users do it). */
export function cortexInformers(o: CortexInformerOptions): CortexInformers {
  const common = { log: o.log, resyncMs: 0, ...o.informer };
  return {
    pods: new Informer<CortexPod>({
      name: 'pods',
      source: listerWatcher(o.client, PODS, o.namespace, { labelSelector: API_LABEL }),
      ...common,
    }),
    apis: new Informer<CortexApi>({
      name: REALTIME_APIS.plural,
      source: listerWatcher(o.client, REALTIME_APIS, o.namespace),
      ...common,
    }),
  };
}
