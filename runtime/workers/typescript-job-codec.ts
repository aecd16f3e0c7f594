// The job records of the TypeScript worker channel, both directions of one format: the front
// (workers/typescript.ts) encodes every job queued during one event-loop tick into ONE
// ArrayBuffer that it transfers to the thread, and the thread (workers/typescript-thread.ts)
// decodes it into Job records that point into that buffer (nothing structured-cloned or copied
// per job). All integers little-endian.
//
//   u32 usedBytes, then until usedBytes: with batching `u32 count` then count records,
//   without batching one record after the other. A record:
//     f64 id, u32 bodyLen, u8 flags,
//     [u32 len, utf8] content type      if flags & F_CT      (absent: application/json,
//                                                             or none at all if F_NO_CT)
//     [u32 len, utf8] raw query string  if flags & F_QUERY
//     [u32 len, utf8] client request id if flags & F_RID
//     [u32 len, utf8] rawHeaders joined with '\0'   if flags & F_HEADERS
//     [u32 len, utf8] HTTP method       if flags & F_METHOD  (absent: POST; a handler class only)
//     body (bodyLen bytes)
//     [u32 len, utf8] traceparent, then '\n' and tracestate when there is one   if flags & F_TRACE
//   flags & F_SSE (no bytes): the client accepts text/event-stream (docs/streaming.md).

import { Buffer } from 'node:buffer';
import type { PredictJob } from './types.ts';

export const F_CT = 1;
export const F_NO_CT = 2;
export const F_QUERY = 4;
export const F_RID = 8;
export const F_HEADERS = 16;
export const F_METHOD = 32;
export const F_SSE = 64;
/** The W3C trace context the predictor runs in (only when the replica exports traces: runtime/tracing/). */
export const F_TRACE = 128;
/** f64 id + u32 bodyLen + u8 flags */
export const JOB_FIXED = 13;

/** A decoded job record, as the thread sees it. */
export interface Job {
  id: number;
  /** The client's X-Request-ID, when sent. */
  clientRid: string | undefined;
  ct: string | undefined;
  query: string;
  headers: string;
  /** The HTTP method when it is not POST (a handler class's handleGet...). */
  method?: string;
  /** The client accepts text/event-stream: a stream of JSON values becomes Server-Sent Events. */
  eventStream?: boolean;
  /** "traceparent" or "traceparent\ntracestate": the W3C context the predict runs in (F_TRACE). */
  trace?: string;
  /** The buffer of the message this job arrived in, and this job's body within it. */
  buf: Buffer;
  start: number;
  end: number;
}

// ---------------------------------------------------------------------------------------------
// Front side: encode

/**
 * One transferable buffer holding `units` (jobs, or with batching arrays of jobs).
 * `withHeaders`: whether to send the request headers (the predictor may read them).
 */
export function encodeJobs(units: (PredictJob | PredictJob[])[], batching: boolean, withHeaders: boolean): ArrayBuffer {
  // Pass 1: an upper bound of the size (strings: at most 3 bytes per UTF-16 unit).
  let size = 4;
  for (let u = 0; u < units.length; u++) {
    if (batching) {
      const jobs = units[u] as PredictJob[];
      size += 4;
      for (let i = 0; i < jobs.length; i++) size += jobSize(jobs[i], withHeaders);
    } else size += jobSize(units[u] as PredictJob, withHeaders);
  }
  const ab = Buffer.allocUnsafeSlow(size).buffer as ArrayBuffer;
  const buf = Buffer.from(ab);
  const dv = new DataView(ab);
  // Pass 2: write.
  let off = 4;
  for (let u = 0; u < units.length; u++) {
    if (batching) {
      const jobs = units[u] as PredictJob[];
      dv.setUint32(off, jobs.length, true);
      off += 4;
      for (let i = 0; i < jobs.length; i++) off = writeJob(buf, dv, off, jobs[i], withHeaders);
    } else off = writeJob(buf, dv, off, units[u] as PredictJob, withHeaders);
  }
  dv.setUint32(0, off, true);
  return ab;
}

function jobSize(j: PredictJob, withHeaders: boolean): number {
  let n = JOB_FIXED + j.body.length;
  const ct = j.contentType;
  if (ct !== undefined && ct !== 'application/json') n += 4 + ct.length * 3;
  if (j.query !== '') n += 4 + j.query.length * 3;
  if (j.clientRequestId !== undefined) n += 4 + j.clientRequestId.length * 3;
  if (j.method !== undefined) n += 4 + j.method.length * 3;
  if (j.traceparent !== undefined) n += 5 + (j.traceparent.length + (j.tracestate?.length ?? 0)) * 3;
  if (withHeaders) {
    const raw = j.rawHeaders;
    n += 4 + raw.length;
    for (let i = 0; i < raw.length; i++) n += raw[i].length * 3;
  }
  return n;
}

function writeJob(buf: Buffer, dv: DataView, off: number, j: PredictJob, withHeaders: boolean): number {
  const rec = off;
  off += JOB_FIXED;
  let flags = 0;
  const ct = j.contentType;
  if (ct === undefined) flags |= F_NO_CT;
  else if (ct !== 'application/json') {
    flags |= F_CT;
    off = writeString(buf, dv, off, ct);
  }
  if (j.query !== '') {
    flags |= F_QUERY;
    off = writeString(buf, dv, off, j.query);
  }
  if (j.clientRequestId !== undefined) {
    flags |= F_RID;
    off = writeString(buf, dv, off, j.clientRequestId);
  }
  if (withHeaders && j.rawHeaders.length > 0) {
    flags |= F_HEADERS;
    off = writeString(buf, dv, off, j.rawHeaders.join('\0'));
  }
  if (j.method !== undefined) {
    flags |= F_METHOD;
    off = writeString(buf, dv, off, j.method);
  }
  if (j.traceparent !== undefined) {
    flags |= F_TRACE;
    off = writeString(buf, dv, off, j.tracestate ? `${j.traceparent}\n${j.tracestate}` : j.traceparent);
  }
  if (j.eventStream === true) flags |= F_SSE;
  const len = j.body.length;
  if (len > 0) buf.set(j.body, off);
  dv.setFloat64(rec, j.id, true);
  dv.setUint32(rec + 8, len, true);
  dv.setUint8(rec + 12, flags);
  return off + len;
}

function writeString(buf: Buffer, dv: DataView, off: number, s: string): number {
  const n = buf.write(s, off + 4, 'utf8');
  dv.setUint32(off, n, true);
  return off + 4 + n;
}

// ---------------------------------------------------------------------------------------------
// Thread side: decode

/**
 * Appends the units of a jobs buffer to `queue`: Job records, or with batching one Job[] per
 * batch. The records keep a view of `ab` (their bodies are not copied).
 */
export function decodeJobs(ab: ArrayBuffer, batching: boolean, queue: (Job | Job[])[]): void {
  const buf = Buffer.from(ab);
  const dv = new DataView(ab);
  const used = dv.getUint32(0, true);
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
    let method: string | undefined;
    let trace: string | undefined;
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
      if (flags & F_METHOD) {
        const n = dv.getUint32(off, true);
        method = buf.toString('utf8', off + 4, off + 4 + n);
        off += 4 + n;
      }
      if (flags & F_TRACE) {
        const n = dv.getUint32(off, true);
        trace = buf.toString('utf8', off + 4, off + 4 + n);
        off += 4 + n;
      }
    }
    const job: Job = { id, clientRid, ct, query, headers, buf, start: off, end: off + bodyLen };
    if (method !== undefined) job.method = method;
    if (trace !== undefined) job.trace = trace;
    if (flags & F_SSE) job.eventStream = true;
    off += bodyLen;
    if (batching) {
      batch!.push(job);
      batchLeft--;
    } else queue.push(job);
  }
}
