// One worker of a BatchAPI job (a pod of the job's Indexed Kubernetes Job, or a local process):
// takes batches from the job's stream and hands each to the Python handle_batch through the
// runtime's worker pool and dispatcher (runtime/PROTOCOL.md; runtime/python/cortex_batch.py).
// A batch handle_batch returned for is acked with the job's succeeded counter incremented by the
// ack itself (once per batch, whoever ran it); one that raised is released for another try, and
// past max_receive_count tries the queue dead-letters it. A worker that dies holding a batch
// leaves it pending; another worker claims it after claimIdleMs. When the queue is empty (nothing
// waiting, nothing held), the first worker to see it runs on_job_complete, and every worker exits.
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BatchApiSpec } from '../../operator/api/v1alpha1/index.ts';
import type { Logger } from '../../operator/util/log.ts';
import { consume } from '../queue/consume.ts';
import type { Broker } from '../queue/types.ts';
import { prepareDependencies } from '../deps.ts';
import { Dispatcher } from '../dispatcher.ts';
import { WorkerPool } from '../pool.ts';
import { PythonWorker } from '../workers/python.ts';
import { BodyKind, InitError, type PredictJob, type PredictResult } from '../workers/types.ts';
import { retrying } from './retry.ts';
import { BATCH_GROUP, batchStream, jobKey, type JobRef } from './job-keys.ts';

export interface BatchWorkerOptions {
  broker: Broker;
  ref: JobRef;
  spec: BatchApiSpec;
  /** The job as submitted (the record): its config is merged over predictor.config; job_spec in Python. */
  job: { config: Record<string, unknown>; max_receive_count?: number } & Record<string, unknown>;
  projectDir: string;
  /** Unique per process (a restarted worker must not inherit a dead one's batches by name). */
  consumer: string;
  logger: Logger;
  /** A held batch idle this long is taken from its (dead) worker. Default 30 s. */
  claimIdleMs?: number;
  /** How often the queue's depth is read to see whether the job is done. Default 500 ms. */
  idleCheckMs?: number;
  /** Aborting stops the worker at once (the job stopped): its Python workers are killed. */
  signal?: AbortSignal;
}

export class BatchWorkerError extends Error {}

let wireId = 0;

/** Runs until the job's queue is empty; rejects when the predictor cannot start. */
export async function runBatchWorker(o: BatchWorkerOptions): Promise<void> {
  const { broker, ref, spec, logger } = o;
  const predictor = spec.predictor;
  const stream = batchStream(ref);
  const python = await prepareDependencies(predictor, o.projectDir, logger);
  const threads = predictor.threadsPerProcess;
  const slots = predictor.processesPerReplica * threads;
  const dispatcher = new Dispatcher({ threadsPerWorker: threads, maxConcurrency: slots });
  let fatal: InitError | undefined;
  const done = new AbortController();
  const pool = new WorkerPool({
    size: predictor.processesPerReplica,
    create: (index) =>
      new PythonWorker({
        api: ref.api,
        projectDir: o.projectDir,
        predictorPath: path.resolve(o.projectDir, predictor.path),
        config: { ...predictor.config, ...o.job.config },
        pythonPath: predictor.pythonPath !== undefined ? [path.resolve(o.projectDir, predictor.pythonPath)] : [],
        env: predictor.env,
        threads,
        batching: false,
        index,
        logLevel: predictor.logLevel,
        python,
        batchJob: o.job,
      }),
    dispatcher,
    logger,
    onRestart: () => undefined,
    onFatal: (error) => {
      fatal = error; // a restarted worker failed to initialise: nothing will take the batches
      done.abort();
    },
  });
  let killed = false;
  o.signal?.addEventListener('abort', () => {
    killed = true;
    done.abort();
    void pool.shutdown(0);
  });
  await pool.start();

  /** Sends one frame to a Python worker, waiting for a free one. */
  const call = async (body: Buffer, batchId: string, method?: string): Promise<PredictResult> => {
    for (;;) {
      if (fatal) throw fatal;
      const answer = new Promise<PredictResult>((resolve) => {
        const job: PredictJob = {
          id: ++wireId,
          clientRequestId: batchId,
          body,
          contentType: 'application/json',
          query: '',
          rawHeaders: [],
          done: resolve,
          ...(method !== undefined ? { method } : {}),
        };
        if (!dispatcher.submit(job)) resolve(BUSY);
      });
      const result = await answer;
      if (result !== BUSY) return result;
      await sleep(20);
    }
  };

  const maxDeliveries = o.job.max_receive_count ?? 3;
  const claimIdleMs = o.claimIdleMs ?? 30_000;
  const watcher = watchEmpty(o, stream, done);
  try {
    await consume(
      broker,
      {
        stream,
        group: BATCH_GROUP,
        consumer: o.consumer,
        concurrency: slots,
        signal: done.signal,
        blockMs: 500,
        claimIdleMs,
        maxDeliveries,
        onError: (error, what) => logger.warn(`${what}: ${error instanceof Error ? error.message : String(error)}`),
      },
      async (message) => {
        const result = await call(Buffer.from(message.body), message.id);
        if (result.status !== 200) {
          throw new BatchWorkerError(
            `batch ${message.id} failed (try ${message.deliveries} of ${maxDeliveries}): ${result.body.toString()}`,
          );
        }
        logger.info(`batch ${message.id} succeeded`, { request_id: message.id });
        return { incr: [{ key: jobKey(ref, 'succeeded') }] };
      },
    );
    await watcher;
    if (fatal) throw fatal;
    if (killed) return;
    // the first worker to find the queue empty runs on_job_complete (once per job)
    if ((await retrying(logger, () => broker.incr(jobKey(ref, 'completer')))) === 1) {
      const result = await call(Buffer.alloc(0), 'on_job_complete', 'COMPLETE');
      if (result.status !== 200) logger.error(`on_job_complete failed: ${result.body.toString()}`);
      else logger.info('on_job_complete ran');
    }
  } finally {
    done.abort();
    await pool.shutdown(5000);
  }
}

const BUSY: PredictResult = { status: 503, kind: BodyKind.Json, body: Buffer.alloc(0) };

/** Aborts `done` once the job's queue holds nothing (no batch waiting, none held by any worker). */
async function watchEmpty(o: BatchWorkerOptions, stream: string, done: AbortController): Promise<void> {
  while (!done.signal.aborted) {
    await sleep(o.idleCheckMs ?? 500);
    try {
      const depth = await o.broker.depth(stream, BATCH_GROUP);
      if (depth.waiting === 0 && depth.pending === 0) done.abort();
    } catch (error) {
      o.logger.warn(`queue depth: ${error instanceof Error ? error.message : String(error)}`); // Redis away: retried
    }
  }
}
