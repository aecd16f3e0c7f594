// The local environment's BatchAPIs and TaskAPIs and their jobs (docs/batch.md, docs/task.md). A
// deployed one is a record (job-apis/<name>.json: its spec and the snapshot of its project); each
// job is a detached runner (runtime/batch/job-main.ts, runtime/task/task-main.ts) with its folder
// jobs/<api>/<job id>/ (status.json, job.log, runner.pid). A BatchAPI's queue: job-queue.ts.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type {
  BatchApiSpec,
  BatchJobSpec,
  JobApiKind,
  JobApiSpec,
  TaskJobSpec,
} from '../../operator/api/v1alpha1/index.ts';
import { JOB_DONE_WORDS, type JobStatusWord } from '../../operator/api/v1alpha1/index.ts';
import { JOB_ENV, LOG_FILE, RUNNER_FILE, STATUS_FILE, newJobId, type JobEnv } from '../../runtime/batch/job-keys.ts';
import type { BatchCounts, JobRecord } from '../../runtime/batch/record.ts';
import { parseBatchSubmission, parseTaskSubmission, SubmissionError } from '../../runtime/batch/submission.ts';
import { TASK_ENV, type TaskEnv } from '../../runtime/task/task-keys.ts';
import { JobEndpointError, parseJobJson as parseJobText } from '../../operator/job-endpoint.ts';
import { CliError, ExitCode } from '../errors.ts';
import type { Layout } from './paths.ts';
import { localQueueUrl } from './job-queue.ts';

const BATCH_RUNNER = fileURLToPath(new URL('../../runtime/batch/job-main.ts', import.meta.url));
const TASK_RUNNER = fileURLToPath(new URL('../../runtime/task/task-main.ts', import.meta.url));

export interface JobApiRecord {
  name: string;
  kind: JobApiKind;
  spec: JobApiSpec;
  /** The deployed copy of the project (snapshots/). */
  snapshot: string;
  /** The project folder it was deployed from. */
  source: string;
  deployedTime: string;
}

/** A job as `cortex get API JOB_ID` shows it: the record and the batch counts. */
export type LocalJob = JobRecord & { batch_metrics: BatchCounts | null };

const apisDir = (l: Layout) => path.join(l.home, 'job-apis');
/** The project copies of job APIs (apart from snapshots/, which the supervisor collects). */
export const jobSnapshotsDir = (l: Layout): string => path.join(l.home, 'job-snapshots');
const jobsDir = (l: Layout, api: string) => path.join(l.home, 'jobs', api);
const jobDir = (l: Layout, api: string, id: string) => path.join(jobsDir(l, api), id);

export function saveJobApi(l: Layout, record: JobApiRecord): void {
  mkdirSync(apisDir(l), { recursive: true, mode: 0o700 });
  writeFileSync(path.join(apisDir(l), `${record.name}.json`), JSON.stringify(record, null, 2));
}

export function jobApis(l: Layout): JobApiRecord[] {
  if (!existsSync(apisDir(l))) return [];
  return readdirSync(apisDir(l))
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(path.join(apisDir(l), f), 'utf8')) as JobApiRecord);
}

export function jobApi(l: Layout, name: string): JobApiRecord | undefined {
  return jobApis(l).find((a) => a.name === name);
}

/** The job's text as JSON (`cortex submit`'s file); the HTTP endpoint's check, as a usage error. */
export function parseJobJson(text: string): unknown {
  try {
    return parseJobText(text);
  } catch (error) {
    if (error instanceof JobEndpointError) throw new CliError(error.message, ExitCode.Usage);
    throw error;
  }
}

/** Starts a job of a BatchAPI or a run of a TaskAPI from Cortex's submission JSON; returns its first record. */
export async function submitLocalJob(l: Layout, api: JobApiRecord, body: unknown): Promise<JobRecord> {
  let job: { kind: 'BatchAPI'; spec: BatchJobSpec } | { kind: 'TaskAPI'; spec: TaskJobSpec };
  try {
    job =
      api.kind === 'BatchAPI'
        ? { kind: api.kind, spec: parseBatchSubmission(api.name, body) }
        : { kind: api.kind, spec: parseTaskSubmission(api.name, body) };
  } catch (error) {
    if (error instanceof SubmissionError) throw new CliError(`job submission: ${error.message}`, ExitCode.Usage);
    throw error;
  }
  const id = newJobId();
  const dir = jobDir(l, api.name, id);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const common = { api: api.name, job_id: id, project_dir: api.snapshot, job_dir: dir };
  const [script, envName, value] =
    job.kind === 'BatchAPI'
      ? [
          BATCH_RUNNER,
          JOB_ENV,
          {
            ...common,
            queue_url: await localQueueUrl(l),
            spec: api.spec as BatchApiSpec,
            job: job.spec,
          } satisfies JobEnv,
        ]
      : [TASK_RUNNER, TASK_ENV, { ...common, spec: api.spec, job: job.spec } satisfies TaskEnv];
  const log = openSync(path.join(dir, LOG_FILE), 'a');
  // a batch job's items go in a file (runner.json): an environment string holds at most 128 KiB
  let setting = JSON.stringify(value);
  if (envName === JOB_ENV) {
    setting = path.join(dir, RUNNER_FILE);
    writeFileSync(setting, JSON.stringify(value), { mode: 0o600 });
  }
  const runner = spawn(process.execPath, [script], {
    stdio: ['ignore', log, log],
    // the supervisor's IPC channel and a test runner's context are not the runner's
    env: { ...process.env, NODE_CHANNEL_FD: undefined, NODE_TEST_CONTEXT: undefined, [envName]: setting },
    detached: true,
  });
  runner.unref();
  writeFileSync(path.join(dir, 'runner.pid'), String(runner.pid));
  return {
    job_id: id,
    api_name: api.name,
    kind: api.kind,
    workers: job.kind === 'BatchAPI' ? job.spec.workers : 1,
    config: job.spec.config,
    status: 'pending',
    created_time: new Date().toISOString(),
  };
}

function runnerAlive(dir: string): boolean {
  const pid = Number(readFileSync(path.join(dir, 'runner.pid'), 'utf8'));
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The job's last status (undefined: no such job); a runner gone before the end is reported failed. */
export function localJob(l: Layout, api: string, id: string): LocalJob | undefined {
  const dir = jobDir(l, api, id);
  if (!existsSync(dir)) return undefined;
  const file = path.join(dir, STATUS_FILE);
  const job: LocalJob = existsSync(file)
    ? (JSON.parse(readFileSync(file, 'utf8')) as LocalJob)
    : {
        job_id: id,
        api_name: api,
        // before the runner's first record: the API's kind (a TaskAPI's job is no BatchAPI's)
        kind: jobApi(l, api)?.kind ?? 'BatchAPI',
        workers: 0,
        config: {},
        status: 'pending',
        created_time: '',
        batch_metrics: null,
      };
  if (!JOB_DONE_WORDS.includes(job.status) && !runnerAlive(dir)) {
    return { ...job, status: 'failed', message: `its job runner exited; see cortex logs ${api} ${id}` };
  }
  return job;
}

/** The API's jobs, newest first. */
export function localJobs(l: Layout, api: string): LocalJob[] {
  const dir = jobsDir(l, api);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .sort()
    .reverse()
    .map((id) => localJob(l, api, id))
    .filter((j): j is LocalJob => j !== undefined);
}

/** The job's job.log: what its runner and workers print. */
export const localJobLogFile = (l: Layout, api: string, id: string): string => path.join(jobDir(l, api, id), LOG_FILE);

export function localJobLog(l: Layout, api: string, id: string): string {
  const file = localJobLogFile(l, api, id);
  return existsSync(file) ? readFileSync(file, 'utf8') : '';
}

/** cortex delete API JOB_ID: the runner stops the workers and ends the job stopped. */
export async function stopLocalJob(l: Layout, api: string, id: string, timeoutMs = 30_000): Promise<JobStatusWord> {
  const dir = jobDir(l, api, id);
  const pid = Number(readFileSync(path.join(dir, 'runner.pid'), 'utf8'));
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    // already ended
  }
  const deadline = Date.now() + timeoutMs;
  while (runnerAlive(dir) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  return localJob(l, api, id)?.status ?? 'stopped';
}

/** `cortex delete API JOB_ID` and DELETE <endpoint>?jobID=: stops the job; says how it ended. */
export async function stopJobMessage(l: Layout, api: string, id: string): Promise<string> {
  const status = await stopLocalJob(l, api, id);
  return status === 'stopped' ? `stopped job ${id}` : `job ${id} had ended: ${status}`;
}

/** cortex delete API of a job API: its running jobs are stopped, its record and jobs removed. */
export async function deleteJobApi(l: Layout, name: string): Promise<void> {
  for (const job of localJobs(l, name)) {
    if (!JOB_DONE_WORDS.includes(job.status)) await stopLocalJob(l, name, job.job_id);
  }
  rmSync(path.join(apisDir(l), `${name}.json`), { force: true });
  rmSync(jobsDir(l, name), { recursive: true, force: true });
}
