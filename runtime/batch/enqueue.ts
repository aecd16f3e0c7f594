// Splits a job's items into batches and enqueues them, one message per batch whose body is the
// JSON list of its items (the worker hands it to handle_batch as is) and whose stream id is the
// batch id (the same on every try).
import type { Broker } from '../queue/types.ts';
import type { BatchJobSpec } from '../../operator/api/v1alpha1/index.ts';
import { BATCH_GROUP, batchStream, type JobRef } from './job-keys.ts';

/** Enqueues at most this many batches at once (each an EVAL round trip). */
const PARALLEL = 64;

/** Enqueues every batch of the job; returns how many there are. */
export async function enqueueBatches(broker: Broker, ref: JobRef, spec: BatchJobSpec): Promise<number> {
  const { items, batchSize } = spec.itemList;
  const stream = batchStream(ref);
  const total = Math.ceil(items.length / batchSize);
  for (let first = 0; first < total; first += PARALLEL) {
    const sends = [];
    for (let b = first; b < Math.min(total, first + PARALLEL); b++) {
      const body = JSON.stringify(items.slice(b * batchSize, (b + 1) * batchSize));
      sends.push(broker.enqueue(stream, BATCH_GROUP, body));
    }
    await Promise.all(sends);
  }
  return total;
}
