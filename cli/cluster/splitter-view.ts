// `cortex get SPLITTER` against a cluster: the TrafficSplitter's status, and each API behind it
// side by side with its request rate and error rate, read from every ready replica's /metrics
// (the runtime's cortex_requests_total) through the API server's pod proxy, twice a second apart.
import type { TrafficSplitterSpec, TrafficSplitterStatus } from '../../operator/api/v1alpha1/index.ts';
import { isNotFound, type KubeObject } from '../../operator/kube/client.ts';
import { TRAFFIC_SPLITTERS } from '../../operator/trafficsplitter-controller.ts';
import { parsePrometheus, type RequestMetrics } from '../local/metrics.ts';
import type { BackendRates } from '../local/splitter-view.ts';
import type { Connection } from './connect.ts';
import { apiPods, getApi } from './status.ts';
import { readyPodMetrics } from './pod-metrics.ts';

export interface ClusterSplitter {
  name: string;
  spec: TrafficSplitterSpec;
  status?: TrafficSplitterStatus;
}

/** Every TrafficSplitter of the namespace (none when the cluster lacks the CRD: an older chart). */
export async function listSplitters(conn: Connection): Promise<ClusterSplitter[]> {
  try {
    const list = await conn.client.list<KubeObject & ClusterSplitter>(TRAFFIC_SPLITTERS, conn.namespace);
    return list.items.map((o) => ({
      name: o.metadata!.name!,
      spec: o.spec,
      ...(o.status ? { status: o.status } : {}),
    }));
  } catch (error) {
    if (isNotFound(error)) return [];
    throw error;
  }
}

export async function getSplitter(conn: Connection, name: string): Promise<ClusterSplitter | undefined> {
  try {
    const o = await conn.client.get<KubeObject & ClusterSplitter>(TRAFFIC_SPLITTERS, conn.namespace, name);
    return { name, spec: o.spec, ...(o.status ? { status: o.status } : {}) };
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

/** The request counts of one replica's /metrics text, by status class. */
export function requestCounts(text: string): RequestMetrics {
  const counts: RequestMetrics = { '2XX': 0, '4XX': 0, '5XX': 0 };
  for (const s of parsePrometheus(text)) {
    if (s.name !== 'cortex_requests_total') continue;
    const cls = `${String(s.labels.status_code ?? '')[0]}XX`;
    if (cls === '2XX' || cls === '4XX' || cls === '5XX') counts[cls] += s.value;
  }
  return counts;
}

/** The sum over the API's ready replicas; undefined when none answers. */
async function apiCounts(conn: Connection, api: string): Promise<RequestMetrics | undefined> {
  const scraped = await readyPodMetrics(conn, await apiPods(conn, api));
  if (scraped.length === 0) return undefined;
  const total: RequestMetrics = { '2XX': 0, '4XX': 0, '5XX': 0 };
  for (const { text } of scraped) {
    const c = requestCounts(text);
    for (const k of ['2XX', '4XX', '5XX'] as const) total[k] += c[k];
  }
  return total;
}

export async function clusterSplitterRates(
  conn: Connection,
  s: ClusterSplitter,
  windowMs = 1000,
): Promise<BackendRates[]> {
  const sample = () => Promise.all(s.spec.apis.map((a) => apiCounts(conn, a.name)));
  const start = Date.now();
  const first = await sample();
  await new Promise((r) => setTimeout(r, windowMs));
  const second = await sample();
  const seconds = (Date.now() - start) / 1000;
  const sum = (m: RequestMetrics) => m['2XX'] + m['4XX'] + m['5XX'];
  return Promise.all(
    s.spec.apis.map(async (a, i) => {
      const before = first[i];
      const after = second[i];
      const requests = before && after ? Math.max(0, sum(after) - sum(before)) : 0;
      const errors = before && after ? Math.max(0, after['5XX'] - before['5XX']) : 0;
      const status = await getApi(conn, a.name).then(
        (api) => api.status?.status ?? 'updating',
        () => 'missing',
      );
      return {
        api: a.name,
        weight: a.shadow ? ('shadow' as const) : a.weight,
        status,
        requestsPerSecond: requests / seconds,
        ...(requests > 0 ? { errorRate: (errors / requests) * 100 } : {}),
        total: after ?? { '2XX': 0, '4XX': 0, '5XX': 0 },
      };
    }),
  );
}
