// A job's record in the store (Cortex's job status JSON, snake_case): written by the job's
// controller (the local job runner, or the operator), read by `cortex get API JOB_ID`, the HTTP
// endpoint and the BatchJob status. Batch counts are not in it: they come from the queue and the
// counters the acks increment (jobCounts), so they are exact whoever reads them.
import type { Broker } from '../queue/types.ts';
import type { JobStatusWord } from '../../operator/api/v1alpha1/index.ts';
import { BATCH_GROUP, batchStream, jobKey, type JobRef } from './job-keys.ts';

export interface JobRecord {
  job_id: string;
  api_name: string;
  kind: 'BatchAPI' | 'TaskAPI';
  workers: number;
  config: Record<string, unknown>;
  timeout?: number;
  /** BatchAPI: tries of a batch before it is dead-lettered. */
  max_receive_count?: number;
  /** BatchAPI: batches the items were split into (known once enqueued). */
  total_batches?: number;
  status: JobStatusWord;
  message?: string;
  created_time: string;
  start_time?: string;
  end_time?: string;
}

export interface BatchCounts {
  total: number;
  /** In the queue: waiting for a worker, or held by one. */
  enqueued: number;
  succeeded: number;
  /** Dead-lettered: failed max_receive_count tries. */
  failed: number;
}

/** How long a finished job's record and counters are kept. */
export const JOB_RECORD_TTL_MS = 7 * 24 * 3600 * 1000;

export async function readRecord(broker: Broker, ref: JobRef): Promise<JobRecord | undefined> {
  const text = await broker.get(jobKey(ref, 'record'));
  return text === undefined ? undefined : (JSON.parse(text) as JobRecord);
}

export async function writeRecord(broker: Broker, record: JobRecord): Promise<void> {
  await broker.put(
    jobKey({ api: record.api_name, id: record.job_id }, 'record'),
    JSON.stringify(record),
    JOB_RECORD_TTL_MS,
  );
}

export async function jobCounts(broker: Broker, ref: JobRef, total: number): Promise<BatchCounts> {
  const stream = batchStream(ref);
  const [depth, succeeded, dead] = await Promise.all([
    broker.depth(stream, BATCH_GROUP),
    broker.get(jobKey(ref, 'succeeded')),
    broker.deadLetters(stream, Math.max(1, total)),
  ]);
  return { total, enqueued: depth.waiting + depth.pending, succeeded: Number(succeeded ?? 0), failed: dead.length };
}

/** The dead-letter records of a job's batches: batch id, tries, items. */
export async function deadBatches(broker: Broker, ref: JobRef, count = 100) {
  const dead = await broker.deadLetters(batchStream(ref), count);
  return dead.map((d) => ({ batch_id: d.id, tries: d.deliveries, items: JSON.parse(d.body) as unknown }));
}
