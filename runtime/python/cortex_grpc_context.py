"""The `context` a gRPC API's predictor method gets (cortex_grpc.py): the surface of grpcio's
ServicerContext that Cortex 0.33-0.35 handed over and that makes sense behind the front:
invocation_metadata, peer, time_remaining, is_active, set_code / set_details / code / details,
abort / abort_with_status, set_trailing_metadata, send_initial_metadata, add_callback.

Status codes may be grpc.StatusCode members (grpcio comes with grpcio-tools) or their numbers.
Metadata keys ending in -bin carry bytes; they cross the frame protocol base64-encoded, as on
the wire. Standard library only.
"""

import base64
import time
from collections import namedtuple

# grpc.StatusCode's numbers (the gRPC spec's), by name
CODES = {
    "OK": 0,
    "CANCELLED": 1,
    "UNKNOWN": 2,
    "INVALID_ARGUMENT": 3,
    "DEADLINE_EXCEEDED": 4,
    "NOT_FOUND": 5,
    "ALREADY_EXISTS": 6,
    "PERMISSION_DENIED": 7,
    "RESOURCE_EXHAUSTED": 8,
    "FAILED_PRECONDITION": 9,
    "ABORTED": 10,
    "OUT_OF_RANGE": 11,
    "UNIMPLEMENTED": 12,
    "INTERNAL": 13,
    "UNAVAILABLE": 14,
    "DATA_LOSS": 15,
    "UNAUTHENTICATED": 16,
}

Metadatum = namedtuple("Metadatum", ("key", "value"))  # grpcio's own is a namedtuple of these names


def code_number(code):
    """A grpc.StatusCode (its value is (number, name)), a number or a name → the number."""
    value = getattr(code, "value", code)
    if isinstance(value, tuple):
        value = value[0]
    if isinstance(value, str):
        value = CODES.get(value.upper(), None)
    if not isinstance(value, int) or not 0 <= value <= 16:
        raise ValueError(f"not a gRPC status code: {code!r} (use grpc.StatusCode.NOT_FOUND or the like)")
    return value


def md_in(pairs):
    """The front's [[key, value], ...] (binary values base64) → grpcio's tuple of Metadatum."""
    return tuple(Metadatum(k, base64.b64decode(v) if k.endswith("-bin") else v) for k, v in pairs or ())


def md_out(metadata):
    """A predictor's metadata ((key, value) pairs) → [[key, value], ...] for the front."""
    out = []
    for key, value in metadata or ():
        key = str(key).lower()
        if isinstance(value, (bytes, bytearray)):
            value = base64.b64encode(value).decode()
        out.append([key, str(value)])
    return out


class Abort(Exception):
    """Raised by context.abort(): the RPC ends with the code and details set."""


class Context:
    def __init__(self, meta):
        self._metadata = md_in(meta.get("h"))
        self._peer = meta.get("peer", "")
        ms = meta.get("deadline_ms")
        self._deadline = time.monotonic() + ms / 1000 if ms is not None else None
        self._code, self._details = None, None
        self._trailing, self._initial = [], None
        self.callbacks = []
        self.stream = None  # a server-streaming RPC's cortex_stream.Stream, once started

    # --- what the client sent
    def invocation_metadata(self):
        return self._metadata

    def peer(self):
        return self._peer

    def time_remaining(self):
        if self._deadline is None:
            return None
        return max(0.0, self._deadline - time.monotonic())

    def is_active(self):
        """False once the deadline passed or, for a stream, the client cancelled (cortex_stream's CANCEL)."""
        if self.stream is not None and self.stream.cancelled:
            return False
        return self._deadline is None or time.monotonic() < self._deadline

    # --- what goes back
    def set_code(self, code):
        self._code = code_number(code)

    def set_details(self, details):
        self._details = None if details is None else str(details)

    def code(self):
        return self._code

    def details(self):
        return self._details

    def set_trailing_metadata(self, trailing_metadata):
        self._trailing = md_out(trailing_metadata)

    def trailing_metadata(self):
        return self._trailing

    def send_initial_metadata(self, initial_metadata):
        self._initial = md_out(initial_metadata)

    def initial(self):
        """Initial metadata as status-record pairs (initial:<key>), or None when none was set."""
        return None if self._initial is None else [["initial:" + k, v] for k, v in self._initial]

    def abort(self, code, details=""):
        self.set_code(code)
        self.set_details(details)
        raise Abort(details)

    def abort_with_status(self, status):
        self._trailing = md_out(getattr(status, "trailing_metadata", None))
        self.abort(status.code, getattr(status, "details", ""))

    def add_callback(self, callback):
        """Runs `callback` once the RPC has been answered (grpcio: when it terminates)."""
        self.callbacks.append(callback)
        return True

    def headers(self, code, details):
        """The RESPONSE frame's hdr pairs: status, details, trailing and initial metadata."""
        pairs = [["grpc-status", str(code)]]
        if details:
            pairs.append(["grpc-message", details])
        pairs += self._trailing
        pairs += [["initial:" + k, v] for k, v in self._initial or ()]
        return pairs

    def plain(self):
        """Nothing but the reply to send: no code, details or metadata was set."""
        return self._code in (None, 0) and not self._details and not self._trailing and self._initial is None
