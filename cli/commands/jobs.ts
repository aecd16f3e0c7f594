// The jobs of BatchAPIs and TaskAPIs (docs/batch.md, docs/task.md): `cortex submit API [FILE|-]`
// starts one from Cortex's submission JSON; `cortex get API [JOB_ID]`, `cortex delete API JOB_ID`
// (stops it) and `cortex logs API JOB_ID` reach here from their commands when API is a job API.
// In a cluster, submit creates a BatchJob or TaskJob (cli/cluster/jobs.ts), get reads them,
// delete API JOB_ID sets the job's spec.stop (the operator deletes its workers and marks it
// stopped; the resource stays) and logs API JOB_ID reads its pods' logs through the API server.
import { readFileSync } from 'node:fs';
import { Type, type Static } from '@sinclair/typebox';
import { Command } from 'commander';
import { CliError, ExitCode } from '../errors.ts';
import type { Factory } from '../factory.ts';
import { isTty, printErr, printOut } from '../io.ts';
import { Tail } from '../local/log-tail.ts';
import { JOB_DONE_WORDS } from '../../operator/api/v1alpha1/index.ts';
import { humanLines } from '../local/log-format.ts';
import {
  deleteJobApi,
  jobApi,
  localJob,
  localJobLog,
  localJobLogFile,
  localJobs,
  parseJobJson,
  stopJobMessage,
  submitLocalJob,
} from '../local/jobs.ts';
import type { LocalJob } from '../local/jobs.ts';
import type { Layout } from '../local/paths.ts';
import { table, type OutputFormat } from '../output.ts';
import { action, envOption, format, outputOption, type RunF } from './common.ts';
import { readStdin } from './predict.ts';
import { connect, type Connection } from '../cluster/connect.ts';
import { clusterJob, clusterJobApiKind, clusterJobs, stopClusterJob, submitClusterJob } from '../cluster/jobs.ts';

export const SubmitOptions = Type.Object({
  api: Type.String(),
  file: Type.Optional(Type.String()),
  env: Type.Optional(Type.String()),
  output: Type.String(),
});
export type SubmitOptions = Static<typeof SubmitOptions>;

export async function runSubmit(options: SubmitOptions, f: Factory): Promise<void> {
  const env = f.environment(options.env);
  const conn = env.provider === 'kubernetes' ? connect(env) : undefined;
  const l = env.provider === 'kubernetes' ? undefined : f.local(env).target.layout;
  const kind = conn ? await clusterJobApiKind(conn, options.api) : jobApi(l!, options.api)?.kind;
  if (kind === undefined) {
    throw new CliError(`no BatchAPI or TaskAPI named ${options.api} is deployed`, ExitCode.NotFound);
  }
  let text: string;
  if (options.file === undefined || options.file === '-') {
    if (options.file === undefined && isTty(f.io.stdin)) {
      throw new CliError('give the job: a file (cortex submit API job.json) or - to read stdin', ExitCode.Usage);
    }
    text = (await readStdin(f.io)).toString('utf8');
  } else {
    try {
      text = readFileSync(options.file, 'utf8');
    } catch (error) {
      throw new CliError(`cannot read ${options.file}: ${(error as Error).message}`, ExitCode.Usage);
    }
  }
  const body = parseJobJson(text);
  const record = conn
    ? await submitClusterJob(conn, options.api, kind, body)
    : await submitLocalJob(l!, jobApi(l!, options.api)!, body);
  if (format(options) === 'json') return printOut(f.io, JSON.stringify(record));
  const api = options.api;
  printOut(f.io, `submitted job ${record.job_id} to ${api}`);
  printOut(f.io, `status: cortex get ${api} ${record.job_id}   logs: cortex logs ${api} ${record.job_id}`);
}

export function submitCommand(f: Factory, runF: RunF<SubmitOptions> = runSubmit): Command {
  return new Command('submit')
    .description(
      "submit a job to a BatchAPI (Cortex's JSON: workers, item_list {items, batch_size}, config, timeout) " +
        'or a TaskAPI (config, timeout)',
    )
    .argument('<api>', 'name of the BatchAPI or TaskAPI')
    .argument('[file]', 'the job as JSON, or - for stdin')
    .addOption(envOption())
    .addOption(outputOption())
    .action(action(SubmitOptions, ['api', 'file'], (options) => runF(options, f)));
}

const counts = (j: LocalJob) =>
  j.batch_metrics
    ? `${j.batch_metrics.succeeded} succeeded, ${j.batch_metrics.failed} failed, ${j.batch_metrics.enqueued} in queue` +
      ` (of ${j.batch_metrics.total})`
    : '-';

function renderJob(j: LocalJob): string {
  const batch = j.kind === 'BatchAPI';
  const rows = [
    ['job', j.job_id],
    ['api', j.api_name],
    ['status', j.status],
    ...(j.message ? [['message', j.message]] : []),
    ...(batch ? [['batches', counts(j)]] : []),
    ...(batch ? [['workers', String(j.workers)]] : []),
    ['created', j.created_time],
    ...(j.start_time ? [['started', j.start_time]] : []),
    ...(j.end_time ? [['ended', j.end_time]] : []),
  ];
  return rows.map(([k, v]) => `${k.padEnd(9)}${v}`).join('\n') + '\n';
}

/** `cortex get API [JOB_ID]` for a job API (undefined: API is no job API here). */
export function jobGetText(l: Layout, api: string, jobId: string | undefined, fmt: OutputFormat): string | undefined {
  if (jobApi(l, api) === undefined) return undefined;
  return jobsText(api, jobId, jobId === undefined ? undefined : localJob(l, api, jobId), localJobs(l, api), fmt);
}

/** The same in a cluster: the API's BatchJobs or TaskJobs. */
export async function clusterJobGetText(
  conn: Connection,
  api: string,
  jobId: string | undefined,
  fmt: OutputFormat,
): Promise<string | undefined> {
  const kind = await clusterJobApiKind(conn, api);
  if (kind === undefined) return undefined;
  const one = jobId === undefined ? undefined : await clusterJob(conn, kind, jobId);
  return jobsText(api, jobId, one, jobId === undefined ? await clusterJobs(conn, api, kind) : [], fmt);
}

/**
 * `cortex delete API JOB_ID` in a cluster: stops the job (its spec.stop; the operator deletes its
 * workers), or says how it had ended, as locally (false: no job API).
 */
export async function clusterJobDelete(f: Factory, conn: Connection, api: string, jobId: string): Promise<boolean> {
  const kind = await clusterJobApiKind(conn, api);
  if (kind === undefined) return false;
  const stop = await stopClusterJob(conn, kind, jobId);
  if (stop === undefined) throw new CliError(`${api} has no job ${jobId}`, ExitCode.NotFound);
  printOut(
    f.io,
    stop.stopping
      ? `stopping job ${jobId}: its workers are being deleted (cortex get ${api} ${jobId} says stopped once they are)`
      : `job ${jobId} had ended: ${stop.status}`,
  );
  return true;
}

function jobsText(
  api: string,
  jobId: string | undefined,
  one: LocalJob | undefined,
  jobs: LocalJob[],
  fmt: OutputFormat,
): string {
  if (jobId !== undefined) {
    if (one === undefined) throw new CliError(`${api} has no job ${jobId}`, ExitCode.NotFound);
    return fmt === 'json' ? JSON.stringify(one, null, 2) + '\n' : renderJob(one);
  }
  if (fmt === 'json') return JSON.stringify(jobs, null, 2) + '\n';
  if (jobs.length === 0) return `${api} has no jobs; submit one with: cortex submit ${api} job.json\n`;
  return table(
    ['job', 'status', 'batches', 'created'],
    jobs.map((j) => [j.job_id, j.status, counts(j), j.created_time]),
  );
}

/** `cortex delete API [JOB_ID]` for a job API: stops the job, or removes the API (false: no job API). */
export async function jobDelete(f: Factory, l: Layout, api: string, jobId: string | undefined): Promise<boolean> {
  if (jobApi(l, api) === undefined) return false;
  if (jobId === undefined) {
    await deleteJobApi(l, api);
    printOut(f.io, `deleted ${api}`);
    return true;
  }
  if (localJob(l, api, jobId) === undefined) throw new CliError(`${api} has no job ${jobId}`, ExitCode.NotFound);
  printOut(f.io, await stopJobMessage(l, api, jobId));
  return true;
}

/**
 * `cortex logs API JOB_ID [-f]` for a job API (false: no job API). With follow, job.log is read on
 * until the job is over (its status one of JOB_DONE_WORDS, or its runner gone: failed), then
 * `job <id> ended: <status>` goes to stderr, as in a cluster (cli/cluster/logs.ts).
 */
export async function jobLogs(
  f: Factory,
  l: Layout,
  api: string,
  jobId: string | undefined,
  follow = false,
): Promise<boolean> {
  if (jobApi(l, api) === undefined) return false;
  if (jobId === undefined) throw new CliError(`give the job: cortex logs ${api} JOB_ID (cortex get ${api} lists them)`);
  if (localJob(l, api, jobId) === undefined) throw new CliError(`${api} has no job ${jobId}`, ExitCode.NotFound);
  if (!follow) {
    const lines = localJobLog(l, api, jobId).split('\n').filter(Boolean);
    for (const line of humanLines(lines)) printOut(f.io, line);
    return true;
  }
  const tail = new Tail(jobId, localJobLogFile(l, api, jobId));
  const print = (lines: string[]) => {
    for (const line of humanLines(lines.filter(Boolean))) printOut(f.io, line);
  };
  for (;;) {
    // the status is read before the log: once over, what the log holds then is all of it
    const job = localJob(l, api, jobId);
    print(tail.read());
    if (job === undefined) {
      printErr(f.io, `job ${jobId} was deleted`);
      return true;
    }
    if (JOB_DONE_WORDS.includes(job.status)) {
      print(tail.rest());
      printErr(f.io, `job ${jobId} ended: ${job.status}`);
      return true;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** `cortex batch-worker` (hidden): one worker of a BatchAPI job, what its pods run (runtime/batch/worker-main.ts). */
export function batchWorkerCommand(): Command {
  return new Command('batch-worker')
    .description('run one worker of a BatchAPI job, configured by CORTEX_BATCH_WORKER (what its pods run)')
    .action(async () => {
      // imported here: the worker's modules (pool, dispatcher) are not every command's
      const { runWorkerFromEnv } = await import('../../runtime/batch/worker-main.ts');
      const code = await runWorkerFromEnv();
      if (code !== 0) throw new CliError('the batch worker failed (its log says why)', code);
    });
}

/** `cortex task-runner` (hidden): one run of a TaskAPI, what a TaskJob's pod runs (runtime/task/task-main.ts). */
export function taskRunnerCommand(): Command {
  return new Command('task-runner')
    .description('run a TaskAPI job once, configured by CORTEX_TASK (what its pod runs)')
    .action(async () => {
      const { runTaskFromEnv } = await import('../../runtime/task/task-main.ts');
      const code = await runTaskFromEnv();
      if (code !== 0) throw new CliError('the task failed (its log says why)', code);
    });
}
