// Entry point of a TypeScript predictor's worker thread (started by workers/typescript.ts).
//
// Loads the user's module, constructs its default-exported class with predictor.config,
// awaits the optional init(), then serves jobs: decodes payloads, calls predict (at most
// `threads` calls in progress at once), encodes what it returns and answers the front.
//
// Jobs and results travel as ONE transferred ArrayBuffer per event-loop tick in each
// direction (no structured clone of arrays or strings). Layouts: typescript-job-codec.ts
// (front → thread) and typescript-result-codec.ts (thread → front).
// Control messages are plain objects: front → thread { type: 'shutdown' };
// thread → front { type: 'ready', headers: boolean, verbs?: string[] } | { type: 'init-error', message, stack };
// `verbs`: a handler class's HTTP methods (handlePost → POST...), absent for a predictor.
// `headers` says whether the predictor may look at its second argument; when it cannot, the
// front does not send the request headers at all.
//
// Everything the predictor writes through console.* becomes one JSON line on stdout:
// {"time","level","api","worker","request_id","message"} (typescript-thread-console.ts).
//
// The rest of the thread, by what it does (the typescript-thread-* files; their frames, like
// this file's, are cut from stack traces shown to users):
//   -payload.ts  payload decoding (Content-Type rules) and the request context
//   -predict.ts  calling predict for a job or a batch, then postPredict
//   -answer.ts   encoding what predict returned (Response / string / bytes / JSON)
//   -console.ts  console capture into JSON log lines
//   -load.ts     importing, checking and constructing the predictor class
//   -errors.ts   error and value descriptions for users
// This file: the scheduling loop (at most `threads` units in progress) and start-up.

import { parentPort, workerData } from 'node:worker_threads';
import { decodeJobs, type Job } from './typescript-job-codec.ts';
import { flushScheduled, startResultWriter } from './typescript-result-codec.ts';
import { captureConsole, writeLog } from './typescript-thread-console.ts';
import { stackText } from './typescript-thread-errors.ts';
import { serveSockets, type ToThread } from '../websocket/typescript-thread-sockets.ts';
import { failed } from './typescript-thread-answer.ts';
import {
  postQueue,
  postRunning,
  runPostPredicts,
  startBatch,
  startJob,
  usePredictor,
  type Predictor,
} from './typescript-thread-predict.ts';
import { onStreamMessage, startStreams, streamMessagesPending } from './typescript-thread-stream.ts';
import { HANDLER_METHODS, handlerMethods, load, mayReadSecondArgument } from './typescript-thread-load.ts';

// The channel's constants and the header check, importable from here as before the split.
export { F_CT, F_HEADERS, F_NO_CT, F_QUERY, F_RID, JOB_FIXED } from './typescript-job-codec.ts';
export { RESULT_FIXED } from './typescript-result-codec.ts';
export { mayReadSecondArgument };

/** What workers/typescript.ts passes as workerData. */
export interface ThreadConfig {
  /** Marks the workerData of a predictor thread. */
  role: 'cortex-ts-predictor';
  api: string;
  predictorPath: string;
  config: Record<string, unknown>;
  threads: number;
  batching: boolean;
  index: number;
  logLevel: 'debug' | 'info' | 'warning' | 'error';
}

const cfg = workerData as ThreadConfig;
/** The predictor's websocket(ws), served (websocket/typescript-thread-sockets.ts); undefined: none. */
let onSocket: ((m: ToThread) => void) | undefined;

// ---------------------------------------------------------------------------------------------
// Scheduling: at most `threads` units (jobs, or batches) in progress

const maxConcurrent = Math.max(1, Math.floor(cfg?.threads) || 1);
let queue: (Job | Job[])[] = [];
let qHead = 0;
let running = 0;
let shuttingDown = false;

function pump(): void {
  while (running < maxConcurrent && qHead < queue.length) {
    const unit = queue[qHead];
    queue[qHead++] = undefined as unknown as Job;
    running++;
    let p: Promise<void> | undefined;
    try {
      p = cfg.batching ? startBatch(unit as Job[]) : startJob(unit as Job);
    } catch (err) {
      // Only a bug of the thread's code gets here: answer rather than lose the jobs.
      for (const j of Array.isArray(unit) ? unit : [unit]) failed(j, err);
      p = undefined;
    }
    if (p === undefined) running--;
    else p.then(unitDone, unitCrashed);
  }
  if (qHead === queue.length && qHead > 0) {
    queue = [];
    qHead = 0;
  }
  if (shuttingDown) maybeExit();
}

function unitDone(): void {
  running--;
  pump();
}

function unitCrashed(err: unknown): void {
  writeLog('error', `internal error: ${stackText(err)}`, null);
  running--;
  pump();
}

function onJobs(ab: ArrayBuffer): void {
  decodeJobs(ab, cfg.batching, queue);
  pump();
}

function maybeExit(): void {
  if (!shuttingDown || running > 0 || qHead < queue.length || postRunning > 0) return;
  if (flushScheduled || postQueue.length > 0 || streamMessagesPending()) {
    // The pending flush (and the postPredicts it starts) first.
    setImmediate(maybeExit);
    return;
  }
  process.exit(0);
}

// ---------------------------------------------------------------------------------------------
// Start-up

async function main(): Promise<void> {
  captureConsole();
  const port = parentPort!;
  startResultWriter(port, runPostPredicts);
  startStreams(port);
  port.on('message', (msg: unknown) => {
    if (msg instanceof ArrayBuffer) onJobs(msg);
    else if (onStreamMessage(msg as { type?: string })) return;
    else if ((msg as { type?: string }).type === 'shutdown') {
      shuttingDown = true;
      maybeExit();
    } else if ((msg as { type?: string }).type === 'ws') onSocket?.(msg as ToThread);
  });
  let predictor: Predictor;
  try {
    predictor = await load(cfg);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const stack = stackText(err);
    writeLog('error', `the predictor failed to initialise: ${stack}`, null);
    port.postMessage({ type: 'init-error', message, stack });
    process.exit(1);
  }
  // An async postPredict that ends may be the last thing a shutdown waits for.
  // A handler class (handlePost, handleGet...): the front routes those HTTP methods to it.
  const handlers = handlerMethods(predictor);
  const methods =
    handlers === undefined
      ? [predictor.predict]
      : Object.keys(handlers).map((v) => (predictor as unknown as Record<string, () => unknown>)[HANDLER_METHODS[v]]);
  usePredictor(predictor, maybeExit, handlers);
  const hasPostPredict = typeof predictor.postPredict === 'function';
  const headers = hasPostPredict || methods.some((fn) => mayReadSecondArgument(fn as (...args: never[]) => unknown));
  const websocket = (predictor as { websocket?: unknown }).websocket;
  if (typeof websocket === 'function') onSocket = serveSockets(port, websocket.bind(predictor) as () => unknown);
  port.postMessage({
    type: 'ready',
    headers,
    ...(handlers !== undefined ? { verbs: Object.keys(handlers) } : {}),
    ...(onSocket !== undefined ? { websocket: true } : {}),
  });
}

// Imported elsewhere for its constants, it must not start anything.
if (parentPort !== null && cfg?.role === 'cortex-ts-predictor') await main();
