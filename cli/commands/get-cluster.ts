// `cortex get [API]` for a kubernetes environment: the RealtimeAPIs' status as the operator
// wrote it (and the BatchAPIs and TaskAPIs with their jobs not ended), and for one API its pods.
import type { ChalkInstance } from 'chalk';
import { podView, viewOf, type ClusterApiView, type PodView } from '../cluster/status.ts';
import type { ClusterSession } from '../factory.ts';
import type { JobApiView } from '../cluster/job-apis.ts';
import { KIND } from '../../operator/api/v1alpha1/index.ts';
import { ago, duration, plural, recentText, table, type OutputFormat } from '../output.ts';
import { CliError, ExitCode } from '../errors.ts';
import { renderSplitter, renderSplitterList } from '../local/splitter-view.ts';
import { weightsText } from '../../operator/routes/splitter-route.ts';
import type { RecentRequests } from '../../operator/metrics-adapter/request-stats.ts';

type Connection = Pick<ClusterSession, 'env' | 'namespace'>;

function statusText(status: string, c: ChalkInstance): string {
  if (status === 'live') return c.green(status);
  if (status === 'updating') return c.yellow(status);
  return c.red(status);
}

/** `cortex get` against a cluster, as text or JSON; `c` colours stdout. */
export async function clusterGetText(
  conn: ClusterSession,
  name: string | undefined,
  fmt: OutputFormat,
  compact: boolean,
  c: ChalkInstance,
): Promise<string> {
  if (name === undefined) {
    const views = (await conn.listApis()).map(viewOf);
    const jobApis = await conn.listJobApis();
    if (fmt === 'json')
      return JSON.stringify([...views.map((v) => ({ kind: KIND, ...v })), ...jobApis], null, compact ? 0 : 2) + '\n';
    const splitters = (await conn.listSplitters()).map((s) => ({
      name: s.name,
      status: s.status?.status ?? 'updating',
      weights: weightsText(s.spec),
      endpoint: s.status?.url ?? s.spec.networking.endpoint,
    }));
    if (views.length === 0 && jobApis.length > 0)
      return renderJobApis(jobApis, conn, c) + renderSplitterList(splitters, c);
    return renderList(views, conn, c) + renderJobApis(jobApis, conn, c) + renderSplitterList(splitters, c);
  }
  const api = await conn.getApi(name).catch(async (error: unknown) => {
    // a name that is no RealtimeAPI may be a TrafficSplitter
    const splitter =
      error instanceof CliError && error.exitCode === ExitCode.NotFound ? await conn.splitter(name) : undefined;
    if (!splitter) throw error;
    return splitter;
  });
  if (!('metadata' in api)) {
    const rows = await conn.splitterRates(api);
    if (fmt === 'json') return JSON.stringify({ ...api, backends: rows }, null, compact ? 0 : 2) + '\n';
    const status = api.status?.status ?? 'updating';
    const message = api.status?.message ? `\n${statusText(status, c)}: ${api.status.message}` : '';
    const url = api.status?.url ?? `${api.spec.networking.endpoint} (no route yet)`;
    return `status: ${statusText(status, c)}${message}\n\n${renderSplitter(rows, url, c)}`;
  }
  const view = viewOf(api);
  const podObjects = await conn.apiPods(name);
  const pods = podObjects.map(podView);
  const recent = await conn.recentRequests(name, podObjects);
  if (fmt === 'json')
    return (
      JSON.stringify(
        { ...view, ...(recent ? { recent } : {}), conditions: api.status?.conditions ?? [], pods },
        null,
        compact ? 0 : 2,
      ) + '\n'
    );
  return renderOne(view, pods, api.status?.conditions ?? [], conn, c, recent);
}

/** Where the last minutes come from: the operator's window, or the replicas' whole life and why. */
function recentSource(r: RecentRequests): string {
  if (r.source === 'metrics-api') return `the last ${duration(r.windowSeconds)}, from the operator's metrics API`;
  // the CLI keeps no history between runs: the ready replicas' counters over their life
  return `the last ${duration(r.windowSeconds)}, since the replicas started${r.fallback ? `: ${r.fallback}` : ''}`;
}

function renderList(apis: ClusterApiView[], conn: Connection, c: ChalkInstance): string {
  if (apis.length === 0)
    return (
      `no APIs in namespace ${conn.namespace} of ${conn.env.name}; ` +
      `deploy one with: cortex deploy DIR -e ${conn.env.name}\n`
    );
  const rows = apis.map((a) => [
    a.name,
    statusText(a.status, c),
    `${a.ready}/${a.requested}`,
    String(a.upToDate),
    ago(a.lastUpdate),
    a.endpoint ?? '-',
  ]);
  const headers = ['api', 'status', 'replicas', 'up-to-date', 'last update', 'endpoint (in the cluster)'];
  // the URL outside the cluster, when the operator writes routes (docs/routes.md)
  if (apis.some((a) => a.url)) {
    headers.push('url');
    rows.forEach((row, i) => row.push(apis[i].url ?? '-'));
  }
  let text = table(headers, rows, c);
  const notes = apis
    .filter((a) => a.status !== 'live' && a.message)
    .map((a) => `${a.name}: ${statusText(a.status, c)}: ${a.message}`);
  if (notes.length > 0) text += '\n' + notes.join('\n') + '\n';
  return text;
}

/** The BatchAPIs and TaskAPIs: no replicas, their jobs not ended, where jobs are submitted. */
function renderJobApis(apis: JobApiView[], conn: Connection, c: ChalkInstance): string {
  if (apis.length === 0) return '';
  const rows = apis.map((a) => [a.name, a.kind, String(a.activeJobs), ago(a.created), a.path]);
  return (
    '\n' +
    table(['api', 'kind', 'active jobs', 'age', 'endpoint'], rows, c) +
    `\nsubmit a job: cortex submit ${apis[0].name} job.json -e ${conn.env.name}; ` +
    `its jobs: cortex get ${apis[0].name} -e ${conn.env.name}\n`
  );
}

function renderOne(
  api: ClusterApiView,
  pods: PodView[],
  conditions: { type: string; status: string; reason?: string; message?: string }[],
  conn: Connection,
  c: ChalkInstance,
  recent: RecentRequests | undefined,
): string {
  const fields: [string, string][] = [
    ['status', statusText(api.status, c) + (api.message && api.status !== 'live' ? `: ${api.message}` : '')],
    ['replicas', `${api.ready}/${api.requested} ready, ${api.upToDate} up to date`],
    ['last update', `${ago(api.lastUpdate)} ago`],
    ['endpoint', `${api.endpoint ?? '-'} (inside the cluster)`],
    ...(api.url ? [['url', `${api.url} (outside the cluster)`] as [string, string]] : []),
    ['environment', `${conn.env.name}, namespace ${conn.namespace}`],
    ...(recent ? [['requests', `${recentText(recent)} (${recentSource(recent)})`] as [string, string]] : []),
  ];
  // The operator writes a failure's message in status.message and in its conditions too: it is
  // printed once, on the status line; a condition adds its message only when it says more.
  const shown = api.status !== 'live' ? api.message : undefined;
  for (const cond of conditions)
    fields.push([
      `condition ${cond.type}`,
      `${cond.status} (${cond.reason ?? ''})${cond.message && cond.message !== shown ? `: ${cond.message}` : ''}`,
    ]);
  const w = Math.max(...fields.map(([k]) => k.length)) + 2;
  let text = fields.map(([k, v]) => `${(k + ':').padEnd(w)}${v}`).join('\n') + '\n';
  if (pods.length > 0) {
    text +=
      '\n' +
      table(
        ['pod', 'phase', 'ready', 'restarts', 'node', 'started', 'reason'],
        pods.map((p) => [
          p.name,
          p.phase,
          p.ready ? c.green('yes') : c.yellow('no'),
          String(p.restarts),
          p.node ?? '-',
          ago(p.started),
          p.reason ?? '-',
        ]),
        c,
      );
  } else {
    text += `\n${plural(0, 'pod')} yet\n`;
  }
  text += `\ntry it: cortex predict ${api.name} -e ${conn.env.name} sample.json\n`;
  return text;
}
