"""Request decoding and return-value encoding for the Python worker host, with Cortex's
semantics (runtime/PROTOCOL.md, "Semantics the host implements"). Standard library only."""

import io
import json
from email import policy
from email.parser import BytesParser
from urllib.parse import parse_qsl

JSON, TEXT, BYTES, CUSTOM = 0, 1, 2, 3

# Built once (json.dumps(separators=...) is not). allow_nan=False: NaN and Infinity are not JSON,
# so a result holding them is a 500, as with Starlette's JSONResponse.
_dumps = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode
_loads = json.loads
_HOP_HEADERS = ("content-length", "transfer-encoding", "connection")


class PayloadError(ValueError):
    """The request body cannot be decoded as its Content-Type says: answered 400."""


class ClientError(Exception):
    """Raised by the runtime's own code a predictor calls (cortex_models' clients): answered with
    `status` and the message, which is the runtime's own words and safe to send."""

    def __init__(self, message, status):
        super().__init__(message)
        self.status = status


# What a client gets when predict raises: as Cortex answered, no exception text (it may hold a
# connection string or a customer's data); the type, message and traceback go to the API's logs.
PREDICT_FAILED = "internal server error (the exception is in the API's logs)"


def error_body(message):
    """The JSON body of an error answer: {"error": "..."}."""
    return json.dumps({"error": message}).encode()


def decode_payload(ct, body):
    """The `payload` argument for a body of Content-Type `ct` ('' when the client sent none)."""
    media, _, params = ct.partition(";")
    media = media.strip().lower()
    if media == "application/json":
        try:
            return _loads(body)
        except (ValueError, RecursionError) as e:  # JSONDecodeError, UnicodeDecodeError
            raise PayloadError(f"invalid JSON: {e}") from None
    if media == "text/plain":
        charset = _param(params, "charset") or "utf-8"
        try:
            return body.decode(charset)
        except (LookupError, UnicodeDecodeError) as e:
            raise PayloadError(f"the request body could not be decoded as {charset}: {e}") from None
    if media == "application/x-www-form-urlencoded":
        return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    if media == "multipart/form-data":
        return _multipart(ct, body)
    return body


def _param(params, wanted):
    for item in params.split(";"):
        key, _, value = item.partition("=")
        if key.strip().lower() == wanted:
            return value.strip().strip('"')
    return None


def _multipart(ct, body):
    """multipart/form-data → {name: str} for fields, {name: UploadFile} for file parts (last wins),
    as Cortex passed Starlette's FormData: its documented examples read payload["file"].file."""
    head = b"Content-Type: " + ct.encode("latin-1", "replace") + b"\r\n\r\n"
    msg = BytesParser(policy=policy.HTTP).parsebytes(head + body)
    if not msg.is_multipart():
        why = "; ".join(type(d).__name__ for d in msg.defects) or "no parts"
        raise PayloadError(f"invalid multipart form: {why}")
    form = {}
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name is None:
            continue
        data = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        if filename is None:
            form[name] = data.decode(part.get_content_charset() or "utf-8", "replace")
        else:
            headers = Headers((k.lower(), str(v)) for k, v in part.items())
            form[name] = UploadFile(filename, io.BytesIO(data), headers.get("content-type"), headers)
    return form


class Headers(dict):
    """A request's or a form part's headers: lower-cased names, looked up case-insensitively (like
    Starlette's Headers)."""

    def __getitem__(self, key):
        return super().__getitem__(key.lower())

    def __contains__(self, key):
        return isinstance(key, str) and super().__contains__(key.lower())

    def get(self, key, default=None):
        return super().get(key.lower(), default)


class UploadFile:
    """A multipart file part with the surface of Starlette's UploadFile: .filename, .content_type,
    .headers, .size and .file (a binary file object at position 0). read/seek/close are synchronous
    here (Starlette's are coroutines), because predict is called synchronously: `payload["f"].read()`
    and `payload["f"].file.read()` both return the bytes."""

    def __init__(self, filename, file, content_type=None, headers=None):
        self.filename, self.file, self.content_type = filename, file, content_type
        self.headers = headers if headers is not None else Headers()
        self.size = len(file.getbuffer()) if isinstance(file, io.BytesIO) else None

    def read(self, size=-1):
        return self.file.read(size)

    def seek(self, offset):
        return self.file.seek(offset)

    def close(self):
        self.file.close()

    def __repr__(self):
        return f"UploadFile(filename={self.filename!r}, size={self.size!r}, content_type={self.content_type!r})"


def query_dict(raw):
    """query_params: the raw query string as a dict, last value wins (like Starlette)."""
    return dict(parse_qsl(raw, keep_blank_values=True)) if raw else {}


def headers_dict(pairs):
    """headers: lower-cased names, looked up case-insensitively, and for a repeated header the first
    value wins, as with the Starlette Headers Cortex passed: headers["X-Api-Key"] works."""
    out = Headers()
    if pairs:
        for name, value in pairs:
            out.setdefault(name.lower(), value)
    return out


def encode_result(result):
    """predict's return value → (status, kind, hdr bytes, body bytes). Raises ValueError
    (message for the client) when it cannot be encoded."""
    t = type(result)
    if t is dict or t is list:
        body = _dumps(result)
    elif t is bytes:
        return 200, BYTES, b"", result
    elif t is str:
        return 200, TEXT, b"", result.encode("utf-8", "surrogatepass")
    elif isinstance(result, (bytes, bytearray, memoryview)):
        return 200, BYTES, b"", bytes(result)
    elif isinstance(result, str):
        return 200, TEXT, b"", str(result).encode("utf-8", "surrogatepass")
    elif hasattr(result, "status_code") and hasattr(result, "body"):
        return _response(result)
    else:
        body = _dumps(result)
    return 200, JSON, b"", body.encode()


def _response(r):
    """A Starlette-like Response: status_code, body and raw_headers (byte pairs) or headers."""
    status = r.status_code
    if type(status) is not int or not 100 <= status <= 999:
        raise ValueError(f"{type(r).__name__}.status_code must be an int between 100 and 999, not {status!r}")
    body = r.body
    if body is None:
        body = b""
    elif isinstance(body, str):
        body = body.encode("utf-8")
    elif not isinstance(body, bytes):
        body = bytes(body)
    raw = getattr(r, "raw_headers", None)
    if raw is not None:
        pairs = [[_text(k), _text(v)] for k, v in raw]
    else:
        hs = getattr(r, "headers", None) or ()
        pairs = [[str(k), str(v)] for k, v in (hs.items() if hasattr(hs, "items") else hs)]
    # The front frames the body itself: drop what would contradict it.
    pairs = [p for p in pairs if p[0].lower() not in _HOP_HEADERS]
    return status, CUSTOM, _dumps(pairs).encode() if pairs else b"", body


def _text(v):
    return v.decode("latin-1") if isinstance(v, (bytes, bytearray)) else str(v)
