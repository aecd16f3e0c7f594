// The process of one BatchAPI worker: `node runtime/batch/worker-main.ts` (in a job's pods: the
// hidden `cortex batch-worker`), configured by the
// environment variable CORTEX_BATCH_WORKER (JSON: queue_url, api, job_id, project_dir, spec, and
// optionally claim_idle_ms), as the job's pods and the local job runner start it. Exits 0 once the
// job's queue is empty, 1 when the predictor cannot start or the job has no record.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { apiLogger } from '../../operator/util/log.ts';
import { openBroker } from '../queue/open.ts';
import { readRecord } from './record.ts';
import { runBatchWorker } from './worker.ts';
import { WORKER_ENV, type WorkerEnv } from './job-keys.ts';

/** Runs the worker CORTEX_BATCH_WORKER describes; resolves with the process's exit code. */
export async function runWorkerFromEnv(): Promise<number> {
  const env = JSON.parse(process.env[WORKER_ENV] ?? 'null') as WorkerEnv | null;
  if (env === null) {
    process.stderr.write(`${WORKER_ENV} is not set: this process is started by a BatchAPI job\n`);
    return 2;
  }
  const logger = apiLogger(env.api, env.spec.predictor.logLevel);
  const broker = openBroker(env.queue_url);
  const ref = { api: env.api, id: env.job_id };
  try {
    const record = await readRecord(broker, ref);
    if (record === undefined) {
      logger.error(`job ${env.job_id} of ${env.api} has no record in ${env.queue_url}`);
      return 1;
    }
    const consumer = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
    logger.info(`worker ${consumer} taking batches of job ${env.job_id}`);
    await runBatchWorker({
      broker,
      ref,
      spec: env.spec,
      job: { ...record },
      projectDir: env.project_dir,
      consumer,
      logger,
      ...(env.claim_idle_ms !== undefined ? { claimIdleMs: env.claim_idle_ms } : {}),
    });
    logger.info('the queue is empty; worker done');
    return 0;
  } catch (error) {
    logger.error(`worker failed: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  } finally {
    logger.flush();
    await broker.close().catch(() => undefined);
  }
}

// run as a script (imported for its constants by the runner and the tests: nothing runs)
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url))
  process.exitCode = await runWorkerFromEnv();
