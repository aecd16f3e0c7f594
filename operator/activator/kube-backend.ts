// The activator's view of the cluster: RealtimeAPIs (which exist, and their status for the
// 503's reason), the APIs' pods (which replicas are ready) and their keys Secrets (api-keys.ts),
// from informers of its own — the
// activator runs in every operator replica, and the controller's informers only on the leader.
// Waking writes the Deployment (operator/scale-to-zero/replicas.ts) with the replica count
// wakeOnRequest gives, and records an Event on the API.

import type { V1Pod } from '@kubernetes/client-node';
import { GROUP, PLURAL, applyDefaults, type RealtimeApi } from '../api/v1alpha1/index.ts';
import { initialScaleToZeroState, observeActivity, wakeOnRequest } from '../autoscaling/scale-to-zero.ts';
import type { InformerOptions } from '../controller/informer.ts';
import { cortexInformers, type CortexInformers } from '../controller/cortex-informers.ts';
import type { EventRecorder } from '../events.ts';
import type { KubeClient, KubeObject } from '../kube/client.ts';
import type { Logger } from '../util/log.ts';
import { API_LABEL, type PolicyRule } from '../reconcilers/types.ts';
import type { ScaleToZeroStates } from '../scale-to-zero/loop.ts';
import { replicasRbac, wake } from '../scale-to-zero/replicas.ts';
import type { Backend } from './activator.ts';
import { apiKeyRings, apiKeysRbac } from './api-keys.ts';
import { jobFrontRbac } from './job-front.ts';

type ApiObject = RealtimeApi & KubeObject;
type Pod = V1Pod & KubeObject;

export const activatorRbac: PolicyRule[] = [
  { apiGroups: [GROUP], resources: [PLURAL], verbs: ['get', 'list', 'watch'] },
  { apiGroups: [''], resources: ['pods'], verbs: ['list', 'watch'] },
  ...replicasRbac,
  ...apiKeysRbac,
  ...jobFrontRbac,
];

export interface KubeBackendOptions {
  client: KubeClient;
  log: Logger;
  /** Only this namespace's APIs (the operator's --namespace). Default: all. */
  namespace?: string;
  /** Shared with this process' scale-to-zero loop (when it leads). */
  states?: ScaleToZeroStates;
  events?: EventRecorder;
  informer?: Pick<InformerOptions<KubeObject>, 'idleTimeoutMs' | 'watchTimeoutSeconds' | 'backoff'>;
  /** Caches shared with the rest of the process; their owner starts and stops them. Default: its own. */
  informers?: CortexInformers;
}

function isRunning(pod: Pod): boolean {
  return pod.status?.phase === 'Running' && !pod.metadata?.deletionTimestamp && !!pod.status.podIP;
}

function isReady(pod: Pod): boolean {
  return isRunning(pod) && (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

/** Why an API is not serving, from its status; undefined when the status names no problem. */
export function reasonOf(api: ApiObject): string | undefined {
  const word = api.status?.status;
  const message = api.status?.message;
  if (!word || word === 'live') return undefined;
  if (!message) return word;
  return message.startsWith(word) ? message : `${word}: ${message}`;
}

export function kubeBackend(options: KubeBackendOptions): Backend & { start(): void; stop(): Promise<void> } {
  const { client, log, namespace } = options;
  const states = options.states ?? new Map();
  const own = options.informers === undefined;
  const { apis, pods } = options.informers ?? cortexInformers({ client, log, namespace, informer: options.informer });

  // pods by API ("namespace/name" → pod name → pod), and who wants to hear of changes
  const byApi = new Map<string, Map<string, Pod>>();
  const listeners = new Map<string, Set<() => void>>();
  const apiKey = (p: Pod) => `${p.metadata?.namespace}/${p.metadata?.labels?.[API_LABEL]}`;
  const changed = (key: string) => {
    for (const l of listeners.get(key) ?? []) l();
  };
  const put = (p: Pod) => {
    const key = apiKey(p);
    let m = byApi.get(key);
    if (!m) byApi.set(key, (m = new Map()));
    m.set(p.metadata?.name ?? '', p);
    changed(key);
  };
  const remove = (p: Pod) => {
    const key = apiKey(p);
    const m = byApi.get(key);
    m?.delete(p.metadata?.name ?? '');
    if (m?.size === 0) byApi.delete(key);
    changed(key);
  };
  pods.on('add', put).on('update', put).on('delete', remove);
  const keys = apiKeyRings({ client, log, namespace, informer: options.informer });
  // the status (and so the 503's reason) may change while requests wait
  apis.on('update', (a) => changed(`${a.metadata.namespace}/${a.metadata.name}`));

  let synced!: () => void;
  const ready = new Promise<void>((resolve) => (synced = resolve));

  return {
    ready,
    api(ns, name) {
      const a = apis.get(`${ns}/${name}`);
      if (!a || a.metadata.deletionTimestamp) return undefined;
      return { reason: reasonOf(a), ...(a.spec.async ? { async: applyDefaults(name, a.spec).async } : {}) };
    },
    keys(ns, name) {
      const a = apis.get(`${ns}/${name}`);
      return a?.spec.networking?.auth === 'api_key' ? keys.ring(ns, name) : undefined;
    },
    readyReplicas(ns, name) {
      return [...(byApi.get(`${ns}/${name}`)?.values() ?? [])]
        .filter(isReady)
        .map((p) => p.status!.podIP!)
        .sort();
    },
    runningReplicas(ns, name) {
      return [...(byApi.get(`${ns}/${name}`)?.values() ?? [])]
        .filter(isRunning)
        .map((p) => p.status!.podIP!)
        .sort();
    },
    watch(ns, name, listener) {
      const key = `${ns}/${name}`;
      let set = listeners.get(key);
      if (!set) listeners.set(key, (set = new Set()));
      set.add(listener);
      return () => {
        set.delete(listener);
        if (set.size === 0) listeners.delete(key);
      };
    },
    released(ns, name) {
      const key = `${ns}/${name}`;
      const at = Date.now() / 1000;
      states.set(key, observeActivity(states.get(key) ?? initialScaleToZeroState(), { at, requests: 0, inFlight: 1 }));
    },
    async wake(ns, name) {
      const key = `${ns}/${name}`;
      const result = await wake(client, ns, name, (current) => {
        const next = wakeOnRequest(states.get(key) ?? initialScaleToZeroState(), Date.now() / 1000, current);
        states.set(key, next.state);
        return next.replicas;
      });
      const api = apis.get(key);
      if (result.to > result.from && api)
        options.events?.event(
          api,
          'Normal',
          'ScaledFromZero',
          `a request arrived while at zero: scaled from ${result.from} to ${result.to}; ` +
            'requests wait in the activator until it is ready',
        );
      return result;
    },
    start() {
      if (own) {
        apis.start();
        pods.start();
      }
      keys.informer.start(); // the activator's alone: nothing else reads the keys
      void Promise.all([apis.waitForSync(), pods.waitForSync(), keys.informer.waitForSync()]).then(() => synced());
    },
    async stop() {
      await keys.informer.stop();
      if (own) await Promise.all([apis.stop(), pods.stop()]);
    },
  };
}
