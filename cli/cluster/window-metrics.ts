// `cortex get API`'s last minutes on a cluster: the RealtimeAPI's object metrics that the
// operator's metrics API serves through the API server's aggregator
// (operator/metrics-adapter/request-metrics.ts). When that API is off (another adapter, or
// --no-metrics-api) or does not answer, the ready replicas' counters since they started
// (pod-metrics.ts), with the reason.
import { HttpMethod, type V1Pod } from '@kubernetes/client-node';
import { parseQuantity } from '../../operator/api/v1alpha1/quantity.ts';
import { REALTIME_API_RESOURCE } from '../../operator/metrics-adapter/request-metrics.ts';
import type { RecentRequests } from '../../operator/metrics-adapter/request-stats.ts';
import { errorMessage } from '../../operator/util/errors.ts';
import type { Connection } from './connect.ts';
import { sinceReplicasStarted } from './pod-metrics.ts';

const TIMEOUT_MS = 5_000;
const METRICS_PATH = '/apis/custom.metrics.k8s.io/v1beta2';

/** One metric's value and windowSeconds; undefined when the API has none (404: no requests in the window). */
async function readMetric(
  conn: Connection,
  name: string,
  metric: string,
  signal: AbortSignal,
): Promise<{ value: number; windowSeconds: number } | undefined> {
  const path = `${METRICS_PATH}/namespaces/${conn.namespace}/${REALTIME_API_RESOURCE}/${name}/${metric}`;
  const answer = await conn.client.raw(HttpMethod.GET, path, { signal });
  const body = answer.body.toString();
  if (answer.status === 404 && body.includes(metric)) return undefined; // the adapter's: no value
  if (answer.status !== 200) {
    let message = body.slice(0, 200);
    try {
      message = (JSON.parse(body) as { message?: string }).message ?? message;
    } catch {
      // not a Status: the text as it is
    }
    throw new Error(`GET ${path}: HTTP ${answer.status}: ${message}`);
  }
  const item = (JSON.parse(body) as { items?: { value: string; windowSeconds?: number }[] }).items?.[0];
  if (item === undefined) throw new Error(`GET ${path}: an empty MetricValueList`);
  return { value: parseQuantity(item.value), windowSeconds: item.windowSeconds ?? 0 };
}

/** The API's figures over the operator's window; throws saying why when the metrics API cannot give them. */
export async function fromMetricsApi(conn: Connection, name: string): Promise<RecentRequests> {
  const signal = AbortSignal.timeout(TIMEOUT_MS);
  const [requests, ratio, p50, p99] = await Promise.all(
    [
      'cortex_requests',
      'cortex_request_error_ratio',
      'cortex_request_latency_p50_seconds',
      'cortex_request_latency_p99_seconds',
    ].map((m) => readMetric(conn, name, m, signal)),
  );
  if (requests === undefined) throw new Error('no ready replica of the API was scraped in the window');
  const r: RecentRequests = {
    windowSeconds: requests.windowSeconds,
    requests: requests.value,
    source: 'metrics-api',
  };
  if (ratio !== undefined) r.errorRatio = ratio.value;
  if (p50 !== undefined) r.p50Ms = p50.value * 1000;
  if (p99 !== undefined) r.p99Ms = p99.value * 1000;
  return r;
}

/** The metrics API's window, else the replicas' lifetime counters (saying why); undefined: neither. */
export async function recentRequests(
  conn: Connection,
  name: string,
  pods: V1Pod[],
): Promise<RecentRequests | undefined> {
  let fallback: string;
  try {
    return await fromMetricsApi(conn, name);
  } catch (error) {
    fallback = `the operator's metrics API did not give them (${errorMessage(error)})`;
  }
  const lifetime = await sinceReplicasStarted(conn, pods);
  return lifetime && { ...lifetime, source: 'replicas', fallback };
}
