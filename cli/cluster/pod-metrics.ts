// The /metrics of an API's ready replicas, read through the API server's pod proxy (the verb
// the CLI's role has: get pods/proxy, cli/cluster/rbac.ts), on the port the operator announces
// in each pod's prometheus.io/port annotation (the runtime's, a gRPC API's admin port, or
// cortex proxy's for an API of containers).
import { HttpMethod, type V1Pod } from '@kubernetes/client-node';
import { RUNTIME_PORT } from '../../operator/reconcilers/deployment.ts';
import { countsOf } from '../request-window.ts';
import { sum, summarize, type RecentRequests } from '../../operator/metrics-adapter/request-stats.ts';
import type { Connection } from './connect.ts';

export function isReady(pod: V1Pod): boolean {
  return (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

/** Each ready replica's /metrics text; a replica that does not answer (going away) is left out. */
export async function readyPodMetrics(conn: Connection, pods: V1Pod[]): Promise<{ pod: V1Pod; text: string }[]> {
  const answers = await Promise.all(
    pods.filter(isReady).map(async (pod) => {
      const port = pod.metadata?.annotations?.['prometheus.io/port'] ?? String(RUNTIME_PORT);
      const path = `/api/v1/namespaces/${conn.namespace}/pods/${pod.metadata?.name}:${port}/proxy/metrics`;
      try {
        const answer = await conn.client.raw(HttpMethod.GET, path, {});
        return answer.status === 200 ? { pod, text: answer.body.toString() } : undefined;
      } catch {
        return undefined;
      }
    }),
  );
  return answers.filter((a) => a !== undefined);
}

/**
 * Requests, 5xx share and p50/p99 of the API's ready replicas since they started (their counters'
 * whole life: the CLI keeps no history between runs); windowSeconds: the oldest one's age.
 */
export async function sinceReplicasStarted(
  conn: Connection,
  pods: V1Pod[],
  now = Date.now(),
): Promise<RecentRequests | undefined> {
  const scraped = await readyPodMetrics(conn, pods);
  if (scraped.length === 0) return undefined;
  const started = scraped.map(({ pod }) => new Date(pod.status?.startTime ?? now).getTime());
  return summarize(sum(scraped.map(({ text }) => countsOf(text))), (now - Math.min(...started)) / 1000);
}
