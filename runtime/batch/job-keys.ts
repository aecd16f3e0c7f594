// Where a job lives in the queue and the store (runtime/queue/): one stream of batches per job,
// read by one consumer group (its workers); the job's record and counters beside it.

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
