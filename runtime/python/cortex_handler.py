"""Cortex 0.34-0.35's Handler class for cortex_host.py: handle_post, handle_get, handle_put,
handle_patch and handle_delete chosen by the request's method (meta "m", absent for POST), and
callbacks: a method returning (result, callable) has the callable run after the response was
written. Also what the PythonPredictor loader shares with it: the allowed request parameters
and their check, and the encoding of a return value into a RESPONSE frame. A PythonPredictor
never goes through call_handler: its POST path is the host's own Host.call, unchanged.
"""

import inspect
import json
import traceback

import cortex_stream
from cortex_frames import respond
from cortex_logging import log, request_ctx
from cortex_payload import (
    CUSTOM,
    JSON,
    PREDICT_FAILED,
    ClientError,
    PayloadError,
    decode_payload,
    encode_result,
    error_body,
    headers_dict,
    query_dict,
)

ALLOWED = ("payload", "query_params", "headers")
VERBS = ("POST", "GET", "PUT", "PATCH", "DELETE", "ASYNC")  # in Cortex's order; ASYNC: an AsyncAPI's handle_async
JSON_CT = "application/json"
ALLOW_HDR = b'[["content-type","application/json"],["allow","%s"]]'


class PredictorError(Exception):
    """A problem with the predictor's file or class; its message is shown as is."""


def declared(fn, allowed, what, cls="PythonPredictor"):
    params = inspect.signature(fn).parameters.values()
    names = [p.name for p in params if p.name in allowed]
    for p in params:
        if p.name not in allowed and p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise PredictorError(
                f"{cls}.{what} has an unsupported parameter '{p.name}' (allowed: {', '.join(allowed)})"
            )
    return names


def load_handler(cls, path, cfg, make):
    """The Handler instance and {VERB: (bound handle_<verb>, its declared params)}.
    make(cls): the instance (cortex_models.build_predictor: config, and model_client with models)."""
    defined = [v for v in VERBS if callable(getattr(cls, "handle_" + v.lower(), None))]
    if not defined:
        raise PredictorError(f"Handler in {path} defines none of {', '.join('handle_' + v.lower() for v in VERBS)}")
    if cfg.get("batching") and defined != ["POST"]:
        raise PredictorError(
            "with server_side_batching, Handler may only define handle_post"
            f" (it defines {', '.join('handle_' + v.lower() for v in defined)})"
        )
    handler = make(cls)
    verbs = {}
    for v in defined:
        fn = getattr(handler, "handle_" + v.lower())
        verbs[v] = (fn, declared(fn, ALLOWED, "handle_" + v.lower(), "Handler"))
    return handler, verbs


def respond_result(out, id_, result):
    """Appends the RESPONSE frame of a predict's (or handle_<verb>'s) return value."""
    try:
        status, kind, hdr, body = encode_result(result)
    except (TypeError, ValueError, RecursionError, OverflowError, UnicodeError) as e:
        msg = f"predict returned a {type(result).__name__} that cannot be sent as a response: {e}"
        log("error", msg)
        respond(out, id_, 500, JSON, b"", error_body(msg))
        return
    respond(out, id_, status, kind, hdr, body)


def split_callback(result):
    """(result, callable) → the result and the callback to run after the response; else (result, None)."""
    if type(result) is tuple and len(result) == 2 and callable(result[1]):
        return result
    return result, None


def call_handler(host, id_, meta, body, out):
    """Host.call for a Handler: appends the response frame to `out`; returns the callback's job or None."""
    rid, ct, verb, m = id_, JSON_CT, "POST", None
    if meta:
        m = json.loads(meta)
        ct = m.get("ct", JSON_CT)
        rid = m.get("rid", id_)
        verb = m.get("m", "POST")
    request_ctx.rid = rid
    fn, params = host.verbs.get(verb, (None, None))
    if fn is None:
        allow = ", ".join(host.verbs).encode()
        respond(out, id_, 405, CUSTOM, ALLOW_HDR % allow, error_body(f"method {verb} not allowed"))
        return None
    kw = {}
    if "payload" in params:
        try:
            kw["payload"] = decode_payload(ct, body)
        except PayloadError as e:
            respond(out, id_, 400, JSON, b"", error_body(str(e)))
            return None
    if "query_params" in params:
        kw["query_params"] = query_dict(m.get("q")) if m else {}
    if "headers" in params:
        kw["headers"] = headers_dict(m.get("h")) if m else {}
    try:
        result, callback = split_callback(fn(**kw))
        if cortex_stream.is_stream(result):  # the callback runs once the stream ended
            job = (rid, callback, None) if callback is not None else None
            cortex_stream.start(id_, result, bool(m and m.get("sse")), job and (lambda: host.run_post(job)))
            return None
    except ClientError as e:
        respond(out, id_, e.status, JSON, b"", error_body(str(e)))
        return None
    except Exception:
        log("error", traceback.format_exc().rstrip())
        respond(out, id_, 500, JSON, b"", error_body(PREDICT_FAILED))
        return None
    respond_result(out, id_, result)
    return (rid, callback, None) if callback is not None else None
