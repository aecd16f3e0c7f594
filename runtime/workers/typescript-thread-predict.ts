// Calling a TypeScript predictor: one job (decode, predict, answer) or, with
// server_side_batching, one batch (decode every item, answer bad ones 400 on their own, one
// predict call for the rest, check it returned one result per payload), then postPredict once
// the answer has left the thread (after the flush of the tick's results buffer). predict runs
// with the job's log scope set, so that its console output names the request.

import type { Job } from './typescript-job-codec.ts';
import { pushError } from './typescript-result-codec.ts';
import { requestScope, syncScope, writeLog } from './typescript-thread-console.ts';
import { describe, stackText } from './typescript-thread-errors.ts';
import { BadRequest, decode, RequestContext } from './typescript-thread-payload.ts';
import { PREDICT_FAILED, answer, failed, isResponse } from './typescript-thread-answer.ts';
import { answerResponseStreaming, runStream, streamSource } from './typescript-thread-stream.ts';
import { withTrace } from './typescript-thread-trace.ts';

export interface Predictor {
  predict(payload: unknown, ctx: unknown): unknown;
  postPredict?(response: unknown, payload: unknown, ctx: unknown): unknown;
  init?(): unknown;
}

let predictor: Predictor;
let hasPostPredict = false;
/** Run predict inside AsyncLocalStorage (an async predictor: logs after an await). */
let useAls = false;
let postPredictDone: () => void = () => {};

/** postPredict calls waiting for their response to be flushed: value, payload, ctx, scope. */
export let postQueue: unknown[] = [];
/** postPredict calls in progress (async ones). postQueue and this are read by the exit check. */
export let postRunning = 0;

/** A handler class's methods (handlePost → POST...); undefined for a predictor (predict: POST only). */
let verbs: ReadonlySet<string> | undefined;

/**
 * The predictor that serves from now on; `onPostPredictDone` runs when an async postPredict
 * ends. `handlers`: a handler class's methods by HTTP method (its `predict` is then theirs).
 */
export function usePredictor(
  instance: Predictor,
  onPostPredictDone: () => void,
  handlers?: Record<string, (payload: unknown, ctx: unknown) => unknown>,
): void {
  if (handlers !== undefined) {
    verbs = new Set(Object.keys(handlers));
    // With batching ctx is the batch's array of contexts, and only handlePost exists (load checks).
    instance.predict = (payload, ctx) =>
      handlers[Array.isArray(ctx) ? 'POST' : (ctx as RequestContext).method](payload, ctx);
  }
  predictor = instance;
  hasPostPredict = typeof instance.postPredict === 'function';
  const fns = handlers === undefined ? [instance.predict] : Object.values(handlers);
  useAls = fns.some((fn) => fn.constructor?.name === 'AsyncFunction');
  postPredictDone = onPostPredictDone;
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return (
    v !== null &&
    (typeof v === 'object' || typeof v === 'function') &&
    typeof (v as { then?: unknown }).then === 'function'
  );
}

function callPredict(payload: unknown, ctx: unknown): unknown {
  return predictor.predict(payload, ctx);
}

function callPostPredict(response: unknown, payload: unknown, ctx: unknown): unknown {
  return predictor.postPredict!(response, payload, ctx);
}

function invoke(scope: Job | Job[], payload: unknown, ctx: unknown): unknown {
  if (useAls) return requestScope.run(scope, callPredict, payload, ctx);
  syncScope.current = scope;
  try {
    const value = predictor.predict(payload, ctx);
    // From now on, keep the request id across awaits.
    if (isThenable(value)) useAls = true;
    return value;
  } finally {
    syncScope.current = null;
  }
}

// One job (no batching) -------------------------------------------------------------------------

export function startJob(job: Job): Promise<void> | undefined {
  if (verbs !== undefined && !verbs.has(job.method ?? 'POST')) {
    pushError(job.id, 405, `method ${job.method ?? 'POST'} not allowed`);
    return undefined;
  }
  const payload = decode(job);
  if (payload instanceof BadRequest) {
    pushError(job.id, 400, payload.message);
    return undefined;
  }
  if (payload instanceof Promise) {
    return payload.then((p: unknown) => {
      if (p instanceof BadRequest) pushError(job.id, 400, p.message);
      else return predictJob(job, p);
    });
  }
  return predictJob(job, payload);
}

function predictJob(job: Job, payload: unknown): Promise<void> | undefined {
  const ctx = new RequestContext(job.query, job.headers, job.method, job.trace);
  let value: unknown;
  try {
    value = job.trace === undefined ? invoke(job, payload, ctx) : withTrace(ctx, () => invoke(job, payload, ctx));
  } catch (err) {
    failed(job, err);
    return undefined;
  }
  if (isThenable(value)) {
    return Promise.resolve(value).then(
      (v) => finishJob(job, v, payload, ctx),
      (err: unknown) => failed(job, err),
    );
  }
  return finishJob(job, value, payload, ctx);
}

function finishJob(job: Job, value: unknown, payload: unknown, ctx: RequestContext): Promise<void> | undefined {
  // A stream holds its slot (the unit) until it ended; postPredict runs after that.
  const source = streamSource(value);
  const p =
    source !== undefined
      ? runStream(job, source, ctx)
      : (answerResponseStreaming(job, value, ctx) ?? answer(job, value));
  if (!hasPostPredict) return p;
  if (p === undefined) {
    postQueue.push(value, payload, ctx, job);
    return undefined;
  }
  return p.then(() => {
    postQueue.push(value, payload, ctx, job);
  });
}

// A batch (server_side_batching) -----------------------------------------------------------------

export function startBatch(jobs: Job[]): Promise<void> | undefined {
  const payloads = new Array<unknown>(jobs.length);
  let pending = false;
  for (let i = 0; i < jobs.length; i++) {
    const p = decode(jobs[i]);
    payloads[i] = p;
    if (p instanceof Promise) pending = true;
  }
  if (!pending) return predictBatch(jobs, payloads);
  return Promise.all(payloads).then((decoded) => predictBatch(jobs, decoded));
}

function predictBatch(allJobs: Job[], allPayloads: unknown[]): Promise<void> | undefined {
  let jobs = allJobs;
  let payloads = allPayloads;
  if (allPayloads.some((p) => p instanceof BadRequest)) {
    // Bad items are answered 400 on their own; predict gets the rest.
    jobs = [];
    payloads = [];
    for (let i = 0; i < allJobs.length; i++) {
      const p = allPayloads[i];
      if (p instanceof BadRequest) pushError(allJobs[i].id, 400, p.message);
      else {
        jobs.push(allJobs[i]);
        payloads.push(p);
      }
    }
    if (jobs.length === 0) return undefined;
  }
  const ctxs = jobs.map((j) => new RequestContext(j.query, j.headers, undefined, j.trace));
  let value: unknown;
  try {
    // a batch runs in its cortex.batch span's context (every item carries the same)
    value =
      jobs[0].trace === undefined
        ? invoke(jobs, payloads, ctxs)
        : withTrace(ctxs[0], () => invoke(jobs, payloads, ctxs));
  } catch (err) {
    failBatch(jobs, err);
    return undefined;
  }
  if (isThenable(value)) {
    return Promise.resolve(value).then(
      (v) => finishBatch(jobs, v, payloads, ctxs),
      (err: unknown) => failBatch(jobs, err),
    );
  }
  return finishBatch(jobs, value, payloads, ctxs);
}

function failBatch(jobs: Job[], err: unknown): void {
  writeLog('error', `predict failed for a batch of ${jobs.length}: ${stackText(err)}`, jobs);
  for (const j of jobs) pushError(j.id, 500, PREDICT_FAILED);
}

function finishBatch(
  jobs: Job[],
  value: unknown,
  payloads: unknown[],
  ctxs: RequestContext[],
): Promise<void> | undefined {
  if (!Array.isArray(value) || value.length !== jobs.length) {
    const got = Array.isArray(value) ? `an array of ${value.length}` : describe(value);
    const text =
      `with server_side_batching, predict must return an array with one result per ` +
      `payload: it got ${jobs.length} payload${jobs.length === 1 ? '' : 's'} and returned ${got}`;
    writeLog('error', text, jobs);
    for (const j of jobs) pushError(j.id, 500, text);
    return undefined;
  }
  if (value.some((v) => streamSource(v) !== undefined)) {
    const text =
      'predict returned a stream (an async iterable) for an item of a batch: streaming is not supported ' +
      'with server_side_batching (docs/streaming.md)';
    writeLog('error', text, jobs);
    for (const j of jobs) pushError(j.id, 500, text);
    return undefined;
  }
  let pending: Promise<void>[] | undefined;
  for (let i = 0; i < jobs.length; i++) {
    const p = answer(jobs[i], value[i]);
    if (p !== undefined) (pending ??= []).push(p);
    else if (hasPostPredict) postQueue.push(value[i], payloads[i], ctxs[i], jobs[i]);
  }
  if (pending === undefined) return undefined;
  return Promise.all(pending).then(() => {
    if (!hasPostPredict) return;
    for (let i = 0; i < jobs.length; i++) {
      const v = value[i] as unknown;
      if (
        v !== null &&
        typeof v === 'object' &&
        !(v instanceof Uint8Array) &&
        !(v instanceof ArrayBuffer) &&
        isResponse(v)
      ) {
        postQueue.push(v, payloads[i], ctxs[i], jobs[i]);
      }
    }
  });
}

// postPredict ------------------------------------------------------------------------------------

/** Starts the queued postPredict calls: runs right after each flush of the results buffer. */
export function runPostPredicts(): void {
  if (postQueue.length === 0) return;
  const q = postQueue;
  postQueue = [];
  for (let i = 0; i < q.length; i += 4) {
    const scope = q[i + 3] as Job;
    try {
      const r = requestScope.run(scope, callPostPredict, q[i], q[i + 1], q[i + 2]);
      if (isThenable(r)) {
        postRunning++;
        r.then(postDone, (err: unknown) => {
          writeLog('error', `postPredict failed: ${stackText(err)}`, scope);
          postDone();
        });
      }
    } catch (err) {
      writeLog('error', `postPredict failed: ${stackText(err)}`, scope);
    }
  }
}

function postDone(): void {
  postRunning--;
  postPredictDone();
}
