"""JSON logging for the Python worker host: everything the predictor prints and every
`logging` record becomes one JSON object per line on fd 1 (`time, level, api, request_id,
worker, message`, like operator/util/log.ts). sys.stdout / sys.stderr are replaced by line writers
(info / error, always written); the root logger gets a handler filtered by log_level. The
request id is per thread (`request_ctx.rid`), set by the host around each predict call.
Standard library only; imported by cortex_host.py from this directory.
"""

import io
import json
import logging
import sys
import threading
import time

from cortex_frames import write_all

LOG_FD = 1

request_ctx = threading.local()  # .rid: the current request's id (int or str) on this thread
_log_lock = threading.Lock()
_log = {"api": None, "worker": None}
_log_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode  # like operator/util/log.ts


def log(level, message, rid=False):
    """Writes one JSON log line to fd 1. rid=False: the current request's id."""
    if rid is False:
        rid = getattr(request_ctx, "rid", None)
    t = time.time()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}Z"
    line = _log_dumps(
        {
            "time": stamp,
            "level": level,
            "api": _log["api"],
            "request_id": None if rid is None else str(rid),
            "worker": _log["worker"],
            "message": message,
        }
    )
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


class LogHandler(logging.Handler):
    def emit(self, record):
        try:
            level = record.levelname.lower()
            log(level if level in ("debug", "info", "warning") else "error", self.format(record))
        except Exception:
            self.handleError(record)


def setup_logging(cfg):
    _log["api"], _log["worker"] = cfg.get("api"), cfg.get("worker", 0)
    sys.stdout, sys.stderr = LogStream("info", 1), LogStream("error", 2)
    root = logging.getLogger()
    root.handlers[:] = [LogHandler()]
    root.setLevel(str(cfg.get("log_level") or "info").upper())
