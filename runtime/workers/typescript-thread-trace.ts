// The OpenTelemetry side of a TypeScript predictor's request context (docs/tracing.md): only used
// when the replica exports traces (a job then carries F_TRACE), so @opentelemetry/api is loaded
// on the first traced job, never by a thread that serves untraced ones.
import { createRequire } from 'node:module';
import type * as otel from '@opentelemetry/api';

export type OtelContext = otel.Context;

let api: typeof otel | undefined;
function load(): typeof otel {
  // Context keys are Symbol.for(...), so a Context made with this copy of the API is read by the
  // predictor's own copy (and the global context manager it registers) alike.
  api ??= createRequire(import.meta.url)('@opentelemetry/api') as typeof otel;
  return api;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The Context whose span is the remote parent `traceparent` (with `tracestate`). */
export function otelContext(traceparent: string, tracestate: string | undefined): OtelContext {
  const o = load();
  const m = TRACEPARENT.exec(traceparent);
  if (m === null) return o.ROOT_CONTEXT;
  const spanContext: otel.SpanContext = {
    traceId: m[2],
    spanId: m[3],
    traceFlags: Number.parseInt(m[4], 16) & 1,
    isRemote: true,
  };
  if (tracestate !== undefined) spanContext.traceState = o.createTraceState(tracestate);
  return o.trace.setSpanContext(o.ROOT_CONTEXT, spanContext);
}

/** Runs `fn` with the request's trace context active (a no-op context manager unless the predictor registered one). */
export function withTrace<T>(ctx: { traceContext: OtelContext | undefined }, fn: () => T): T {
  const traceContext = ctx.traceContext;
  return traceContext === undefined ? fn() : load().context.with(traceContext, fn);
}
