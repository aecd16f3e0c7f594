// What a TypeScript predictor's predict receives, decoded from a job with Cortex's rules: the
// payload by Content-Type (JSON → value, text/plain → string in its charset, forms → object,
// anything else or no Content-Type → bytes; undecodable → a BadRequest answered 400), and the
// request context (second argument), whose query parameters and headers are parsed only when
// the predictor reads them.

import { inspect, TextDecoder } from 'node:util';
import { Buffer, isUtf8 } from 'node:buffer';
import type { Job } from './typescript-job-codec.ts';
import { otelContext, type OtelContext } from './typescript-thread-trace.ts';

// ---------------------------------------------------------------------------------------------
// The request context: the predictor's second argument, parsed only when it looks

export class RequestContext {
  #query: string;
  #rawHeaders: string;
  #queryParams: Record<string, string> | undefined;
  #headers: Record<string, string> | undefined;
  /** The HTTP method (POST unless a handler class's handleGet, handlePut... is called). */
  readonly method: string;
  /** Made on first use of `signal`: most predictors never look. */
  #abort: AbortController | undefined;
  #aborted = false;
  /** "traceparent" or "traceparent\ntracestate" when the replica exports traces (runtime/tracing/). */
  #trace: string | undefined;
  constructor(query: string, rawHeaders: string, method = 'POST', trace?: string) {
    this.#query = query;
    this.#rawHeaders = rawHeaders;
    this.method = method;
    this.#trace = trace;
  }

  /** The W3C traceparent of this predict's span (cortex.predict, or cortex.batch), when the replica exports traces. */
  get traceparent(): string | undefined {
    if (this.#trace === undefined) return undefined;
    const nl = this.#trace.indexOf('\n');
    return nl < 0 ? this.#trace : this.#trace.slice(0, nl);
  }

  /** The W3C tracestate that goes with traceparent, when there is one. */
  get tracestate(): string | undefined {
    const nl = this.#trace?.indexOf('\n') ?? -1;
    return nl < 0 ? undefined : this.#trace!.slice(nl + 1);
  }

  /**
   * The OpenTelemetry Context of this predict (its span as the parent), for
   * `tracer.startSpan(name, {}, ctx.traceContext)`; undefined when the replica does not export traces.
   * predict also runs inside `context.with(traceContext)`, so with a context manager registered
   * (an SDK set up in the predictor's module) spans started in predict are its children already.
   */
  get traceContext(): OtelContext | undefined {
    return this.#trace === undefined ? undefined : otelContext(this.traceparent!, this.tracestate);
  }
  /**
   * Aborted when the client of a streamed answer goes away (docs/streaming.md): pass it to what
   * the stream awaits (fetch, timers/promises' setTimeout) or check `aborted` between items.
   */
  get signal(): AbortSignal {
    this.#abort ??= new AbortController();
    if (this.#aborted && !this.#abort.signal.aborted) this.#abort.abort(new Error('the client went away'));
    return this.#abort.signal;
  }

  /** The thread's stream runner: the client of this request's stream went away. */
  static abort(ctx: RequestContext): void {
    ctx.#aborted = true;
    ctx.#abort?.abort(new Error('the client went away'));
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

/** A body that cannot be decoded as its Content-Type says: answered 400 with the message. */
export class BadRequest {
  message: string;
  constructor(message: string) {
    this.message = message;
  }
}

const textDecoders = new Map<string, TextDecoder>();

/** The payload, a BadRequest, or (forms only) a promise of either. */
export function decode(job: Job): unknown {
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
