// Streamed answers of a TypeScript predictor (docs/streaming.md), in its worker thread: predict
// returned an AsyncIterable (an async generator), a sync generator, a web ReadableStream, or a
// Response whose body turns out to be a stream. Each item is encoded like Python's
// (runtime/python/cortex_stream.py): strings are text, bytes are bytes, anything else a JSON
// value, as a Server-Sent Event when the client accepts text/event-stream, else one NDJSON line.
//
// Messages (plain objects, the chunk's bytes transferred; those of one tick travel together as
// { type: 'streams', messages: [...] }), thread → front:
//   { type: 'stream', op: 'start', id, status, kind, headers }  before the first chunk
//   { type: 'stream', op: 'chunk', id, data: ArrayBuffer }
//   { type: 'stream', op: 'end', id, error?: string }          exactly once, last
// front → thread: { type: 'stream-credit', id, n }, { type: 'stream-cancel', id }.
// Flow control as for Python: at most WINDOW bytes sent and not credited; the iterator is not
// advanced meanwhile. A cancel aborts ctx.signal and returns the iterator (its `finally` runs);
// the end still follows. A failure before the first chunk is an ordinary 500 result.

import type { MessagePort } from 'node:worker_threads';
import type { Job } from './typescript-job-codec.ts';
import { KIND_BYTES, KIND_CUSTOM, KIND_TEXT, pushError, pushResult } from './typescript-result-codec.ts';
import { writeLog } from './typescript-thread-console.ts';
import { errorText, stackText } from './typescript-thread-errors.ts';
import { RequestContext } from './typescript-thread-payload.ts';
import { PREDICT_FAILED, isResponse } from './typescript-thread-answer.ts';

export const WINDOW = 64 * 1024;
const KIND_EVENT_STREAM = 4;
const KIND_NDJSON = 5;
const encoder = new TextEncoder();

let port: MessagePort | null = null;
const streams = new Map<number, ThreadStream>();
/** This tick's stream messages (and the chunks' buffers to transfer): posted as one message. */
let outbox: object[] = [];
let transfers: ArrayBuffer[] = [];

function post(msg: object, transfer?: ArrayBuffer): void {
  if (outbox.length === 0) setImmediate(flushOutbox);
  outbox.push(msg);
  if (transfer !== undefined) transfers.push(transfer);
}

function flushOutbox(): void {
  const messages = outbox;
  const buffers = transfers;
  outbox = [];
  transfers = [];
  port!.postMessage({ type: 'streams', messages }, buffers);
}

export function startStreams(to: MessagePort): void {
  port = to;
}

/** A message from the front about a stream (credit, cancel); false when it is not one. */
export function onStreamMessage(msg: { type?: string; id?: number; n?: number }): boolean {
  if (msg.type === 'stream-credit') streams.get(msg.id!)?.credit(msg.n!);
  else if (msg.type === 'stream-cancel') streams.get(msg.id!)?.cancel();
  else return false;
  return true;
}

/** Stream messages not posted yet (the thread's exit check waits for them). */
export function streamMessagesPending(): boolean {
  return outbox.length > 0;
}

type Source = AsyncIterator<unknown> | Iterator<unknown>;

/** The iterator predict's value streams from, or undefined when it is an ordinary answer. */
export function streamSource(value: unknown): Source | undefined {
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array || Array.isArray(value)) {
    return undefined;
  }
  const v = value as { [Symbol.asyncIterator]?: () => AsyncIterator<unknown>; next?: unknown };
  if (typeof v[Symbol.asyncIterator] === 'function') return v[Symbol.asyncIterator]!();
  // A sync generator object (not any iterable: a Map or a Set stays a JSON answer).
  if (typeof v.next === 'function' && typeof (value as Iterable<unknown>)[Symbol.iterator] === 'function') {
    return value as Iterator<unknown>;
  }
  return undefined;
}

/**
 * Streams `source` as the answer to `job`; resolves when it ended (the unit's slot is held until
 * then). `custom`: a Response's status and headers (its bytes are sent as they are).
 */
export function runStream(
  job: Job,
  source: Source,
  ctx: RequestContext | undefined,
  custom?: { status: number; headers: [string, string][]; first?: Uint8Array },
): Promise<void> {
  const stream = new ThreadStream(job, source, ctx, custom);
  streams.set(job.id, stream);
  return stream.run().finally(() => streams.delete(job.id));
}

/**
 * A Response: its body is read; a body that is all there at once (a string, bytes) is an
 * ordinary answer as before, one that is still coming is streamed. Undefined: not a Response.
 */
export function answerResponseStreaming(job: Job, value: unknown, ctx: RequestContext): Promise<void> | undefined {
  if (value === null || typeof value !== 'object' || !isResponse(value)) return undefined;
  const res = value as unknown as Response;
  if (res.body === null) return undefined;
  return (async () => {
    const headers: [string, string][] = [];
    res.headers.forEach((v, name) => {
      if (name !== 'content-length' && name !== 'transfer-encoding') headers.push([name, v]);
    });
    const status = Number.isInteger(res.status) && res.status >= 200 && res.status <= 999 ? res.status : 500;
    const reader = res.body!.getReader();
    const it: AsyncIterator<unknown> = {
      next: () => reader.read() as Promise<IteratorResult<unknown>>,
      return: async () => {
        await reader.cancel();
        return { done: true, value: undefined };
      },
    };
    let first: IteratorResult<unknown>;
    try {
      first = await it.next();
    } catch (err) {
      writeLog('error', `reading the Response that predict returned failed: ${stackText(err)}`, job);
      pushError(job.id, 500, PREDICT_FAILED);
      return;
    }
    // A body that was all there (a string, bytes) ends at once: answer it whole, with its length.
    const secondRead = it.next();
    secondRead.catch(() => {}); // read again below, through `rest`
    const second = await Promise.race([secondRead, new Promise<undefined>((r) => setImmediate(() => r(undefined)))]);
    const firstBytes = first.done ? new Uint8Array(0) : (first.value as Uint8Array);
    if (first.done || (second !== undefined && second.done)) {
      pushResult(job.id, status, KIND_CUSTOM, JSON.stringify(headers), firstBytes);
      return;
    }
    let pending: Promise<IteratorResult<unknown>> | undefined = secondRead;
    const rest: AsyncIterator<unknown> = {
      next: () => {
        const r = pending ?? it.next();
        pending = undefined;
        return r;
      },
      return: it.return,
    };
    await runStream(job, rest, ctx, { status, headers, first: firstBytes });
  })();
}

class ThreadStream {
  readonly #job: Job;
  readonly #source: Source;
  readonly #ctx: RequestContext | undefined;
  readonly #custom: { status: number; headers: [string, string][]; first?: Uint8Array } | undefined;
  #kind = 0;
  #started = false;
  #unacked = 0;
  #cancelled = false;
  #wake: (() => void) | undefined;

  constructor(
    job: Job,
    source: Source,
    ctx: RequestContext | undefined,
    custom?: { status: number; headers: [string, string][]; first?: Uint8Array },
  ) {
    this.#job = job;
    this.#source = source;
    this.#ctx = ctx;
    this.#custom = custom;
    if (custom !== undefined) this.#kind = KIND_CUSTOM;
  }

  credit(n: number): void {
    this.#unacked -= n;
    this.#wake?.();
  }

  cancel(): void {
    this.#cancelled = true;
    if (this.#ctx !== undefined) RequestContext.abort(this.#ctx);
    this.#wake?.();
  }

  async run(): Promise<void> {
    const job = this.#job;
    try {
      if (this.#custom?.first !== undefined) this.#send(this.#custom.first);
      for (;;) {
        while (this.#unacked >= WINDOW && !this.#cancelled) {
          await new Promise<void>((resolve) => (this.#wake = resolve));
          this.#wake = undefined;
        }
        if (this.#cancelled) break;
        const r = await this.#source.next();
        if (r.done) break;
        if (this.#cancelled) break;
        this.#send(this.#encode(r.value));
      }
      if (this.#cancelled) {
        await this.#close();
        return this.#end('cancelled: the client went away');
      }
      this.#end(undefined);
    } catch (err) {
      if (this.#cancelled) {
        // the predictor gave up on its aborted signal: the expected way to stop
        await this.#close();
        return this.#end('cancelled: the client went away');
      }
      await this.#close();
      const own = err instanceof EncodeError;
      writeLog('error', own ? err.message : stackText(err), job);
      if (!this.#started) return pushError(job.id, 500, own ? err.message : PREDICT_FAILED);
      this.#end(own ? err.message : PREDICT_FAILED);
    }
  }

  async #close(): Promise<void> {
    try {
      await this.#source.return?.();
    } catch (err) {
      writeLog('error', `closing the stream failed: ${stackText(err)}`, this.#job);
    }
  }

  #encode(item: unknown): Uint8Array {
    if (this.#kind === 0) {
      if (typeof item === 'string') this.#kind = KIND_TEXT;
      else if (item instanceof Uint8Array || item instanceof ArrayBuffer) this.#kind = KIND_BYTES;
      else this.#kind = this.#job.eventStream === true ? KIND_EVENT_STREAM : KIND_NDJSON;
    }
    const bytes = item instanceof ArrayBuffer ? new Uint8Array(item) : item;
    switch (this.#kind) {
      case KIND_EVENT_STREAM: {
        const text = typeof item === 'string' ? item : bytes instanceof Uint8Array ? decode(bytes) : json(item);
        return encoder.encode(
          text
            .split('\n')
            .map((line) => `data: ${line}\n`)
            .join('') + '\n',
        );
      }
      case KIND_NDJSON:
        return encoder.encode(json(bytes instanceof Uint8Array ? decode(bytes) : item) + '\n');
      default:
        if (typeof item === 'string') return encoder.encode(item);
        if (bytes instanceof Uint8Array) return bytes;
        return encoder.encode(json(item) + '\n');
    }
  }

  /** STREAM start goes out once, with the first chunk or the end, whichever comes first. */
  #start(kind: number): void {
    if (this.#started) return;
    this.#started = true;
    const custom = this.#custom;
    post({
      type: 'stream',
      op: 'start',
      id: this.#job.id,
      status: custom?.status ?? 200,
      kind,
      headers: custom?.headers,
    });
  }

  #send(data: Uint8Array): void {
    const id = this.#job.id;
    this.#start(this.#kind === 0 ? KIND_TEXT : this.#kind);
    // A copy the thread gives away: the predictor may reuse its buffer.
    const copy = new Uint8Array(data.byteLength);
    copy.set(data);
    this.#unacked += copy.byteLength;
    post({ type: 'stream', op: 'chunk', id, data: copy.buffer }, copy.buffer);
  }

  #end(error: string | undefined): void {
    const id = this.#job.id;
    this.#start(this.#kind !== 0 ? this.#kind : this.#job.eventStream === true ? KIND_EVENT_STREAM : KIND_TEXT);
    post({ type: 'stream', op: 'end', id, ...(error !== undefined ? { error } : {}) });
  }
}

class EncodeError extends Error {}

function json(item: unknown): string {
  let text: string | undefined;
  try {
    text = item === undefined ? 'null' : JSON.stringify(item);
  } catch (err) {
    throw new EncodeError(`predict yielded a value that cannot be sent: ${errorText(err)}`);
  }
  if (text === undefined) throw new EncodeError(`predict yielded a ${typeof item} that cannot be sent`);
  return text;
}

function decode(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}
