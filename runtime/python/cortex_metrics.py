"""Cortex 0.30-0.35's `metrics_client`: a predictor (or Handler) that declares `metrics_client` in
its constructor gets one, and its increment / gauge / histogram calls become Prometheus series on
the replica's /metrics, labelled with the API and the call's tags.

Records travel to the front in METRICS frames (runtime/PROTOCOL.md) on the same pipe as the
answers, so they are never interleaved with one: calls made while a request is being predicted
go out with that request's answer; calls made anywhere else (the constructor, a callback,
post_predict, a thread of the predictor's own) are written at once. Names and tags are checked
here, where the caller can see the error; the front checks them again and enforces the rest
(one kind and one tag set per name, a series cap). Standard library only.
"""

import re
import threading
from numbers import Real

from cortex_frames import METRICS, json_frame, write_out
from cortex_logging import request_ctx

NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
TAG = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
RESERVED_TAGS = ("api", "le", "quantile")

_lock = threading.Lock()
_pending = []  # [kind, name, value, tags] records not yet written


class MetricsClient:
    """What `metrics_client` is. Cortex pushed these over UDP to a StatsD exporter; here they
    reach the replica's own /metrics, with the same names and tags."""

    def increment(self, metric, value=1, tags=None):
        """Adds `value` (>= 0) to the counter `metric`."""
        if _number(metric, value) < 0:
            raise ValueError(f"metrics_client.increment({metric!r}): a counter only goes up; value must be >= 0")
        _record("counter", metric, value, tags)

    def gauge(self, metric, value, tags=None):
        """Sets the gauge `metric` to `value`."""
        _record("gauge", metric, _number(metric, value), tags)

    def histogram(self, metric, value, tags=None):
        """Observes `value` in the histogram `metric` (Prometheus' default buckets, 5 ms to 10 s)."""
        _record("histogram", metric, _number(metric, value), tags)


def _number(metric, value):
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"metrics_client: the value of {metric!r} must be a number, not {type(value).__name__}")
    return float(value)


def _record(kind, metric, value, tags):
    if not isinstance(metric, str) or not NAME.match(metric) or metric.startswith("cortex_"):
        raise ValueError(
            f"metrics_client: {metric!r} is not a metric name this API can export: use letters, digits, _"
            " and :, not starting with a digit, and not starting with cortex_ (the runtime's own metrics)"
        )
    if tags:
        for key, val in tags.items():
            if not isinstance(key, str) or not TAG.match(key) or key.startswith("__") or key in RESERVED_TAGS:
                raise ValueError(
                    f"metrics_client: tag {key!r} of {metric!r} is not a label name Prometheus accepts"
                    f" (letters, digits and _, not starting with a digit or __, not one of {', '.join(RESERVED_TAGS)})"
                )
            if not isinstance(val, str):
                tags = {k: str(v) for k, v in tags.items()}
                break
    with _lock:
        _pending.append([kind, metric, value, tags or None])
    if getattr(request_ctx, "rid", None) is None:  # not inside a predict: nothing will carry it
        flush()


def pending():
    return bool(_pending)


def take_frame():
    """The records not yet written, as one METRICS frame (b"" when there are none)."""
    with _lock:
        if not _pending:
            return b""
        records = _pending[:]
        _pending.clear()
    return json_frame(METRICS, records)


def flush():
    frame = take_frame()
    if frame:
        try:
            write_out(frame)
        except OSError:
            pass  # the front is gone; the process is about to end


# The runtime's own gauge of a model whose new version failed to load while an older one serves
# (docs/models.md); sent on the same channel, past metrics_client's checks (which refuse cortex_).
RELOAD_FAILING = "cortex_model_reload_failing"


def model_reload_failing(model, failing):
    with _lock:
        _pending.append(["gauge", RELOAD_FAILING, 1.0 if failing else 0.0, {"model": model}])
    if getattr(request_ctx, "rid", None) is None:
        flush()
