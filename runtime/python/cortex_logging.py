"""JSON logging for the Python worker host: everything the predictor prints and every
`logging` record becomes one JSON object per line on fd 1 (`time, level, api, request_id,
worker, message`, like operator/util/log.ts). sys.stdout / sys.stderr are replaced by line writers
(info / error, always written); the root logger gets a handler filtered by log_level. A `logging`
record keeps its level (critical is error), also through a library's own StreamHandler on
sys.stderr, and `warnings` become warning records: a library's DeprecationWarning is not an error.
A record's `extra={...}` fields join its line, as with Cortex's JSON logger. The request id is per
thread (`request_ctx.rid`), set by the host around each predict call.
Standard library only; imported by cortex_host.py from this directory.
"""

import io
import json
import logging
import os
import sys
import threading
import time

from cortex_frames import write_all

LOG_FD = 1

request_ctx = threading.local()  # .rid: the current request's id (int or str) on this thread
_log_lock = threading.Lock()
_log = {"api": None, "worker": None}
_log_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode  # like operator/util/log.ts


def log(level, message, rid=False, fields=None):
    """Writes one JSON log line to fd 1. rid=False: the current request's id. fields: more keys
    (never replacing the fixed ones), as a record's `extra` gives them."""
    if rid is False:
        rid = getattr(request_ctx, "rid", None)
    t = time.time()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}Z"
    obj = {
        "time": stamp,
        "level": level,
        "api": _log["api"],
        "request_id": None if rid is None else str(rid),
        "worker": _log["worker"],
    }
    if fields:
        for k, v in fields.items():
            obj.setdefault(k, v)
    obj["message"] = message
    try:
        line = _log_dumps(obj)
    except (TypeError, ValueError):  # an extra field JSON cannot hold: its repr instead
        line = _log_dumps({k: v if k in _FIXED else repr(v) for k, v in obj.items()})
    data = (line + "\n").encode("utf-8", "replace")
    with _log_lock:
        try:
            write_all(LOG_FD, data)
        except OSError:
            pass  # nobody is reading the logs any more


class LogStream(io.TextIOBase):
    """sys.stdout / sys.stderr: every printed line becomes one JSON log line."""

    encoding = "utf-8"

    def __init__(self, level, fd):
        self.level, self.fd, self._tls = level, fd, threading.local()

    def writable(self):
        return True

    def fileno(self):  # for code that insists on a real file: raw writes skip the JSON
        return self.fd

    def write(self, s):
        buf = getattr(self._tls, "buf", "") + s
        if "\n" in buf:
            *lines, buf = buf.split("\n")
            for line in lines:
                log(self.level, line)
        self._tls.buf = buf
        return len(s)

    def flush(self):
        buf = getattr(self._tls, "buf", "")
        if buf:
            self._tls.buf = ""
            log(self.level, buf)


_FIXED = ("time", "level", "api", "request_id", "worker", "message")
# A LogRecord's own attributes: the others on a record came from `extra`.
_RECORD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def record_level(record):
    """A record's level in our four: debug, info, warning, error (critical and above)."""
    no = record.levelno
    return (
        "debug"
        if no < logging.INFO
        else "info"
        if no < logging.WARNING
        else "warning"
        if no < logging.ERROR
        else "error"
    )


def write_record(handler, record):
    extra = {k: v for k, v in vars(record).items() if k not in _RECORD_ATTRS and not k.startswith("_")}
    log(record_level(record), handler.format(record).rstrip("\n"), fields=extra)


class LogHandler(logging.Handler):
    def emit(self, record):
        try:
            write_record(self, record)
        except Exception:
            self.handleError(record)


_stream_emit = logging.StreamHandler.emit


def _emit(self, record):
    """A library's own StreamHandler on our sys.stdout / sys.stderr (absl's, Cortex-era code's):
    its formatted record keeps the record's level instead of the stream's."""
    if isinstance(self.stream, LogStream):
        try:
            write_record(self, record)
        except Exception:
            self.handleError(record)
    else:
        _stream_emit(self, record)


# Where the legacy `cortex` package (cortex.lib.log) lives: appended after site-packages, so that a
# `cortex` distribution the project installs wins over it.
LEGACY_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "legacy")


def setup_logging(cfg):
    _log["api"], _log["worker"] = cfg.get("api"), cfg.get("worker", 0)
    sys.stdout, sys.stderr = LogStream("info", 1), LogStream("error", 2)
    root = logging.getLogger()
    root.handlers[:] = [LogHandler()]
    root.setLevel(str(cfg.get("log_level") or "info").upper())
    logging.StreamHandler.emit = _emit
    # warnings.warn → a warning record of logger py.warnings (filtered by log_level), not a
    # printed line on stderr, which would be an error.
    logging.captureWarnings(True)
    if LEGACY_DIR not in sys.path:
        sys.path.append(LEGACY_DIR)
