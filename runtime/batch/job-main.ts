// The local job runner of one BatchAPI job: `node runtime/batch/job-main.ts`, started detached by
// `cortex submit` (cli/local/jobs.ts) with CORTEX_BATCH_JOB_FILE naming <job_dir>/runner.json (JSON:
// queue_url, api, job_id, project_dir, spec, job, job_dir, and optionally claim_idle_ms). It runs the job's controller,
// with each worker a process of its own (worker-main.ts) when the queue is a redis-server, or in
// this process when it is the embedded store (memory:, which only this process can reach). It
// writes <job_dir>/status.json after every look at the job, for `cortex get API JOB_ID`; all the
// workers' logs go to <job_dir>/job.log; SIGTERM (cortex delete API JOB_ID) stops the job.
import { spawn } from 'node:child_process';
import { openSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BatchApiSpec } from '../../operator/api/v1alpha1/index.ts';
import { apiLogger } from '../../operator/util/log.ts';
import { openBroker } from '../queue/open.ts';
import { startJob, type WorkerHandle } from './controller.ts';
import { storageEndpoints } from './enqueue.ts';
import { runBatchWorker } from './worker.ts';
import { JOB_ENV, LOG_FILE, STATUS_FILE, WORKER_ENV, type JobEnv, type WorkerEnv } from './job-keys.ts';

const WORKER_SCRIPT = fileURLToPath(new URL('./worker-main.ts', import.meta.url));

async function main(): Promise<number> {
  const file = process.env[JOB_ENV];
  if (file === undefined) {
    process.stderr.write(`${JOB_ENV} is not set: this process is started by cortex submit\n`);
    return 2;
  }
  const env = JSON.parse(readFileSync(file, 'utf8')) as JobEnv;
  const spec: BatchApiSpec = env.spec;
  const log = openSync(path.join(env.job_dir, LOG_FILE), 'a');
  // the runner's own lines (restarts, the job's end) go with the workers' into the job's log
  const logger = apiLogger(env.api, spec.predictor.logLevel, (chunk) => writeSync(log, chunk));
  const broker = openBroker(env.queue_url);
  const ref = { api: env.api, id: env.job_id };
  const inProcess = env.queue_url === 'memory:';
  const startWorker = (index: number): WorkerHandle => {
    if (inProcess) {
      const abort = new AbortController();
      const exited = runBatchWorker({
        broker,
        ref,
        spec,
        job: { ...recordNow!, config: env.job.config },
        projectDir: env.project_dir,
        consumer: `local-${index}-${Date.now()}`,
        logger,
        signal: abort.signal,
        ...(env.claim_idle_ms !== undefined ? { claimIdleMs: env.claim_idle_ms } : {}),
      }).then(
        () => (abort.signal.aborted ? null : 0),
        (error: unknown) => {
          logger.error(`worker ${index} failed: ${error instanceof Error ? error.message : String(error)}`);
          return 1;
        },
      );
      return { exited, kill: () => abort.abort() };
    }
    const workerEnv: WorkerEnv = { ...env, job: undefined, job_dir: undefined } as unknown as WorkerEnv;
    const child = spawn(process.execPath, [WORKER_SCRIPT], {
      stdio: ['ignore', log, log],
      env: { ...process.env, [JOB_ENV]: '', [WORKER_ENV]: JSON.stringify(workerEnv) },
      detached: true, // its own process group: a kill reaches its Python workers too
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    return {
      exited,
      kill: () => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          // already gone
        }
      },
    };
  };
  let recordNow: Record<string, unknown> | undefined;
  const statusFile = path.join(env.job_dir, STATUS_FILE);
  const job = startJob({
    broker,
    ref,
    job: env.job,
    logger,
    endpoints: storageEndpoints(spec.predictor.models),
    startWorker,
    onStatus: (record, counts) => {
      recordNow = { ...record };
      const tmp = `${statusFile}.tmp`;
      writeFileSync(tmp, JSON.stringify({ ...record, batch_metrics: counts ?? null }));
      renameSync(tmp, statusFile);
    },
  });
  process.once('SIGTERM', () => job.stop());
  process.once('SIGINT', () => job.stop());
  const final = await job.done;
  logger.flush();
  await broker.close().catch(() => undefined);
  return final.status === 'succeeded' ? 0 : 1;
}

// run as a script (imported for its constants by the runner and the tests: nothing runs)
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url))
  process.exitCode = await main();
