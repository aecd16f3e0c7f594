// What `cortex get` shows for a kubernetes environment, collected (not printed) from the
// RealtimeAPIs' status and, for one API, its pods.
import type { V1Pod } from '@kubernetes/client-node';
import type { RealtimeApi } from '../../operator/api/v1alpha1/index.ts';
import { isNotFound, type KubeObject } from '../../operator/kube/client.ts';
import { PODS, REALTIME_APIS } from '../../operator/kube/resources.ts';
import { API_LABEL } from '../../operator/reconcilers/types.ts';
import { CliError, ExitCode } from '../errors.ts';
import { explain, talk, type Connection } from './connect.ts';

export interface ClusterApiView {
  name: string;
  namespace: string;
  status: string;
  message?: string;
  requested: number;
  ready: number;
  upToDate: number;
  /** When the spec last changed or the API last became ready (ISO time). */
  lastUpdate?: string;
  /** In-cluster URL of the Service. */
  endpoint?: string;
  /** URL path of the API (spec.endpoint). */
  path: string;
  /** URL outside the cluster, through the API's HTTPRoute or Ingress (docs/routes.md). */
  url?: string;
  /** The status describes an older spec: the operator has not caught up yet. */
  stale: boolean;
}

export interface PodView {
  name: string;
  phase: string;
  ready: boolean;
  restarts: number;
  node?: string;
  started?: string;
  /** The pod's problem, when its containers wait or crash. */
  reason?: string;
}

export function viewOf(api: RealtimeApi): ClusterApiView {
  const s = api.status ?? {};
  const times = (s.conditions ?? [])
    .map((c) => c.lastTransitionTime)
    .filter((t): t is string => typeof t === 'string')
    .sort();
  const stale = (s.observedGeneration ?? 0) < (api.metadata.generation ?? 0);
  return {
    name: api.metadata.name,
    namespace: api.metadata.namespace,
    status: stale ? 'updating' : (s.status ?? 'updating'),
    ...(s.message ? { message: s.message } : {}),
    requested: s.replicas?.requested ?? 0,
    ready: s.replicas?.ready ?? 0,
    upToDate: s.replicas?.updated ?? 0,
    ...(times.length > 0
      ? { lastUpdate: times[times.length - 1] }
      : api.metadata.creationTimestamp
        ? { lastUpdate: api.metadata.creationTimestamp }
        : {}),
    ...(s.endpoint ? { endpoint: s.endpoint } : {}),
    path: api.spec.networking?.endpoint ?? `/${api.metadata.name}`,
    ...(s.url ? { url: s.url } : {}),
    stale,
  };
}

export function podView(pod: V1Pod): PodView {
  const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  const waiting = statuses.map((c) => c.state?.waiting?.reason).find((r) => r !== undefined);
  const unschedulable = pod.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
  return {
    name: pod.metadata?.name ?? '',
    phase: pod.metadata?.deletionTimestamp ? 'Terminating' : (pod.status?.phase ?? 'Pending'),
    ready: pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
    restarts: (pod.status?.containerStatuses ?? []).reduce((n, c) => n + c.restartCount, 0),
    ...(pod.spec?.nodeName ? { node: pod.spec.nodeName } : {}),
    ...(pod.status?.startTime ? { started: String(pod.status.startTime) } : {}),
    ...(waiting ? { reason: waiting } : unschedulable ? { reason: unschedulable.message ?? 'Unschedulable' } : {}),
  };
}

export async function listApis(conn: Connection): Promise<RealtimeApi[]> {
  const list = await talk(conn, `listing the APIs of ${conn.env.name}`, () =>
    conn.client.list<KubeObject>(REALTIME_APIS, conn.namespace),
  );
  return (list.items as unknown as RealtimeApi[]).sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
}

/** The API, or a not-found error listing the namespace's APIs. */
export async function getApi(conn: Connection, name: string): Promise<RealtimeApi> {
  try {
    return (await conn.client.get<KubeObject>(REALTIME_APIS, conn.namespace, name)) as unknown as RealtimeApi;
  } catch (error) {
    if (!isNotFound(error)) throw explain(conn, error, `reading ${name}`);
    const known = (await listApis(conn)).map((a) => a.metadata.name);
    throw new CliError(
      known.length === 0
        ? `no API named ${name} in namespace ${conn.namespace} of ${conn.env.name}: nothing is deployed there`
        : `no API named ${name} in namespace ${conn.namespace} of ${conn.env.name}; deployed: ${known.join(', ')}`,
      ExitCode.NotFound,
    );
  }
}

export async function apiPods(conn: Connection, name: string): Promise<V1Pod[]> {
  const list = await talk(conn, `listing the pods of ${name}`, () =>
    conn.client.list<KubeObject>(PODS, conn.namespace, { labelSelector: `${API_LABEL}=${name}` }),
  );
  return (list.items as unknown as V1Pod[]).sort((a, b) =>
    String(a.metadata?.name).localeCompare(String(b.metadata?.name)),
  );
}

/** The API's URL outside the cluster once its route serves (the Routed condition is True); else undefined. */
export function routedUrl(api: RealtimeApi): string | undefined {
  const routed = (api.status?.conditions ?? []).find((c) => c.type === 'Routed');
  return routed?.status === 'True' ? api.status?.url : undefined;
}
