// The one-shot operations on an API in a cluster: delete, rolling restart, a prediction through
// the API's route when it has one (status.url), else through the API server's service proxy
// (works from a laptop with only a kubeconfig).
import { HttpMethod } from '@kubernetes/client-node';
import { isNotFound, resourcePath } from '../../operator/kube/client.ts';
import { CONFIG_MAPS, DEPLOYMENTS, REALTIME_APIS } from '../../operator/kube/resources.ts';
import { SERVICE_PORT } from '../../operator/reconcilers/service.ts';
import { CliError, ExitCode } from '../errors.ts';
import { explain, talk, type Connection } from './connect.ts';
import { getApi, routedUrl } from './status.ts';
import { deleteSplitter } from './splitters.ts';
import { deleteJobApi } from './job-apis.ts';
import { KIND, SPLITTER_KIND, type JobApiKind } from '../../operator/api/v1alpha1/index.ts';

/** What `cortex delete NAME` deleted. */
export type DeletedKind = typeof KIND | typeof SPLITTER_KIND | JobApiKind;
import { BUNDLE_LABEL } from '../../operator/reconcilers/bundle-names.ts';

/** The annotation `kubectl rollout restart` sets: a new value rolls the pods. */
export const RESTARTED_AT = 'kubectl.kubernetes.io/restartedAt';

/**
 * Deletes the API (a TrafficSplitter, BatchAPI or TaskAPI of that name first) and waits until it
 * is gone and no bundle ConfigMap still names it as an owner:
 * the cluster's garbage collector removes its Deployment, Service, HPA and the bundles only it
 * used. Waiting for the bundles means a deploy right after reuses none that is about to vanish.
 */
export async function deleteApi(
  conn: Connection,
  name: string,
  options: { waitMs?: number } = {},
): Promise<DeletedKind> {
  if (await deleteSplitter(conn, name)) return SPLITTER_KIND;
  // a BatchAPI or TaskAPI: its jobs go with it (owner references)
  const jobKind = await deleteJobApi(conn, name, options);
  if (jobKind !== undefined) return jobKind;
  const { uid } = (await getApi(conn, name)).metadata; // a clear not-found listing what is there
  await talk(conn, `deleting ${name}`, async () => {
    try {
      await conn.client.delete(REALTIME_APIS, conn.namespace, name, 'Foreground');
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  });
  const deadline = Date.now() + (options.waitMs ?? 60_000);
  for (;;) {
    let gone = false;
    try {
      await conn.client.get(REALTIME_APIS, conn.namespace, name);
    } catch (error) {
      if (!isNotFound(error)) throw explain(conn, error, `deleting ${name}`);
      gone = true;
    }
    if (gone) {
      const bundles = await talk(conn, `deleting ${name}`, () =>
        conn.client.list(CONFIG_MAPS, conn.namespace, { labelSelector: BUNDLE_LABEL }),
      );
      if (!bundles.items.some((cm) => (cm.metadata?.ownerReferences ?? []).some((o) => o.uid === uid))) return KIND;
    }
    if (Date.now() > deadline)
      throw new CliError(
        `${name} is still being deleted after ${Math.round((options.waitMs ?? 60_000) / 1000)} s ` +
          `(finalizers or the garbage collector are slow); check with cortex get -e ${conn.env.name}`,
        ExitCode.Failed,
      );
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** A rolling restart, as `kubectl rollout restart` does it. Returns the Deployment's new generation. */
export async function restartApi(conn: Connection, name: string, now = new Date()): Promise<number> {
  await getApi(conn, name);
  return talk(conn, `restarting ${name}`, async () => {
    const patch = { spec: { template: { metadata: { annotations: { [RESTARTED_AT]: now.toISOString() } } } } };
    try {
      const d = await conn.client.request<{ metadata: { generation: number } }>(
        HttpMethod.PATCH,
        resourcePath(DEPLOYMENTS, conn.namespace, name),
        {
          body: patch,
          contentType: 'application/strategic-merge-patch+json',
        },
      );
      return d.metadata.generation;
    } catch (error) {
      if (isNotFound(error))
        throw new CliError(
          `${name} has no replicas yet (no Deployment): check cortex get ${name} -e ${conn.env.name}`,
          ExitCode.Failed,
        );
      throw error;
    }
  });
}

export interface Prediction {
  status: number;
  statusText: string;
  contentType?: string;
  /**
   * The answer's bytes as they arrive: a stream's chunks as the API sends them (the API server's
   * service proxy passes them on as they come, flushing every 200 ms or so).
   */
  body: AsyncIterable<Uint8Array> | Iterable<Uint8Array>;
}

/**
 * POSTs `body` to the API: through its route when it has one that serves, else to its Service
 * through the API server's proxy. `apiKey` (networking.auth: api_key) can only go by the route:
 * the API server takes the Authorization header for itself.
 */
export async function predictThroughProxy(
  conn: Connection,
  name: string,
  body: Buffer,
  contentType: string,
  apiKey?: string,
): Promise<Prediction> {
  const url = routedUrl(await getApi(conn, name));
  if (url) return predictThroughRoute(name, url, body, contentType, apiKey);
  if (apiKey !== undefined) {
    throw new CliError(
      `${name} has no route that serves yet (cortex get ${name} shows its Routed condition), and without one ` +
        "cortex predict goes through the API server's service proxy, which takes the Authorization header for " +
        'itself: a key cannot pass it. Give the API a route (docs/routes.md), or call it where clients reach it ' +
        "with curl -H 'Authorization: Bearer <key>' (docs/auth.md)",
      ExitCode.Usage,
    );
  }
  const path =
    `/api/v1/namespaces/${encodeURIComponent(conn.namespace)}` +
    `/services/http:${encodeURIComponent(name)}:${SERVICE_PORT}/proxy/`;
  const answer = await talk(conn, `calling ${name}`, () =>
    conn.client.rawStream(HttpMethod.POST, path, { body, headers: { 'Content-Type': contentType } }),
  );
  return {
    status: answer.status,
    statusText: answer.status < 400 ? 'OK' : 'error',
    ...(answer.headers['content-type'] ? { contentType: answer.headers['content-type'] } : {}),
    body: answer.body,
  };
}

/** The same through the API's route from outside the cluster (status.url, once its Routed condition is True). */
async function predictThroughRoute(
  name: string,
  url: string,
  body: Buffer,
  contentType: string,
  apiKey: string | undefined,
): Promise<Prediction> {
  let response: Response;
  const headers: Record<string, string> = { 'content-type': contentType };
  if (apiKey !== undefined) headers.authorization = `Bearer ${apiKey}`;
  try {
    response = await fetch(url, { method: 'POST', headers, body });
  } catch (error) {
    const cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : String(error);
    throw new CliError(
      `could not reach ${name} at ${url} (its route): ${cause}; ` +
        'check the Gateway or Ingress and DNS for that host (cortex get shows the Routed condition)',
      ExitCode.Failed,
    );
  }
  return {
    status: response.status,
    statusText: response.statusText || (response.status < 400 ? 'OK' : 'error'),
    ...(response.headers.get('content-type') ? { contentType: response.headers.get('content-type') ?? '' } : {}),
    body: response.body ?? [],
  };
}
