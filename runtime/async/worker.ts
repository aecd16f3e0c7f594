// A replica of an AsyncAPI working its queue: each request is taken from the queue (runtime/queue),
// given to the replica's predictor workers through the same dispatcher as an HTTP request (so a
// Python predictor needs no Redis client), and its result written with the ack, atomically. A
// replica killed mid-request never acks: the request goes to another replica after
// redeliverAfter. A worker process that dies mid-request answers 503: the request is released
// for another try at once, and marked failed after maxDeliveries tries.
import { consume } from '../queue/consume.ts';
import type { Broker, Effects, QueueMessage } from '../queue/types.ts';
import type { Dispatcher } from '../dispatcher.ts';
import type { JsonLogger } from '../../operator/util/log.ts';
import { BodyKind, type PredictJob, type PredictResult } from '../workers/types.ts';
import { record, type AsyncMessage, type AsyncNames } from './records.ts';

export interface AsyncSettings {
  resultTtlMs: number;
  redeliverAfterMs: number;
  maxDeliveries: number;
}

export interface AsyncWorkerOptions {
  broker: Broker;
  names: AsyncNames;
  dispatcher: Dispatcher;
  /** Requests worked at once: the replica's predictor slots. */
  concurrency: number;
  settings: AsyncSettings;
  logger: JsonLogger;
  /** Unique per process. */
  consumer: string;
}

export interface AsyncWorker {
  /** Stops taking requests; resolves when those in progress are written. */
  stop(): Promise<void>;
}

export function startAsyncWorker(options: AsyncWorkerOptions): AsyncWorker {
  const { broker, names, settings, logger } = options;
  const stop = new AbortController();
  let nextJob = 0;
  const put = (id: string, value: string): Effects => ({
    put: [{ key: names.record(id), value, ttlMs: settings.resultTtlMs }],
  });
  const done = consume(
    broker,
    {
      stream: names.stream,
      group: names.group,
      consumer: options.consumer,
      concurrency: options.concurrency,
      blockMs: 1000,
      claimIdleMs: settings.redeliverAfterMs,
      maxDeliveries: settings.maxDeliveries,
      signal: stop.signal,
      onError: (error, what) => logger.warn(`async queue: ${what} failed: ${String(error)}`),
    },
    async (message: QueueMessage): Promise<Effects | undefined> => {
      let request: AsyncMessage;
      try {
        request = JSON.parse(message.body) as AsyncMessage;
      } catch {
        logger.error(`async queue: dropped a message that is not a request (${message.id})`);
        return undefined;
      }
      await broker.put(names.record(request.id), record(request.id, 'in_progress'), settings.resultTtlMs);
      const result = await predict(options.dispatcher, request, ++nextJob);
      if (result.stream !== undefined) {
        result.stream.cancel();
        return put(request.id, record(request.id, 'failed', { error: STREAM_ERROR }));
      }
      const text = result.body.toString('utf8');
      if (result.status >= 200 && result.status < 300) {
        return put(request.id, record(request.id, 'completed', { result: resultValue(result, text) }));
      }
      if (result.status === 503 && message.deliveries < settings.maxDeliveries) {
        // its worker died or restarts: another try, here or on another replica
        throw new Error(`request ${request.id}: ${text} (try ${message.deliveries} of ${settings.maxDeliveries})`);
      }
      const tries = result.status === 503 ? ` after ${message.deliveries} tries` : '';
      return put(request.id, record(request.id, 'failed', { error: `${errorText(text)}${tries}` }));
    },
  );
  return {
    async stop() {
      stop.abort();
      await done;
    },
  };
}

const STREAM_ERROR = 'the predictor streamed its answer; an AsyncAPI needs it to return a value';

function predict(dispatcher: Dispatcher, request: AsyncMessage, id: number): Promise<PredictResult> {
  return new Promise((resolve, reject) => {
    const job: PredictJob = {
      id,
      clientRequestId: request.id,
      body: Buffer.from(request.body, 'base64'),
      contentType: request.contentType,
      query: request.query,
      rawHeaders: request.contentType === undefined ? [] : ['Content-Type', request.contentType],
      // a Handler's handle_async (Cortex 0.35), else POST: handle_post or PythonPredictor.predict
      method: dispatcher.verbs?.has('ASYNC') ? 'ASYNC' : undefined,
      done: resolve,
    };
    if (!dispatcher.submit(job)) reject(new Error('the replica is at its max concurrency'));
  });
}

function resultValue(result: PredictResult, text: string): unknown {
  if (result.kind === BodyKind.Json) {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text;
    }
  }
  return text;
}

/** The predictor's error answer ({"error": ...}) as one line. */
function errorText(text: string): string {
  try {
    const parsed = JSON.parse(text) as { error?: unknown };
    if (typeof parsed.error === 'string') return parsed.error;
  } catch {
    // not JSON: as is
  }
  return text;
}
