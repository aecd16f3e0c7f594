"""The trace context of the request being predicted (docs/tracing.md).

When the replica exports traces (an OTLP endpoint is configured), every predict runs inside the
runtime's `cortex.predict` span (with server_side_batching: the batch's `cortex.batch` span), whose
W3C context arrives in the frame's meta ("tp", "ts"; PROTOCOL.md). The host then:

- makes it the current OpenTelemetry context while predict runs, when `opentelemetry-api` is
  importable in the predictor's environment, so `tracer.start_as_current_span(...)` in predict is a
  child of the runtime's span with no code at all;
- keeps it here for code that wants it explicitly::

    import cortex_tracing
    ctx = cortex_tracing.context()          # an opentelemetry.context.Context
    cortex_tracing.traceparent()            # the raw "00-<trace id>-<span id>-01", no dependency

Without a configured endpoint the runtime adds nothing; a predictor that declares `headers` can
still continue the caller's trace with `cortex_tracing.context(headers)`.
Standard library only: opentelemetry is imported on the first traced request, if at all.
"""

import threading

_local = threading.local()  # per predict thread: traceparent, tracestate
_otel = None  # (propagate, otel_context) once imported; False when not installed


def _api():
    global _otel
    if _otel is None:
        try:
            from opentelemetry import context as otel_context
            from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

            _otel = (TraceContextTextMapPropagator(), otel_context)
        except ImportError:
            _otel = False
    return _otel


def traceparent():
    """The W3C traceparent of the current predict's span, or None (no trace, or not in predict)."""
    return getattr(_local, "traceparent", None)


def tracestate():
    """The W3C tracestate that goes with traceparent(), or None."""
    return getattr(_local, "tracestate", None)


def context(headers=None):
    """The OpenTelemetry Context of the current predict (the runtime's span as parent).

    With `headers` (predict's `headers` argument, or any mapping): the context those headers carry
    (traceparent / tracestate), e.g. the caller's when the replica does not export traces.
    Raises RuntimeError when opentelemetry-api is not installed in the predictor's environment.
    """
    api = _api()
    if not api:
        raise RuntimeError(
            "cortex_tracing.context() needs the opentelemetry-api package: add it to requirements.txt "
            "(or use cortex_tracing.traceparent() for the raw W3C header)"
        )
    propagator, _ = api
    if headers is not None:
        carrier = {k.lower(): v for k, v in headers.items()}
    else:
        carrier = {}
        if traceparent() is not None:
            carrier["traceparent"] = traceparent()
            if tracestate() is not None:
                carrier["tracestate"] = tracestate()
    return propagator.extract(carrier)


def enter(tp, ts):
    """Host side: predict is about to run in the context `tp` (traceparent) / `ts` (tracestate)."""
    _local.traceparent = tp
    _local.tracestate = ts
    api = _api()
    if not api:
        return None
    propagator, otel_context = api
    carrier = {"traceparent": tp}
    if ts:
        carrier["tracestate"] = ts
    return otel_context.attach(propagator.extract(carrier))


def leave(token):
    """Host side: predict returned (or raised)."""
    _local.traceparent = None
    _local.tracestate = None
    if token is not None:
        _otel[1].detach(token)
