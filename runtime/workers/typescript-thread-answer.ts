// Turns what a TypeScript predictor returned (or threw) into a result record, with Cortex's
// rules: a string is text, Uint8Array / Buffer / ArrayBuffer are bytes, a web Response (or
// anything shaped like one) keeps its status and headers, `undefined` is JSON null, anything
// else is JSON; a value that is not serialisable, or an exception, is a logged 500.

import type { Job } from './typescript-job-codec.ts';
import { KIND_BYTES, KIND_CUSTOM, KIND_JSON, KIND_TEXT, pushError, pushResult } from './typescript-result-codec.ts';
import { writeLog } from './typescript-thread-console.ts';
import { describe, errorText, stackText } from './typescript-thread-errors.ts';

interface ResponseLike {
  status: number;
  headers: { forEach(cb: (value: string, name: string) => void): void };
  arrayBuffer(): Promise<ArrayBuffer>;
}

/** A web-standard Response (or any object shaped like one: undici's, a polyfill's). */
export function isResponse(v: object): v is ResponseLike {
  const r = v as Partial<ResponseLike>;
  // No `instanceof Response` first: it would load undici in every thread.
  return (
    typeof r.arrayBuffer === 'function' &&
    typeof r.status === 'number' &&
    r.headers !== undefined &&
    r.headers !== null &&
    typeof r.headers.forEach === 'function'
  );
}

/** Encodes what predict returned and pushes it; a promise only for a Response (its body). */
export function answer(job: Job, value: unknown): Promise<void> | undefined {
  if (typeof value === 'string') {
    pushResult(job.id, 200, KIND_TEXT, '', value);
    return undefined;
  }
  if (value !== null && typeof value === 'object') {
    if (value instanceof Uint8Array) {
      pushResult(job.id, 200, KIND_BYTES, '', value);
      return undefined;
    }
    if (value instanceof ArrayBuffer) {
      pushResult(job.id, 200, KIND_BYTES, '', new Uint8Array(value));
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
  else pushResult(job.id, 200, KIND_JSON, '', json);
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
    pushResult(job.id, status, KIND_CUSTOM, JSON.stringify(headers), body);
  } catch (err) {
    writeLog('error', `reading the Response that predict returned failed: ${stackText(err)}`, job);
    pushError(job.id, 500, PREDICT_FAILED);
  }
}

/**
 * What a client gets when predict throws: as Cortex answered, no exception text (it may hold a
 * connection string or a customer's data); the stack goes to the API's logs.
 */
export const PREDICT_FAILED = "internal server error (the exception is in the API's logs)";

/** predict threw (or rejected): logged with its stack, answered 500 PREDICT_FAILED. */
export function failed(job: Job, err: unknown): void {
  writeLog('error', stackText(err), job);
  pushError(job.id, 500, PREDICT_FAILED);
}
