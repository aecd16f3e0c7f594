// Where a job lives in the queue and the store (runtime/queue/): one stream of batches per job,
// read by one consumer group (its workers); the job's record and counters beside it.

import type { BatchApiSpec, BatchJobSpec } from '../../operator/api/v1alpha1/index.ts';

/** A local job's folder: status.json (the record and the batch counts, for cortex get) and job.log. */
export const STATUS_FILE = 'status.json';
export const LOG_FILE = 'job.log';

/** The environment variable that configures a worker (worker-main.ts), as JSON (WorkerEnv). */
export const WORKER_ENV = 'CORTEX_BATCH_WORKER';

export interface WorkerEnv {
  queue_url: string;
  api: string;
  job_id: string;
  /** The project folder (in a pod: /mnt/project). */
  project_dir: string;
  spec: BatchApiSpec;
  /** A held batch idle this long is taken from its worker (default 30 s). */
  claim_idle_ms?: number;
}

/**
 * The environment variable that names the file configuring a local job runner (job-main.ts): JSON
 * (JobEnv), in the job's folder as RUNNER_FILE. A file, not the JSON itself, since a job carries
 * its items and an environment string is limited to 128 KiB (spawn fails with E2BIG past it).
 */
export const JOB_ENV = 'CORTEX_BATCH_JOB_FILE';
export const RUNNER_FILE = 'runner.json';

export interface JobEnv extends WorkerEnv {
  job: BatchJobSpec;
  /** The job's folder (STATUS_FILE, LOG_FILE). */
  job_dir: string;
}

export interface JobRef {
  api: string;
  id: string;
}

/** The consumer group of a job's workers. */
export const BATCH_GROUP = 'workers';

export const batchStream = (ref: JobRef): string => `cortex:batch:${ref.api}:${ref.id}`;

/**
 * record: the job as submitted and its status (JobRecord, written by the job's controller);
 * succeeded: batches acked (incremented by the ack itself, so exactly once per batch);
 * completer: the first worker to see the queue empty runs on_job_complete; stop: stop requested.
 */
export const jobKey = (ref: JobRef, what: 'record' | 'succeeded' | 'completer' | 'stop'): string =>
  `cortex:job:${ref.api}:${ref.id}:${what}`;

/** A job id as Cortex made them: short, lowercase, sortable by submission time. */
export function newJobId(now = Date.now()): string {
  const rand = Math.floor(Math.random() * 36 ** 4)
    .toString(36)
    .padStart(4, '0');
  return `${now.toString(36)}${rand}`;
}
