// Entry point of a TypeScript predictor's worker thread (started by workers/typescript.ts).
//
// Loads the user's module, constructs its default-exported class with predictor.config,
// awaits the optional init(), then serves jobs: decodes payloads, calls predict (at most
// `threads` calls in progress at once), encodes what it returns and answers the front.
//
// Jobs and results travel as ONE transferred ArrayBuffer per event-loop tick in each
// direction (no structured clone of arrays or strings). All integers little-endian.
//
// front → thread (a jobs buffer):
//   u32 usedBytes, then until usedBytes: with batching `u32 count` then count records,
//   without batching one record after the other. A record:
//     f64 id, u32 bodyLen, u8 flags,
//     [u32 len, utf8] content type      if flags & F_CT      (absent: application/json,
//                                                             or none at all if F_NO_CT)
//     [u32 len, utf8] raw query string  if flags & F_QUERY
//     [u32 len, utf8] client request id if flags & F_RID
//     [u32 len, utf8] rawHeaders joined with '\0'   if flags & F_HEADERS
//     body (bodyLen bytes)
// thread → front (a results buffer):
//   u32 usedBytes, then records: f64 id, u16 status, u8 kind, u32 hdrLen, u32 bodyLen,
//   hdr (UTF-8 JSON [["name","value"],...], kind Custom only), body.
// Control messages are plain objects: front → thread { type: 'shutdown' };
// thread → front { type: 'ready', headers: boolean } | { type: 'init-error', message, stack }.
// `headers` says whether the predictor may look at its second argument; when it cannot, the
// front does not send the request headers at all.
//
// Everything the predictor writes through console.* becomes one JSON line on stdout:
// {"time","level","api","worker","request_id","message"}.

import { parentPort, workerData } from 'node:worker_threads';
import { AsyncLocalStorage } from 'node:async_hooks';
import { existsSync, statSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { format, inspect, TextDecoder } from 'node:util';
import { Buffer, isUtf8 } from 'node:buffer';

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

export const F_CT = 1;
export const F_NO_CT = 2;
export const F_QUERY = 4;
export const F_RID = 8;
export const F_HEADERS = 16;
/** f64 id + u32 bodyLen + u8 flags */
export const JOB_FIXED = 13;
/** f64 id + u16 status + u8 kind + u32 hdrLen + u32 bodyLen */
export const RESULT_FIXED = 19;

// Same numbers as types.ts's BodyKind (not imported: the thread loads as little as it can).
const KIND_JSON = 0;
const KIND_TEXT = 1;
const KIND_BYTES = 2;
const KIND_CUSTOM = 3;

// The thread's own code ends a stack trace shown to users.
const THIS_FILE = import.meta.url;

// ---------------------------------------------------------------------------------------------
// Small helpers (also used before the thread is set up, so they come first)

function errorText(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  if (err !== null && typeof err === 'object' && 'message' in err) {
    const e = err as { name?: unknown; message?: unknown };
    return `${String(e.name ?? 'Error')}: ${String(e.message)}`;
  }
  return `Error: ${String(err)}`;
}

/** The error's stack without the frames of this file (they say nothing to a user). */
function stackText(err: unknown): string {
  if (!(err instanceof Error) || typeof err.stack !== 'string') return errorText(err);
  const lines = err.stack.split('\n');
  const cut = lines.findIndex((l, i) => i > 0 && l.includes(THIS_FILE));
  return (cut === -1 ? lines : lines.slice(0, cut)).join('\n');
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return v !== null && (typeof v === 'object' || typeof v === 'function') &&
    typeof (v as { then?: unknown }).then === 'function';
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'object') {
    const name = (v as { constructor?: { name?: string } }).constructor?.name || 'object';
    return `${/^[aeiou]/i.test(name) ? 'an' : 'a'} ${name}`;
  }
  return `${/^[aeiou]/i.test(typeof v) ? 'an' : 'a'} ${typeof v}`;
}

/**
 * Whether a predict/postPredict function may read its second argument (the request context).
 * Conservative: only a parameter list of at most one plain identifier, in a function that does
 * not mention `arguments` or `eval`, is known not to.
 */
export function mayReadSecondArgument(fn: (...args: never[]) => unknown): boolean {
  if (fn.length >= 2) return true;
  let src: string;
  try {
    src = Function.prototype.toString.call(fn);
  } catch {
    return true;
  }
  if (src.includes('[native code]') || /\barguments\b|\beval\b/.test(src)) return true;
  const open = src.indexOf('(');
  const arrow = src.indexOf('=>');
  let params: string;
  if (arrow !== -1 && (open === -1 || open > arrow)) {
    params = src.slice(0, arrow).replace(/^\s*async\s/, ''); // `x => ...`, `async x => ...`
  } else {
    if (open === -1) return true;
    let depth = 0;
    let close = -1;
    for (let i = open; i < src.length && close === -1; i++) {
      const c = src.charCodeAt(i);
      if (c === 40) depth++;
      else if (c === 41 && --depth === 0) close = i;
    }
    if (close === -1) return true;
    params = src.slice(open + 1, close);
  }
  return !/^\s*(?:[A-Za-z_$][\w$]*)?\s*$/.test(params);
}

// ---------------------------------------------------------------------------------------------
// Logging

const cfg = workerData as ThreadConfig;
const LEVELS: Record<string, number> = { debug: 10, info: 20, warning: 30, error: 40 };
const minLevel = LEVELS[cfg?.logLevel] ?? 20;

interface Job {
  id: number;
  /** The client's X-Request-ID, when sent. */
  clientRid: string | undefined;
  ct: string | undefined;
  query: string;
  headers: string;
  /** The buffer of the message this job arrived in, and this job's body within it. */
  buf: Buffer;
  start: number;
  end: number;
}

/** What logs name as the request: a job, a batch of jobs, or nothing. */
type LogScope = Job | Job[] | null;

const requestScope = new AsyncLocalStorage<LogScope>();
/** The scope of the synchronous predict call in progress (cheaper than AsyncLocalStorage). */
let syncScope: LogScope = null;

function ridOf(job: Job): string {
  return job.clientRid ?? String(job.id);
}

function scopeRid(scope: LogScope | undefined): string | null {
  if (scope === null || scope === undefined) return null;
  if (Array.isArray(scope)) return scope.map(ridOf).join(',');
  return ridOf(scope);
}

// Lines are written once per event-loop turn (one message to the front, not one per line),
// right away when the oldest waiting line is 50 ms old (a long synchronous predict that logs
// progress), and on exit.
let logBuffer = '';
let logSince = 0;
let logFlushScheduled = false;

function flushLogs(): void {
  logFlushScheduled = false;
  if (logBuffer === '') return;
  const chunk = logBuffer;
  logBuffer = '';
  process.stdout.write(chunk);
}

function writeLog(level: string, message: string, scope?: LogScope): void {
  if ((LEVELS[level] ?? 20) < minLevel) return;
  const s = scope === undefined ? (requestScope.getStore() ?? syncScope) : scope;
  const now = new Date();
  const line = JSON.stringify({
    time: now.toISOString(),
    level,
    api: cfg.api,
    worker: cfg.index,
    request_id: scopeRid(s),
    message,
  });
  const t = now.getTime();
  if (logBuffer === '') logSince = t;
  logBuffer += line + '\n';
  if (logBuffer.length > 65536 || t - logSince >= 50) flushLogs();
  else if (!logFlushScheduled) {
    logFlushScheduled = true;
    setImmediate(flushLogs);
  }
}

function consoleMethod(level: string): (...args: unknown[]) => void {
  const n = LEVELS[level];
  return (...args: unknown[]) => {
    if (n >= minLevel) writeLog(level, format(...args));
  };
}

// ---------------------------------------------------------------------------------------------
// The request context: the predictor's second argument, parsed only when it looks

class RequestContext {
  #query: string;
  #rawHeaders: string;
  #queryParams: Record<string, string> | undefined;
  #headers: Record<string, string> | undefined;
  constructor(query: string, rawHeaders: string) {
    this.#query = query;
    this.#rawHeaders = rawHeaders;
  }
  /** Query string parameters; the last value wins when a name repeats. */
  get queryParams(): Record<string, string> {
    if (this.#queryParams === undefined) {
      const out: Record<string, string> = {};
      if (this.#query !== '') {
        for (const [k, v] of new URLSearchParams(this.#query)) {
          if (k !== '__proto__') out[k] = v;
        }
      }
      this.#queryParams = out;
    }
    return this.#queryParams;
  }
  /** Request headers, names lowercased; repeated headers joined with ', ' ('; ' for cookie). */
  get headers(): Record<string, string> {
    if (this.#headers === undefined) {
      const out: Record<string, string> = {};
      if (this.#rawHeaders !== '') {
        const parts = this.#rawHeaders.split('\0');
        for (let i = 0; i + 1 < parts.length; i += 2) {
          const name = parts[i].toLowerCase();
          if (name === '__proto__') continue;
          const value = parts[i + 1];
          const prev = out[name];
          out[name] = prev === undefined ? value : prev + (name === 'cookie' ? '; ' : ', ') + value;
        }
      }
      this.#headers = out;
    }
    return this.#headers;
  }
  toJSON(): { queryParams: Record<string, string>; headers: Record<string, string> } {
    return { queryParams: this.queryParams, headers: this.headers };
  }
  [inspect.custom](): unknown {
    return this.toJSON();
  }
}

// ---------------------------------------------------------------------------------------------
// Payload decoding (Cortex's rules)

class BadRequest {
  message: string;
  constructor(message: string) {
    this.message = message;
  }
}

const EMPTY = Buffer.alloc(0);
const textDecoders = new Map<string, TextDecoder>();

function decodeJson(job: Job): unknown {
  try {
    return JSON.parse(job.buf.toString('utf8', job.start, job.end));
  } catch (err) {
    return new BadRequest(`invalid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function decodeText(job: Job, ct: string): string | BadRequest {
  const m = /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(ct);
  const charset = m === null ? 'utf-8' : m[1].toLowerCase();
  const bytes = job.buf.subarray(job.start, job.end);
  if (charset === 'utf-8' || charset === 'utf8') {
    if (!isUtf8(bytes)) return new BadRequest('invalid text: the body is not valid utf-8');
    return job.buf.toString('utf8', job.start, job.end);
  }
  let dec = textDecoders.get(charset);
  if (dec === undefined) {
    try {
      dec = new TextDecoder(charset, { fatal: true });
    } catch {
      return new BadRequest(`unsupported charset: ${charset}`);
    }
    textDecoders.set(charset, dec);
  }
  try {
    return dec.decode(bytes);
  } catch {
    return new BadRequest(`invalid text: the body is not valid ${charset}`);
  }
}

async function decodeForm(job: Job, ct: string): Promise<unknown> {
  let form: FormData;
  try {
    form = await new Response(job.buf.subarray(job.start, job.end), {
      headers: { 'content-type': ct },
    }).formData();
  } catch (err) {
    return new BadRequest(`invalid form data: ${err instanceof Error ? err.message : String(err)}`);
  }
  const fields: Record<string, unknown> = {};
  for (const [name, value] of form) {
    if (name === '__proto__') continue;
    fields[name] = typeof value === 'string' ? value : Buffer.from(await value.arrayBuffer());
  }
  return fields;
}

/**
 * The raw body as a Buffer of its own (offset 0 in its own ArrayBuffer), so that
 * `new Float32Array(payload.buffer)` works and no other request's bytes are reachable.
 */
function ownBytes(job: Job): Buffer {
  const copy = Buffer.allocUnsafeSlow(job.end - job.start);
  job.buf.copy(copy, 0, job.start, job.end);
  return copy;
}

/** The payload, a BadRequest, or (forms only) a promise of either. */
function decode(job: Job): unknown {
  const ct = job.ct;
  if (ct === 'application/json') return decodeJson(job);
  if (ct === undefined) return ownBytes(job);
  const lower = ct.toLowerCase();
  if (lower.startsWith('application/json')) return decodeJson(job);
  if (lower.startsWith('text/plain')) return decodeText(job, ct);
  if (lower.startsWith('multipart/form') || lower.startsWith('application/x-www-form-urlencoded')) {
    return decodeForm(job, ct);
  }
  return ownBytes(job);
}

// ---------------------------------------------------------------------------------------------
// Results, coalesced per tick into one transferred buffer

// Each answer is encoded into this tick's buffer as soon as it is known, so a predictor that
// reuses an output buffer cannot change an answer already given, and nothing is copied twice.
let outBuf: Buffer | null = null;
let outView: DataView | null = null;
let outOff = 0;
/** Initial size of the next tick's buffer: follows what the last tick needed. */
let outCapacity = 4096;
let flushScheduled = false;
/** postPredict calls waiting for their response to be flushed: value, payload, ctx, scope. */
let postQueue: unknown[] = [];
let postRunning = 0;

/** Room for n more bytes in this tick's buffer (allocated on first use). */
function reserve(n: number): Buffer {
  let buf = outBuf;
  if (buf === null) {
    buf = Buffer.allocUnsafeSlow(Math.max(outCapacity, 4 + n));
    outOff = 4;
    flushScheduled = true;
    setImmediate(flush);
  } else if (outOff + n > buf.length) {
    const bigger = Buffer.allocUnsafeSlow(Math.max(buf.length * 2, outOff + n));
    buf.copy(bigger, 0, 0, outOff);
    buf = bigger;
  } else return buf;
  outBuf = buf;
  outView = new DataView(buf.buffer, 0, buf.length);
  return buf;
}

function push(id: number, status: number, kind: number, headers: string, body: string | Uint8Array): void {
  // Upper bound: at most 3 UTF-8 bytes per UTF-16 unit; long strings are measured exactly.
  let max = RESULT_FIXED + headers.length * 3;
  if (typeof body !== 'string') max += body.byteLength;
  else max += body.length > 2048 ? Buffer.byteLength(body, 'utf8') : body.length * 3;
  const buf = reserve(max);
  const rec = outOff;
  let off = rec + RESULT_FIXED;
  const hLen = headers === '' ? 0 : buf.write(headers, off, 'utf8');
  off += hLen;
  let bLen: number;
  if (typeof body === 'string') bLen = body === '' ? 0 : buf.write(body, off, 'utf8');
  else {
    buf.set(body, off);
    bLen = body.byteLength;
  }
  outOff = off + bLen;
  const dv = outView!;
  dv.setFloat64(rec, id, true);
  dv.setUint16(rec + 8, status, true);
  dv.setUint8(rec + 10, kind);
  dv.setUint32(rec + 11, hLen, true);
  dv.setUint32(rec + 15, bLen, true);
}

function pushError(id: number, status: number, message: string): void {
  push(id, status, KIND_JSON, '', JSON.stringify({ error: message }));
}

function flush(): void {
  flushScheduled = false;
  const buf = outBuf;
  if (buf === null) return;
  outView!.setUint32(0, outOff, true);
  outCapacity = Math.min(1 << 20, Math.max(4096, outOff + (outOff >> 1)));
  outBuf = null;
  outView = null;
  const ab = buf.buffer as ArrayBuffer;
  parentPort!.postMessage(ab, [ab]);
  if (postQueue.length > 0) runPostPredicts();
}

function runPostPredicts(): void {
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
  if (shuttingDown) maybeExit();
}

// ---------------------------------------------------------------------------------------------
// Calling the predictor

interface Predictor {
  predict(payload: unknown, ctx: unknown): unknown;
  postPredict?(response: unknown, payload: unknown, ctx: unknown): unknown;
  init?(): unknown;
}

let predictor: Predictor;
let hasPostPredict = false;
/** Run predict inside AsyncLocalStorage (an async predictor: logs after an await). */
let useAls = false;

function callPredict(payload: unknown, ctx: unknown): unknown {
  return predictor.predict(payload, ctx);
}

function callPostPredict(response: unknown, payload: unknown, ctx: unknown): unknown {
  return predictor.postPredict!(response, payload, ctx);
}

function invoke(scope: Job | Job[], payload: unknown, ctx: unknown): unknown {
  if (useAls) return requestScope.run(scope, callPredict, payload, ctx);
  syncScope = scope;
  try {
    const value = predictor.predict(payload, ctx);
    // From now on, keep the request id across awaits.
    if (isThenable(value)) useAls = true;
    return value;
  } finally {
    syncScope = null;
  }
}

interface ResponseLike {
  status: number;
  headers: { forEach(cb: (value: string, name: string) => void): void };
  arrayBuffer(): Promise<ArrayBuffer>;
}

/** A web-standard Response (or any object shaped like one: undici's, a polyfill's). */
function isResponse(v: object): v is ResponseLike {
  const r = v as Partial<ResponseLike>;
  // No `instanceof Response` first: it would load undici in every thread.
  return typeof r.arrayBuffer === 'function' && typeof r.status === 'number' &&
    r.headers !== undefined && r.headers !== null && typeof r.headers.forEach === 'function';
}

/** Encodes what predict returned and pushes it; a promise only for a Response (its body). */
function answer(job: Job, value: unknown): Promise<void> | undefined {
  if (typeof value === 'string') {
    push(job.id, 200, KIND_TEXT, '', value);
    return undefined;
  }
  if (value !== null && typeof value === 'object') {
    if (value instanceof Uint8Array) {
      push(job.id, 200, KIND_BYTES, '', value);
      return undefined;
    }
    if (value instanceof ArrayBuffer) {
      push(job.id, 200, KIND_BYTES, '', new Uint8Array(value));
      return undefined;
    }
    if (isResponse(value)) return answerResponse(job, value);
  }
  let json: string | undefined;
  try {
    json = value === undefined ? 'null' : JSON.stringify(value);
  } catch (err) {
    notSerialisable(job, errorText(err));
    return undefined;
  }
  if (json === undefined) notSerialisable(job, describe(value));
  else push(job.id, 200, KIND_JSON, '', json);
  return undefined;
}

function notSerialisable(job: Job, why: string): void {
  const text = `the value predict returned is not JSON-serialisable: ${why}`;
  writeLog('error', text, job);
  pushError(job.id, 500, text);
}

async function answerResponse(job: Job, res: ResponseLike): Promise<void> {
  try {
    const body = new Uint8Array(await res.arrayBuffer());
    const headers: [string, string][] = [];
    res.headers.forEach((value, name) => {
      if (name !== 'content-length' && name !== 'transfer-encoding') headers.push([name, value]);
    });
    const status = Number.isInteger(res.status) && res.status >= 200 && res.status <= 999 ? res.status : 500;
    push(job.id, status, KIND_CUSTOM, JSON.stringify(headers), body);
  } catch (err) {
    writeLog('error', `reading the Response that predict returned failed: ${stackText(err)}`, job);
    pushError(job.id, 500, errorText(err));
  }
}

function failed(job: Job, err: unknown): void {
  writeLog('error', stackText(err), job);
  pushError(job.id, 500, errorText(err));
}

// One job (no batching) -------------------------------------------------------------------------

function startJob(job: Job): Promise<void> | undefined {
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
  const ctx = new RequestContext(job.query, job.headers);
  let value: unknown;
  try {
    value = invoke(job, payload, ctx);
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
  const p = answer(job, value);
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

function startBatch(jobs: Job[]): Promise<void> | undefined {
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
  const ctxs = jobs.map((j) => new RequestContext(j.query, j.headers));
  let value: unknown;
  try {
    value = invoke(jobs, payloads, ctxs);
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
  writeLog('error', stackText(err), jobs);
  const text = `predict failed for a batch of ${jobs.length}: ${errorText(err)}`;
  for (const j of jobs) pushError(j.id, 500, text);
}

function finishBatch(jobs: Job[], value: unknown, payloads: unknown[], ctxs: RequestContext[]): Promise<void> | undefined {
  if (!Array.isArray(value) || value.length !== jobs.length) {
    const got = Array.isArray(value) ? `an array of ${value.length}` : describe(value);
    const text = `with server_side_batching, predict must return an array with one result per ` +
      `payload: it got ${jobs.length} payload${jobs.length === 1 ? '' : 's'} and returned ${got}`;
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
      if (v !== null && typeof v === 'object' && !(v instanceof Uint8Array) && !(v instanceof ArrayBuffer) && isResponse(v)) {
        postQueue.push(v, payloads[i], ctxs[i], jobs[i]);
      }
    }
  });
}

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
      // Only a bug of this file gets here: answer rather than lose the jobs.
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
  const buf = Buffer.from(ab);
  const dv = new DataView(ab);
  const used = dv.getUint32(0, true);
  const batching = cfg.batching;
  let off = 4;
  let batch: Job[] | undefined;
  let batchLeft = 0;
  while (off < used) {
    if (batching && batchLeft === 0) {
      batchLeft = dv.getUint32(off, true);
      off += 4;
      batch = [];
      queue.push(batch);
      continue;
    }
    const id = dv.getFloat64(off, true);
    const bodyLen = dv.getUint32(off + 8, true);
    const flags = dv.getUint8(off + 12);
    off += JOB_FIXED;
    let ct: string | undefined = 'application/json';
    let query = '';
    let clientRid: string | undefined;
    let headers = '';
    if (flags !== 0) {
      if (flags & F_NO_CT) ct = undefined;
      if (flags & F_CT) {
        const n = dv.getUint32(off, true);
        ct = buf.toString('utf8', off + 4, off + 4 + n);
        off += 4 + n;
      }
      if (flags & F_QUERY) {
        const n = dv.getUint32(off, true);
        query = buf.toString('utf8', off + 4, off + 4 + n);
        off += 4 + n;
      }
      if (flags & F_RID) {
        const n = dv.getUint32(off, true);
        clientRid = buf.toString('utf8', off + 4, off + 4 + n);
        off += 4 + n;
      }
      if (flags & F_HEADERS) {
        const n = dv.getUint32(off, true);
        headers = buf.toString('utf8', off + 4, off + 4 + n);
        off += 4 + n;
      }
    }
    const job: Job = { id, clientRid, ct, query, headers, buf, start: off, end: off + bodyLen };
    off += bodyLen;
    if (batching) {
      batch!.push(job);
      batchLeft--;
    } else queue.push(job);
  }
  pump();
}

function maybeExit(): void {
  if (!shuttingDown || running > 0 || qHead < queue.length || postRunning > 0) return;
  if (flushScheduled || postQueue.length > 0) {
    // The pending flush (and the postPredicts it starts) first.
    setImmediate(maybeExit);
    return;
  }
  process.exit(0);
}

// ---------------------------------------------------------------------------------------------
// Start-up

async function load(): Promise<Predictor> {
  const file = cfg.predictorPath;
  if (!existsSync(file)) throw new Error(`predictor file not found: ${file}`);
  if (!statSync(file).isFile()) throw new Error(`the predictor path is not a file: ${file}`);
  const mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  const Cls = mod.default;
  const expected =
    'expected `export default class { constructor(config) {...} predict(payload, { queryParams, headers }) {...} }`';
  if (Cls === undefined) {
    const names = Object.keys(mod).filter((k) => k !== 'default' && k !== 'module.exports');
    throw new Error(
      `${file} has no default export; ${expected}` + (names.length > 0 ? ` (it exports: ${names.join(', ')})` : ''),
    );
  }
  if (typeof Cls !== 'function') {
    throw new Error(`the default export of ${file} is ${describe(Cls)}, not a class; ${expected}`);
  }
  let instance: Predictor;
  try {
    instance = new (Cls as new (config: unknown) => Predictor)(cfg.config);
  } catch (err) {
    if (err instanceof TypeError && /is not a constructor/.test(err.message)) {
      throw new Error(`the default export of ${file} is not a class (it cannot be called with new); ${expected}`);
    }
    throw err;
  }
  if (instance === null || typeof instance !== 'object' || typeof instance.predict !== 'function') {
    throw new Error(`the default-exported class of ${file} has no predict method; ${expected}`);
  }
  if (typeof instance.init === 'function') await instance.init();
  return instance;
}

async function main(): Promise<void> {
  process.on('exit', flushLogs);
  console.log = consoleMethod('info');
  console.info = consoleMethod('info');
  console.debug = consoleMethod('debug');
  console.warn = consoleMethod('warning');
  console.error = consoleMethod('error');
  const port = parentPort!;
  port.on('message', (msg: unknown) => {
    if (msg instanceof ArrayBuffer) onJobs(msg);
    else if ((msg as { type?: string }).type === 'shutdown') {
      shuttingDown = true;
      maybeExit();
    }
  });
  try {
    predictor = await load();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const stack = stackText(err);
    writeLog('error', `the predictor failed to initialise: ${stack}`, null);
    port.postMessage({ type: 'init-error', message, stack });
    process.exit(1);
  }
  hasPostPredict = typeof predictor.postPredict === 'function';
  useAls = predictor.predict.constructor?.name === 'AsyncFunction';
  const headers = hasPostPredict || mayReadSecondArgument(predictor.predict as (...args: never[]) => unknown);
  port.postMessage({ type: 'ready', headers });
}

// Imported elsewhere for its constants, it must not start anything.
if (parentPort !== null && cfg?.role === 'cortex-ts-predictor') await main();
