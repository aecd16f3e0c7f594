// A BatchAPI job from submission to its end, wherever its workers run (processes of the local job
// runner, job-main.ts): writes the job's record (enqueuing, running, then succeeded,
// completed_with_failures, failed, stopped or timed_out), enqueues the batches, starts `workers`
// workers and restarts one that dies (as a Kubernetes Job restarts its pods), and ends the job
// when its queue is empty, when it is stopped, or at its timeout. Redis away for a while only
// delays it: every store call is retried.
import type { BatchJobSpec, JobStatusWord } from '../../operator/api/v1alpha1/index.ts';
import type { Logger } from '../../operator/util/log.ts';
import type { Broker } from '../queue/types.ts';
import { retrying } from './retry.ts';
import { enqueueBatches } from './enqueue.ts';
import type { Endpoints } from '../storage/sources.ts';
import { batchStream, type JobRef } from './job-keys.ts';
import { jobCounts, writeRecord, type BatchCounts, type JobRecord } from './record.ts';

export interface WorkerHandle {
  /** Resolves with the worker's exit code (null: killed by a signal). */
  exited: Promise<number | null>;
  kill(): void;
}

export interface JobControllerOptions {
  broker: Broker;
  ref: JobRef;
  job: BatchJobSpec;
  logger: Logger;
  /** Where the job's s3:// and gs:// files are reached (filePathLister, delimitedFiles). */
  endpoints?: Endpoints;
  startWorker(index: number): WorkerHandle;
  /** Called after every look at the job (the local runner writes it where `cortex get` reads it). */
  onStatus?(record: JobRecord, counts: BatchCounts | undefined): void;
  /** Restarts of one worker before the job fails with "worker error". Default 3. */
  maxRestarts?: number;
  pollMs?: number;
}

export interface JobController {
  /** Resolves with the final record. */
  done: Promise<JobRecord>;
  /** cortex delete API JOB_ID: stops the workers; the job ends stopped. */
  stop(): void;
}

export function startJob(o: JobControllerOptions): JobController {
  let stopRequested = false;
  let wake: () => void = () => undefined;
  const done = run(
    o,
    () => stopRequested,
    (w) => (wake = w),
  );
  return {
    done,
    stop() {
      stopRequested = true;
      wake();
    },
  };
}

async function run(o: JobControllerOptions, stopped: () => boolean, onWake: (w: () => void) => void) {
  const { broker, ref, job, logger } = o;
  const created = new Date();
  const record: JobRecord = {
    job_id: ref.id,
    api_name: ref.api,
    kind: 'BatchAPI',
    workers: job.workers,
    config: job.config,
    ...(job.timeout !== undefined ? { timeout: job.timeout } : {}),
    max_receive_count: job.maxReceiveCount,
    status: 'enqueuing',
    created_time: created.toISOString(),
  };
  let counts: BatchCounts | undefined;
  const save = async () => {
    o.onStatus?.(record, counts);
    await retrying(logger, () => writeRecord(broker, record));
  };
  const end = async (status: JobStatusWord, message?: string) => {
    record.status = status;
    if (message !== undefined) record.message = message;
    record.end_time = new Date().toISOString();
    logger.info(`job ${ref.id} ${status}${message ? `: ${message}` : ''}`);
    await save();
    return record;
  };
  await save();
  try {
    record.total_batches = await enqueueBatches(broker, ref, job, {
      ...(o.endpoints ? { endpoints: o.endpoints } : {}),
      log: (line) => logger.info(line),
    });
  } catch (error) {
    return end('failed', `failed while enqueuing: ${error instanceof Error ? error.message : String(error)}`);
  }
  record.status = 'running';
  record.start_time = new Date().toISOString();
  await save();

  const workers: (WorkerHandle | undefined)[] = [];
  const restarts = new Array<number>(job.workers).fill(0);
  let workerError: string | undefined;
  const start = (i: number) => {
    const w = o.startWorker(i);
    workers[i] = w;
    void w.exited.then((code) => {
      if (workers[i] !== w) return;
      workers[i] = undefined;
      if (code === 0) return;
      if (restarts[i] >= (o.maxRestarts ?? 3)) {
        workerError = `worker ${i} exited (${code === null ? 'killed' : `code ${code}`}) ${restarts[i] + 1} times`;
        return;
      }
      restarts[i]++;
      logger.warn(`worker ${i} exited (${code === null ? 'killed' : `code ${code}`}); restarting it`);
      start(i);
    });
  };
  for (let i = 0; i < job.workers; i++) start(i);
  const killAll = async () => {
    const live = workers.filter((w): w is WorkerHandle => w !== undefined);
    workers.fill(undefined);
    for (const w of live) w.kill();
    await Promise.all(live.map((w) => w.exited));
  };
  const deadline = job.timeout !== undefined ? created.getTime() + job.timeout * 1000 : Infinity;
  const total = record.total_batches;
  for (;;) {
    if (stopped()) {
      await killAll();
      await broker.deleteStream(batchStream(ref)).catch(() => undefined);
      return end('stopped', 'stopped by request (cortex delete API JOB_ID)');
    }
    if (Date.now() >= deadline) {
      await killAll();
      await broker.deleteStream(batchStream(ref)).catch(() => undefined);
      return end('timed_out', `not finished within its timeout of ${job.timeout} s`);
    }
    if (workerError !== undefined) {
      await killAll();
      return end('failed', `worker error: ${workerError}; see cortex logs ${ref.api} ${ref.id}`);
    }
    try {
      counts = await jobCounts(broker, ref, total);
    } catch (error) {
      logger.warn(`queue: ${error instanceof Error ? error.message : String(error)}`); // Redis away: look again
    }
    if (counts && counts.enqueued === 0 && counts.succeeded + counts.failed >= total) {
      // the workers see the queue empty too: one runs on_job_complete, then they all exit
      await Promise.all(workers.map((w) => w?.exited));
      if (workerError !== undefined) continue;
      return counts.failed === 0
        ? end('succeeded')
        : end('completed_with_failures', `${counts.failed} of ${total} batches failed every try`);
    }
    o.onStatus?.(record, counts);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, o.pollMs ?? 500);
      onWake(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
