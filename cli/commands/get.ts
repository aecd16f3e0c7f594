// `cortex get [API]`: the APIs with their status, replicas, requests and endpoint.
import { Type, type Static } from '@sinclair/typebox';
import { Command } from 'commander';
import type { ChalkInstance } from 'chalk';
import { CliError, ExitCode } from '../errors.ts';
import type { Factory, LocalSession } from '../factory.ts';
import { colorsOf, isTty, printErr } from '../io.ts';
import { curlExample } from '../local/examples.ts';
import type { ApiView } from '../local/status.ts';
import { ago, duration, latency, plural, recentText, table, type OutputFormat } from '../output.ts';
import { action, envOption, format, notFound, outputOption, type RunF, type Target } from './common.ts';
import { clusterGetText } from './get-cluster.ts';
import { renderSplitter, renderSplitterList, splitterRates } from '../local/splitter-view.ts';
import { weightsText } from '../../operator/routes/splitter-route.ts';
import { clusterJobGetText, jobGetText } from './jobs.ts';
import { connect } from '../cluster/connect.ts';

export const GetOptions = Type.Object({
  api: Type.Optional(Type.String()),
  /** A job of a BatchAPI (cli/commands/jobs.ts). */
  jobId: Type.Optional(Type.String()),
  env: Type.Optional(Type.String()),
  watch: Type.Optional(Type.Boolean()),
  output: Type.String(),
});
export type GetOptions = Static<typeof GetOptions>;

/** What `cortex get` prints once for the local environment (the list, or one API), as text or JSON. */
async function localGetText(
  local: LocalSession,
  name: string | undefined,
  fmt: OutputFormat,
  compact: boolean,
  c: ChalkInstance,
): Promise<string> {
  const apis = await local.apis();
  const one = name === undefined ? undefined : apis.find((a) => a.name === name);
  // a name that is no API may be a TrafficSplitter
  const splitters = name !== undefined && one === undefined ? ((await local.status())?.splitters ?? []) : [];
  const splitter = splitters.find((sp) => sp.name === name);
  if (splitter) {
    const rows = await splitterRates(splitter, apis);
    if (fmt === 'json') return JSON.stringify({ ...splitter, backends: rows }, null, compact ? 0 : 2) + '\n';
    return renderSplitter(rows, `${local.target.baseUrl}${splitter.endpoint}`, c);
  }
  if (name !== undefined && one === undefined)
    throw notFound(name, [...apis.map((a) => a.name), ...splitters.map((sp) => sp.name)]);
  if (fmt === 'json') return JSON.stringify(one ?? apis, null, compact ? 0 : 2) + '\n';
  if (one !== undefined) return renderOne(one, local.target, c);
  const listed = ((await local.status())?.splitters ?? []).map((sp) => ({
    name: sp.name,
    weights: weightsText({ networking: { endpoint: sp.endpoint }, apis: sp.apis }),
    endpoint: `${local.target.baseUrl}${sp.endpoint}`,
  }));
  return renderList(apis, local.target, c) + renderSplitterList(listed, c);
}

export async function runGet(options: GetOptions, f: Factory): Promise<void> {
  const fmt = format(options);
  const env = f.environment(options.env);
  const name = options.api;
  const watch = options.watch === true;
  const c = colorsOf(f.io, 'stdout');
  // the environment is resolved (a cluster connected) once, not every 2 seconds
  let once: () => Promise<string>;
  if (env.provider === 'kubernetes') {
    const cluster = f.cluster(env);
    // a BatchAPI's or TaskAPI's jobs: asked for by JOB_ID, or the name is no RealtimeAPI
    const jobs = async (api: string, jobId: string | undefined) => {
      const text = await clusterJobGetText(connect(env), api, jobId, fmt);
      if (text === undefined) throw notFound(api, []);
      return text;
    };
    once = async () => {
      if (name !== undefined && options.jobId !== undefined) return jobs(name, options.jobId);
      try {
        return await clusterGetText(cluster, name, fmt, watch, c);
      } catch (error) {
        if (name === undefined || !(error instanceof CliError) || error.exitCode !== ExitCode.NotFound) throw error;
        return jobs(name, undefined).catch(() => Promise.reject(error));
      }
    };
  } else {
    const local = f.local(env);
    const jobs = name === undefined ? undefined : () => jobGetText(local.target.layout, name, options.jobId, fmt);
    once = async () => jobs?.() ?? localGetText(local, name, fmt, watch, c);
  }
  if (!watch) {
    const text = await once();
    // What went wrong outside any API (a corrupt state.json that was replaced, ...).
    if (env.provider !== 'kubernetes') {
      const e = colorsOf(f.io, 'stderr');
      const running = await f.local(env).findSupervisor();
      for (const w of (await running?.status())?.warnings ?? []) printErr(f.io, `${e.yellow('warning:')} ${w}`);
    }
    return void f.io.stdout.write(text);
  }
  const tty = isTty(f.io.stdout) && fmt === 'pretty';
  for (;;) {
    const text = await once();
    if (tty) {
      const title = `every 2s: cortex get${name ? ` ${name}` : ''}    ${new Date().toLocaleTimeString()}`;
      f.io.stdout.write(`\x1b[H\x1b[2J${c.dim(title)}\n\n${text}`);
    } else f.io.stdout.write(fmt === 'json' ? text : `${text}\n`);
    await new Promise((r) => setTimeout(r, 2000));
  }
}

export function getCommand(f: Factory, runF: RunF<GetOptions> = runGet): Command {
  return new Command('get')
    .description('show the deployed APIs (or one of them): status, replicas, requests, endpoint')
    .argument('[api]', 'name of an API: show it in detail (a BatchAPI: its jobs)')
    .argument('[job_id]', 'a job of a BatchAPI: its status and batch counts')
    .addOption(envOption())
    .option('-w, --watch', 'show again every 2 seconds, until interrupted')
    .addOption(outputOption())
    .action(action(GetOptions, ['api', 'jobId'], (options) => runF(options, f)));
}

function statusText(api: ApiView, c: ChalkInstance): string {
  if (api.status === 'live') return c.green('live');
  if (api.status === 'updating') return c.yellow('updating');
  return c.red('error');
}

export function renderList(apis: ApiView[], t: Target, c: ChalkInstance): string {
  if (apis.length === 0)
    return `no APIs are deployed in the ${t.env.name} environment; deploy one with: cortex deploy DIR\n`;
  const rows = apis.map((a) => [
    a.name,
    statusText(a, c),
    `${a.ready}/${a.requested}`,
    String(a.upToDate),
    ago(a.lastUpdate),
    latency(a.metrics.averageLatencyMs),
    String(a.metrics['2XX']),
    String(a.metrics['4XX']),
    String(a.metrics['5XX']),
    a.url,
  ]);
  let text = table(
    ['api', 'status', 'replicas', 'up-to-date', 'last update', 'avg request', '2XX', '4XX', '5XX', 'endpoint'],
    rows,
    c,
  );
  const notes = apis.flatMap((a) => {
    const lines: string[] = [];
    if (a.status === 'error')
      lines.push(
        `${a.name}: ${c.red('error')}: ${a.reason ?? ''}` +
          (a.restarts > 0 ? ` (restarted ${plural(a.restarts, 'time')})` : ''),
      );
    else if (a.status === 'updating' && a.reason) lines.push(`${a.name}: ${a.reason}`);
    if (a.lastDeployError)
      lines.push(
        `${a.name}: the last deploy (version ${a.lastDeployError.version}) failed: ${a.lastDeployError.reason}`,
      );
    return lines;
  });
  if (notes.length > 0) text += '\n' + notes.join('\n') + '\n';
  return text;
}

export function renderOne(api: ApiView, t: Target, c: ChalkInstance): string {
  const fields: [string, string][] = [
    ['status', statusText(api, c) + (api.reason ? `: ${api.reason}` : '')],
    ['replicas', `${api.ready}/${api.requested} ready, ${api.upToDate} up to date, ${plural(api.restarts, 'restart')}`],
    ['last update', api.lastUpdate ? `${ago(api.lastUpdate)} ago (version ${api.version})` : '-'],
    ['endpoint', api.url],
    [
      'requests',
      `2XX ${api.metrics['2XX']}, 4XX ${api.metrics['4XX']}, 5XX ${api.metrics['5XX']}; ` +
        `average ${latency(api.metrics.averageLatencyMs)}`,
    ],
  ];
  if (api.recent) fields.push([`last ${duration(api.recent.windowSeconds)}`, recentText(api.recent)]);
  if (api.updatingTo) fields.push(['updating to', `version ${api.updatingTo}`]);
  if (api.lastDeployError)
    fields.push([
      'last deploy',
      `version ${api.lastDeployError.version} failed ${ago(api.lastDeployError.at)} ago: ${api.lastDeployError.reason}`,
    ]);
  if (api.source) fields.push(['deployed from', api.source]);
  const w = Math.max(...fields.map(([k]) => k.length)) + 2;
  let text = fields.map(([k, v]) => `${(k + ':').padEnd(w)}${v}`).join('\n') + '\n';
  if (api.replicas.length > 0) {
    text +=
      '\n' +
      table(
        ['replica', 'version', 'role', 'state', 'restarts', 'pid', 'started', 'last error'],
        api.replicas.map((r) => [
          r.id,
          r.version,
          r.role,
          r.state === 'ready'
            ? r.reloadErrors
              ? c.yellow('ready, a new model version failed')
              : c.green(r.state)
            : r.error
              ? c.red(r.state)
              : c.yellow(r.progress !== undefined ? `${r.state}: ${r.progress}` : r.state),
          String(r.restarts),
          r.pid !== undefined ? String(r.pid) : '-',
          ago(r.startedAt),
          r.error ?? r.reloadErrors?.join('; ') ?? r.lastExit ?? '-',
        ]),
        c,
      );
  }
  text += `\nexample: ${curlExample(api.url, api.source)}\n`;
  void t;
  return text;
}
