// OpenTelemetry traces of one replica (docs/tracing.md). Loaded by replica.ts only when an OTLP
// endpoint is configured (config.ts), so a replica without one never loads the SDK and the
// front's hot path pays one boolean check (server.ts, dispatcher.ts).
//
// Spans, for a request that arrives with (or without) a W3C traceparent:
//   <METHOD> <endpoint>  SERVER, child of the caller's span: arrival → answer written (or stream end)
//   ├─ cortex.queue      admitted → handed to a worker (waiting for a free predict slot)
//   └─ cortex.predict    handed to a worker → its answer; the predictor's context (its own spans nest here)
// With server-side batching, one cortex.batch span per batch replaces cortex.predict: a child of the
// first request's span, linked to every request's span, and the predictor's context.
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Context,
  type Link,
  type Span,
  type TextMapGetter,
  type Tracer,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { PredictJob } from '../workers/types.ts';
import type { TracingConfig } from './config.ts';

/** The spans of one request, kept on its job (PredictJob.trace). */
export interface JobTrace {
  request: Span;
  context: Context;
  queue: Span | undefined;
  predict: Span | undefined;
  /** With server-side batching: its batch's span, ended with the batch's last answer. */
  batch: { span: Span; left: number } | undefined;
}

/** Reads a header out of Node's rawHeaders (name, value, name, value...), case-insensitively. */
const rawHeadersGetter: TextMapGetter<string[]> = {
  keys: (raw) => raw.filter((_, i) => i % 2 === 0).map((k) => k.toLowerCase()),
  get: (raw, key) => {
    for (let i = 0; i < raw.length; i += 2) if (raw[i].toLowerCase() === key) return raw[i + 1];
    return undefined;
  },
};

const propagator = new W3CTraceContextPropagator();

/** The W3C headers of a span's context, as the predictor gets them. */
function traceHeaders(span: Span): { traceparent?: string; tracestate?: string } {
  const carrier: Record<string, string> = {};
  propagator.inject(trace.setSpan(ROOT_CONTEXT, span), carrier, {
    set: (c, k, v) => {
      c[k] = v;
    },
  });
  return carrier;
}

export class RequestTracing {
  private readonly provider: BasicTracerProvider;
  private readonly tracer: Tracer;
  /** Where spans go. */
  readonly url: string;

  constructor(api: string, config: TracingConfig) {
    this.url = config.url;
    this.provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': config.serviceName ?? api, 'cortex.api': api }),
      spanProcessors: [
        new BatchSpanProcessor(new OTLPTraceExporter({ url: config.url, headers: config.headers }), {
          scheduledDelayMillis: config.scheduledDelayMs,
        }),
      ],
    });
    this.tracer = this.provider.getTracer('cortex-runtime');
  }

  /** A request's body arrived and it goes to the dispatcher: its SERVER span and its cortex.queue span. */
  begin(job: PredictJob, method: string, path: string, startedAt: number): void {
    const parent = propagator.extract(ROOT_CONTEXT, job.rawHeaders, rawHeadersGetter);
    const request = this.tracer.startSpan(
      `${method} ${path}`,
      {
        kind: SpanKind.SERVER,
        startTime: performanceToEpochMs(startedAt),
        attributes: {
          'http.request.method': method,
          'url.path': path,
          'http.request.body.size': job.body.length,
          ...(job.clientRequestId !== undefined ? { 'cortex.request_id': job.clientRequestId } : {}),
        },
      },
      parent,
    );
    const context = trace.setSpan(parent, request);
    const queue = this.tracer.startSpan('cortex.queue', undefined, context);
    job.trace = { request, context, queue, predict: undefined, batch: undefined } satisfies JobTrace;
  }

  /** The dispatcher hands jobs to a worker: queueing ends, the predict (or batch) span starts. */
  sent(jobs: readonly PredictJob[], batching: boolean): void {
    const traces: JobTrace[] = [];
    for (const job of jobs) {
      const t = job.trace as JobTrace | undefined;
      if (t === undefined) continue;
      t.queue?.end();
      t.queue = undefined;
      traces.push(t);
    }
    if (traces.length === 0) return;
    if (!batching) {
      for (const job of jobs) {
        const t = job.trace as JobTrace | undefined;
        if (t === undefined) continue;
        t.predict = this.tracer.startSpan('cortex.predict', undefined, t.context);
        Object.assign(job, traceHeaders(t.predict));
      }
      return;
    }
    const links: Link[] = traces.map((t) => ({ context: t.request.spanContext() }));
    const batch = this.tracer.startSpan(
      'cortex.batch',
      { links, attributes: { 'cortex.batch.size': jobs.length } },
      traces[0].context,
    );
    const headers = traceHeaders(batch);
    const shared = { span: batch, left: traces.length };
    for (const t of traces) t.batch = shared;
    for (const job of jobs) Object.assign(job, headers);
  }

  /** The answer (or its stream's start) was written: `status` is the HTTP status sent. */
  finish(job: PredictJob, status: number): void {
    const t = job.trace as JobTrace | undefined;
    if (t === undefined) return;
    job.trace = undefined;
    t.queue?.end();
    t.predict?.end();
    if (t.batch !== undefined && --t.batch.left === 0) t.batch.span.end();
    t.request.setAttribute('http.response.status_code', status);
    if (status >= 500) t.request.setStatus({ code: SpanStatusCode.ERROR });
    t.request.end();
  }

  /** The client went away before its answer. */
  abandon(job: PredictJob): void {
    const t = job.trace as JobTrace | undefined;
    if (t === undefined) return;
    t.request.setStatus({ code: SpanStatusCode.ERROR, message: 'client closed the connection' });
    this.finish(job, 499);
  }

  /** Sends the spans still buffered (the replica is stopping). */
  async shutdown(): Promise<void> {
    await this.provider.shutdown();
  }
}

/** performance.now() → epoch milliseconds, as the SDK takes a start time. */
function performanceToEpochMs(now: number): number {
  return performance.timeOrigin + now;
}
