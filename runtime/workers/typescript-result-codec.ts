// The result records of the TypeScript worker channel, both directions of one format: the
// thread (workers/typescript-thread.ts) encodes each answer, as soon as it is known, into its
// current tick's buffer and transfers that buffer to the front once per event-loop tick; the
// front (workers/typescript.ts) decodes it and hands every result to its job. All integers
// little-endian.
//
//   u32 usedBytes, then records: f64 id, u16 status, u8 kind, u32 hdrLen, u32 bodyLen,
//   hdr (UTF-8 JSON [["name","value"],...], kind Custom only), body.

import { Buffer } from 'node:buffer';
import type { MessagePort } from 'node:worker_threads';
import type { JobTable } from './job-table.ts';
import type { BodyKind, PredictResult } from './types.ts';

/** f64 id + u16 status + u8 kind + u32 hdrLen + u32 bodyLen */
export const RESULT_FIXED = 19;

// Same numbers as types.ts's BodyKind (not imported: the thread loads as little as it can).
export const KIND_JSON = 0;
export const KIND_TEXT = 1;
export const KIND_BYTES = 2;
export const KIND_CUSTOM = 3;

// ---------------------------------------------------------------------------------------------
// Thread side: encode, coalesced per tick into one transferred buffer

// Each answer is encoded into this tick's buffer as soon as it is known, so a predictor that
// reuses an output buffer cannot change an answer already given, and nothing is copied twice.
let outBuf: Buffer | null = null;
let outView: DataView | null = null;
let outOff = 0;
/** Initial size of the next tick's buffer: follows what the last tick needed. */
let outCapacity = 4096;
/** Whether a flush is scheduled (read by the thread's exit check: an ES live binding). */
export let flushScheduled = false;
let port: MessagePort | null = null;
let afterFlush: () => void = () => {};

/** Where flushed buffers go, and what runs right after each flush (postPredict calls). */
export function startResultWriter(to: MessagePort, then: () => void): void {
  port = to;
  afterFlush = then;
}

/** Room for n more bytes in this tick's buffer (allocated on first use). */
function reserve(n: number): Buffer {
  let buf = outBuf;
  if (buf === null) {
    buf = Buffer.allocUnsafeSlow(Math.max(outCapacity, 4 + n));
    outOff = 4;
    flushScheduled = true;
    setImmediate(flushResults);
  } else if (outOff + n > buf.length) {
    const bigger = Buffer.allocUnsafeSlow(Math.max(buf.length * 2, outOff + n));
    buf.copy(bigger, 0, 0, outOff);
    buf = bigger;
  } else return buf;
  outBuf = buf;
  outView = new DataView(buf.buffer, 0, buf.length);
  return buf;
}

/** Encodes one result into this tick's buffer (`headers`: '' or the JSON of the pairs). */
export function pushResult(id: number, status: number, kind: number, headers: string, body: string | Uint8Array): void {
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

/** An error answer: JSON `{"error": message}`. */
export function pushError(id: number, status: number, message: string): void {
  pushResult(id, status, KIND_JSON, '', JSON.stringify({ error: message }));
}

function flushResults(): void {
  flushScheduled = false;
  const buf = outBuf;
  if (buf === null) return;
  outView!.setUint32(0, outOff, true);
  outCapacity = Math.min(1 << 20, Math.max(4096, outOff + (outOff >> 1)));
  outBuf = null;
  outView = null;
  const ab = buf.buffer as ArrayBuffer;
  port!.postMessage(ab, [ab]);
  afterFlush();
}

// ---------------------------------------------------------------------------------------------
// Front side: decode

const EMPTY = Buffer.alloc(0);

/**
 * Takes the job of each result in `ab` out of `jobs` and calls its done() (results of jobs no
 * longer there are skipped). Bodies are views of `ab`, not copies. Returns the first exception
 * a done() threw, after every result was delivered; undefined if none did.
 */
export function deliverResults(ab: ArrayBuffer, jobs: JobTable): unknown {
  const dv = new DataView(ab);
  const used = dv.getUint32(0, true);
  let thrown: unknown;
  let off = 4;
  while (off < used) {
    const id = dv.getFloat64(off, true);
    const status = dv.getUint16(off + 8, true);
    const kind = dv.getUint8(off + 10) as BodyKind;
    const hLen = dv.getUint32(off + 11, true);
    const bLen = dv.getUint32(off + 15, true);
    off += RESULT_FIXED;
    const job = jobs.take(id);
    if (job === undefined) {
      off += hLen + bLen;
      continue;
    }
    let result: PredictResult;
    if (hLen === 0) {
      result = { status, kind, body: bLen === 0 ? EMPTY : Buffer.from(ab, off, bLen) };
    } else {
      const headers = JSON.parse(Buffer.from(ab, off, hLen).toString('utf8')) as [string, string][];
      result = { status, kind, headers, body: bLen === 0 ? EMPTY : Buffer.from(ab, off + hLen, bLen) };
    }
    off += hLen + bLen;
    try {
      job.done(result);
    } catch (err) {
      thrown ??= err;
    }
  }
  return thrown;
}
