// Splits a job's items into batches and enqueues them, one message per batch whose body is the
// JSON list of its items (the worker hands it to handle_batch as is) and whose stream id is the
// batch id (the same on every try). The items are the submission's (itemList) or come from
// buckets as they are listed and read (filePathLister, delimitedFiles: bucket-items.ts).
import type { Broker } from '../queue/types.ts';
import type { BatchJobSpec, ModelsSpec } from '../../operator/api/v1alpha1/index.ts';
import type { Endpoints } from '../storage/sources.ts';
import { delimitedItems, pathItems } from './bucket-items.ts';
import { BATCH_GROUP, batchStream, type JobRef } from './job-keys.ts';

/** Enqueues at most this many batches at once (each an EVAL round trip). */
const PARALLEL = 64;

export interface EnqueueOptions {
  /** Where s3:// and gs:// are reached: the API's predictor.models.storage, else the environment. */
  endpoints?: Endpoints;
  /** A line for the job's log (how many files and items were read). */
  log?: (line: string) => void;
}

/** The storage endpoints of an API's models (predictor.models.storage), which its jobs' files use too. */
export function storageEndpoints(models: ModelsSpec | undefined): Endpoints {
  return { s3: models?.storage?.s3Endpoint, gcs: models?.storage?.gcsEndpoint };
}

/** Enqueues every batch of the job; returns how many there are. */
export async function enqueueBatches(
  broker: Broker,
  ref: JobRef,
  spec: BatchJobSpec,
  options: EnqueueOptions = {},
): Promise<number> {
  const stream = batchStream(ref);
  if (spec.itemList !== undefined) {
    const { items, batchSize } = spec.itemList;
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
  const endpoints = options.endpoints ?? {};
  const [lister, items] =
    spec.filePathLister !== undefined
      ? [spec.filePathLister, pathItems(spec.filePathLister, endpoints)]
      : spec.delimitedFiles !== undefined
        ? [spec.delimitedFiles, delimitedItems(spec.delimitedFiles, endpoints)]
        : [undefined, undefined];
  if (lister === undefined || items === undefined) {
    throw new Error('the job has none of itemList, filePathLister, delimitedFiles: set exactly one');
  }
  // items (JSON texts, kept as written: a 64-bit id in a line keeps its digits) gathered into
  // batches as they arrive; at most PARALLEL batches are in flight, so memory stays bounded
  let batch: string[] = [];
  let sends: Promise<void>[] = [];
  let failure: { error: unknown } | undefined; // kept at once: a rejection no one awaits yet would end the process
  let total = 0;
  let count = 0;
  const flush = async () => {
    await Promise.all(sends);
    sends = [];
    if (failure) throw failure.error;
  };
  const send = async () => {
    const body = `[${batch.join(',')}]`;
    sends.push(
      broker.enqueue(stream, BATCH_GROUP, body).then(
        () => undefined,
        (error: unknown) => void (failure ??= { error }),
      ),
    );
    batch = [];
    total++;
    if (sends.length >= PARALLEL) await flush();
  };
  try {
    for await (const item of items) {
      batch.push(item);
      count++;
      if (batch.length === lister.batchSize) await send();
    }
    if (batch.length > 0) await send();
    await flush();
  } catch (error) {
    // a bad line may come after thousands of batches: none of them stays in the queue of a job
    // that never runs
    await Promise.all(sends);
    await broker.deleteStream(stream).catch(() => undefined);
    throw error;
  }
  options.log?.(`enqueued ${count} items from ${lister.s3Paths.join(', ')} in ${total} batches`);
  return total;
}
