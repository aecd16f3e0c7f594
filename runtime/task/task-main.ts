// One run of a TaskAPI (docs/task.md): `Task()(config)` in a Python process of its own
// (runtime/python/cortex_task.py), with the API's dependencies installed first as a replica's are.
// `node runtime/task/task-main.ts` (the local job runner, started detached by `cortex submit`) or
// `cortex task-runner` (a TaskJob's pod), configured by CORTEX_TASK (JSON: api, job_id,
// project_dir, spec, job, and locally job_dir, where status.json is kept). Ends succeeded,
// failed (the task raised, or could not start), timed_out (job.timeout) or stopped (SIGTERM).
import { spawn } from 'node:child_process';
import { openSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { JobStatusWord } from '../../operator/api/v1alpha1/index.ts';
import { TASK_ENV, type TaskEnv } from './task-keys.ts';
import { apiLogger, type Logger } from '../../operator/util/log.ts';
import { DependencyError, prepareDependencies } from '../deps.ts';
import type { JobRecord } from '../batch/record.ts';
import { LOG_FILE, STATUS_FILE } from '../batch/job-keys.ts';

const TASK_SCRIPT = fileURLToPath(new URL('../python/cortex_task.py', import.meta.url));

/** Runs the task to its end; `stop` (aborted) ends it stopped. Resolves with the final record. */
export async function runTask(
  env: TaskEnv,
  logger: Logger,
  stop: AbortSignal,
  onStatus: (record: JobRecord) => void = () => undefined,
): Promise<JobRecord> {
  const predictor = env.spec.predictor;
  const record: JobRecord = {
    job_id: env.job_id,
    api_name: env.api,
    kind: 'TaskAPI',
    workers: 1,
    config: env.job.config,
    ...(env.job.timeout !== undefined ? { timeout: env.job.timeout } : {}),
    status: 'running',
    created_time: new Date().toISOString(),
    start_time: new Date().toISOString(),
  };
  const end = (status: JobStatusWord, message?: string) => {
    Object.assign(record, { status, end_time: new Date().toISOString() }, message ? { message } : {});
    logger.info(`task ${env.job_id} ${status}${message ? `: ${message}` : ''}`);
    onStatus(record);
    return record;
  };
  onStatus(record);
  let python: string | undefined;
  try {
    python = await prepareDependencies(predictor, env.project_dir, logger);
  } catch (error) {
    if (error instanceof DependencyError) return end('failed', error.message);
    throw error;
  }
  const config = {
    api: env.api,
    job_id: env.job_id,
    project_dir: env.project_dir,
    task_path: path.resolve(env.project_dir, predictor.path),
    config: { ...predictor.config, ...env.job.config },
    python_path: predictor.pythonPath !== undefined ? [path.resolve(env.project_dir, predictor.pythonPath)] : [],
    log_level: predictor.logLevel,
  };
  const child = spawn(python ?? 'python3', ['-u', TASK_SCRIPT], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, ...predictor.env, CORTEX_TASK_CONFIG: JSON.stringify(config) },
  });
  let ended: 'stopped' | 'timed_out' | undefined;
  const kill = (why: 'stopped' | 'timed_out') => {
    ended ??= why;
    child.kill('SIGKILL');
  };
  stop.addEventListener('abort', () => kill('stopped'));
  const timer = env.job.timeout !== undefined ? setTimeout(() => kill('timed_out'), env.job.timeout * 1000) : undefined;
  const code = await new Promise<number | null>((resolve) => {
    child.once('exit', (c) => resolve(c));
    child.once('error', () => resolve(127));
  });
  clearTimeout(timer);
  if (ended === 'stopped') return end('stopped', 'stopped by request (cortex delete API JOB_ID)');
  if (ended === 'timed_out') return end('timed_out', `not finished within its timeout of ${env.job.timeout} s`);
  if (code === 0) return end('succeeded');
  const why = code === 2 ? 'the task could not be loaded' : `the task exited with code ${code}`;
  return end('failed', `${why}; see cortex logs ${env.api} ${env.job_id}`);
}

/** The local runner, or a pod's `cortex task-runner`: resolves with the process's exit code. */
export async function runTaskFromEnv(): Promise<number> {
  const env = JSON.parse(process.env[TASK_ENV] ?? 'null') as TaskEnv | null;
  if (env === null) {
    process.stderr.write(`${TASK_ENV} is not set: this process is started by a TaskAPI job\n`);
    return 2;
  }
  const dir = env.job_dir;
  const log = dir !== undefined ? openSync(path.join(dir, LOG_FILE), 'a') : undefined;
  const logger = apiLogger(
    env.api,
    env.spec.predictor.logLevel,
    log !== undefined ? (c) => writeSync(log, c) : undefined,
  );
  const stop = new AbortController();
  process.once('SIGTERM', () => stop.abort());
  process.once('SIGINT', () => stop.abort());
  const final = await runTask(env, logger, stop.signal, (record) => {
    if (dir === undefined) return;
    const file = path.join(dir, STATUS_FILE);
    writeFileSync(`${file}.tmp`, JSON.stringify({ ...record, batch_metrics: null }));
    renameSync(`${file}.tmp`, file);
  });
  logger.flush();
  return final.status === 'succeeded' ? 0 : 1;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await runTaskFromEnv();
}
