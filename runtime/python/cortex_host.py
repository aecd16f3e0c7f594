"""Cortex Python worker host: serves one PythonPredictor over the frame protocol of
runtime/PROTOCOL.md (frames in on fd 3, out on fd 4, JSON log lines on fd 1).

Standard library only. Spawned by runtime/workers/python.ts as `python3 -u cortex_host.py`
with its configuration in the environment variable CORTEX_WORKER_CONFIG.

Batching (BATCH frames, and every REQUEST when config.batching is set): each parameter predict
declares (payload, query_params, headers) is a list, one entry per request, as Cortex passed
them; post_predict gets the lists too.
Logs: printed lines are always written (info for stdout, error for stderr); `logging`
records are filtered by log_level.

This file: predictor loading and the frame loop (reading frames, calling predict inline or in
a thread pool, writing the answers in batches). Its siblings, imported from this directory
(the script's own, first on sys.path): cortex_frames.py (frame layouts and writes),
cortex_logging.py (JSON log lines), cortex_payload.py (payload decoding, result encoding),
cortex_handler.py (Cortex 0.34-0.35's Handler class: handle_<verb> methods, callbacks).
"""

import importlib.util
import inspect
import json
import os
import signal
import sys
import threading
import time
import traceback
from struct import Struct

import cortex_stream
import cortex_tracing
from cortex_frames import (
    BATCH,
    CANCEL,
    CREDIT,
    IN_FD,
    INIT_ERROR,
    READY,
    REQ,
    REQUEST,
    SHUTDOWN,
    U32,
    WS_FRAMES,
    parse_batch,
    respond,
    send_frame,
    write_out,
)
from cortex_handler import (
    ALLOWED,
    PredictorError,
    call_handler,
    declared,
    load_handler,
    respond_result,
    split_callback,
)
from cortex_logging import log, request_ctx, setup_logging
from cortex_metrics import flush as flush_metrics
from cortex_metrics import pending as metrics_pending
from cortex_metrics import take_frame as take_metrics
from cortex_models import CLASSES, build_predictor
from cortex_payload import (
    JSON,
    PREDICT_FAILED,
    ClientError,
    PayloadError,
    decode_payload,
    error_body,
    headers_dict,
    query_dict,
)

READ_SIZE = 1 << 16
STREAM_STOP_SECONDS = 5  # at SHUTDOWN, what streams still run get this long to stop once cancelled
CREDIT_FRAME = Struct("<BII")  # type, id, n
CANCEL_FRAME = Struct("<BI")  # type, id
FLUSH_AFTER = 0.0005  # seconds after the first unflushed response
JSON_CT = "application/json"
_loads = json.loads


class BatchError(Exception):
    """predict's answer to a batch does not fit the batch."""


def load_predictor(cfg):
    path = cfg["predictor_path"]
    roots = [os.path.dirname(path), cfg.get("project_dir"), *(cfg.get("python_path") or [])]
    for root in reversed([r for r in roots if r]):
        if root in sys.path:
            sys.path.remove(root)
        sys.path.insert(0, root)
    if not os.path.isfile(path):
        raise PredictorError(f"predictor file not found: {path}")
    name = os.path.splitext(os.path.basename(path))[0]
    if not name.isidentifier() or name in sys.modules:
        name = "cortex_predictor"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    if cfg.get("grpc"):  # a gRPC API (predictor.protobuf_path): cortex_grpc.py serves its RPCs
        from cortex_grpc import load_grpc

        kind = lambda c: "handler" if c.__name__ == "Handler" else "python"  # noqa: E731
        return load_grpc(module, path, cfg, lambda c, extra: build_predictor(c, path, cfg, kind(c), extra)), [], None
    if cfg.get("batch_job") is not None:  # a BatchAPI's worker (cortex_batch.py): every frame is a batch
        from cortex_batch import load_batch

        kind = lambda c: "handler" if c.__name__ == "Handler" else "python"  # noqa: E731
        return load_batch(module, path, cfg, lambda c, extra: build_predictor(c, path, cfg, kind(c), extra)), [], None
    ptype = cfg.get("predictor_type") or "python"
    cls_name = CLASSES[ptype]
    cls = getattr(module, cls_name, None)
    if cls is None and ptype == "python" and inspect.isclass(getattr(module, "Handler", None)):
        return load_handler(module.Handler, path, cfg, lambda c: build_predictor(c, path, cfg, "handler")) + (None,)
    if cls is None:
        also = " (or Handler, Cortex 0.34-0.35's interface)" if ptype == "python" else f" (predictor.type is {ptype})"
        raise PredictorError(f"{path} does not define a class named {cls_name}{also}")
    if not callable(getattr(cls, "predict", None)):
        raise PredictorError(f"{cls_name} in {path} has no predict method")
    predictor = build_predictor(cls, path, cfg)
    params = declared(predictor.predict, ALLOWED, "predict")
    post = getattr(predictor, "post_predict", None)
    post_params = declared(post, ("response",) + ALLOWED, "post_predict") if callable(post) else None
    return predictor, params, post_params


class Host:
    def __init__(self, predictor, params, post_params, cfg):
        # params: predict's parameters, or a Handler's {VERB: (method, params)}
        self.verbs = params if isinstance(params, dict) else None
        if self.verbs is not None:
            self.predict, self.params = self.verbs.get("POST", (None, []))
            wanted = {p for _, ps in self.verbs.values() for p in ps}
        else:
            self.predict, self.params = predictor.predict, params
            wanted = set(params)
        self.post = predictor.post_predict if post_params is not None else None
        self.post_params = post_params or []
        wanted |= set(self.post_params)
        self.want_payload = "payload" in wanted
        self.want_query = "query_params" in wanted
        self.want_headers = "headers" in wanted
        if self.verbs is not None:  # a Handler: the method picks handle_<verb> (POST stays on call's path)
            self.call = call_handler.__get__(self)
        if cfg.get("grpc") or cfg.get("batch_job") is not None:  # every frame is an RPC or a batch
            self.call = predictor.call
        self.batching = bool(cfg.get("batching"))
        self.threads = max(1, int(cfg.get("threads") or 1))
        self.lock = threading.Lock()  # threaded mode: pending, flushing, seq, flushed
        self.flushed_cond = threading.Condition(self.lock)
        self.pending, self.flushing, self.seq, self.flushed = [], False, 0, 0
        self.sockets = None  # cortex_ws.Sockets when the predictor has a websocket method

    # --- one request: appends its response frame to `out`; returns post_predict's job or None
    def call(self, id_, meta, body, out):
        rid = id_
        ct, m = JSON_CT, None
        if meta:
            m = json.loads(meta)
            ct = m.get("ct", JSON_CT)
            rid = m.get("rid", id_)
        request_ctx.rid = rid
        kw = {}
        if self.want_payload:
            try:
                kw["payload"] = _loads(body) if ct is JSON_CT else decode_payload(ct, body)
            except PayloadError as e:
                respond(out, id_, 400, JSON, b"", error_body(str(e)))
                return None
            except (ValueError, RecursionError) as e:  # the inlined JSON case of decode_payload
                respond(out, id_, 400, JSON, b"", error_body(f"invalid JSON: {e}"))
                return None
        if self.want_query:
            kw["query_params"] = query_dict(m.get("q")) if m else {}
        if self.want_headers:
            kw["headers"] = headers_dict(m.get("h")) if m else {}
        args = kw if len(kw) == len(self.params) else {k: kw[k] for k in self.params}
        traced = m is not None and "tp" in m  # only when the replica exports traces (cortex_tracing.py)
        if traced:
            token = cortex_tracing.enter(m["tp"], m.get("ts"))
        try:
            result = self.predict(**args)
        except ClientError as e:  # the runtime's own words (a model that is not there): safe to send
            respond(out, id_, e.status, JSON, b"", error_body(str(e)))
            return None
        except Exception:
            log("error", traceback.format_exc().rstrip())
            respond(out, id_, 500, JSON, b"", error_body(PREDICT_FAILED))
            return None
        finally:
            if traced:
                cortex_tracing.leave(token)
        if cortex_stream.is_stream(result):  # post_predict runs once the stream ended
            job = (rid, result, kw) if self.post else None
            cortex_stream.start(id_, result, bool(m and m.get("sse")), job and (lambda: self.run_post(job)))
            return None
        respond_result(out, id_, result)
        return (rid, result, kw) if self.post else None

    def call_batch(self, items, out):
        # As Cortex's DynamicBatcher: every declared parameter is a list, one entry per request.
        ids, rids, payloads, queries, headers = [], [], [], [], []
        trace = None  # the batch's span (every item carries the same): cortex_tracing.py
        for id_, meta, body in items:
            m = json.loads(meta) if meta else None
            if m is not None and "tp" in m:
                trace = (m["tp"], m.get("ts"))
            ct = m.get("ct", JSON_CT) if m else JSON_CT
            if self.want_payload:
                try:
                    payloads.append(decode_payload(ct, body))
                except PayloadError as e:
                    respond(out, id_, 400, JSON, b"", error_body(str(e)))
                    continue
            if self.want_query:
                queries.append(query_dict(m.get("q")) if m else {})
            if self.want_headers:
                headers.append(headers_dict(m.get("h")) if m else {})
            ids.append(id_)
            rids.append(str(m.get("rid", id_) if m else id_))
        if not ids:
            return None
        n = len(ids)
        request_ctx.rid = rid = ",".join(rids)
        callback = None
        token = cortex_tracing.enter(*trace) if trace is not None else None
        try:
            lists = {"payload": payloads, "query_params": queries, "headers": headers}
            try:
                results = self.predict(**{p: lists[p] for p in self.params})
            finally:
                if trace is not None:
                    cortex_tracing.leave(token)
            if self.verbs is not None:
                results, callback = split_callback(results)
            if not isinstance(results, (list, tuple)):
                raise BatchError(
                    f"predict returned {type(results).__name__} for a batch of {n} (expected a list of {n} results)"
                )
            if len(results) != n:
                raise BatchError(f"predict returned {len(results)} results for a batch of {n}")
            if any(cortex_stream.is_stream(r) for r in results):
                raise BatchError(
                    "predict returned a generator (a streamed answer) for an item of a batch: streaming is not "
                    "supported with server_side_batching (docs/streaming.md)"
                )
        except Exception as e:
            # BatchError and ClientError are the runtime's own words (results' shape, model asked for): safe to send
            own = isinstance(e, (BatchError, ClientError))
            msg = str(e) if own else PREDICT_FAILED
            log("error", msg if own else traceback.format_exc().rstrip())
            body = error_body(msg)
            for id_ in ids:
                respond(out, id_, getattr(e, "status", 500), JSON, b"", body)
            return None
        for id_, result in zip(ids, results, strict=True):  # lengths checked above
            respond_result(out, id_, result)
        if callback is not None:
            return (rid, callback, None)
        return (rid, results, lists) if self.post else None

    def run_post(self, job):
        rid, result, kw = job
        request_ctx.rid = rid
        if kw is None:  # a Handler's callback, run once its response was written
            try:
                result()
            except Exception:
                log("error", "callback: " + traceback.format_exc().rstrip())
            request_ctx.rid = None
            return
        try:
            self.post(**{p: result if p == "response" else kw.get(p) for p in self.post_params})
        except Exception:
            log("error", "post_predict: " + traceback.format_exc().rstrip())
        request_ctx.rid = None

    # --- threaded mode: the thread that finds nobody flushing writes everyone's frames
    def threaded(self, fn, *args):
        out = []
        try:
            job = fn(*args, out)
        except BaseException:
            fatal()
        request_ctx.rid = None
        with self.lock:
            self.pending += out
            self.seq += 1
            mine = self.seq
            leader = not self.flushing
            self.flushing = True
        if leader:
            self.drain()
        if job is not None:
            with self.flushed_cond:
                while self.flushed < mine:
                    self.flushed_cond.wait()
            self.run_post(job)
            flush_metrics()  # what post_predict or a callback recorded

    def drain(self):
        while True:
            with self.lock:
                if not self.pending:
                    self.flushing = False
                    return
                if metrics_pending():  # what predict recorded goes with its answer
                    self.pending.append(take_metrics())
                data, upto = b"".join(self.pending), self.seq
                self.pending.clear()
            write_out(data)
            with self.lock:
                self.flushed = upto
                self.flushed_cond.notify_all()

    # --- the read loop
    def serve(self):
        pool = None
        if self.threads > 1:
            from concurrent.futures import ThreadPoolExecutor

            pool = ThreadPoolExecutor(self.threads, thread_name_prefix="predict")
            submit, threaded = pool.submit, self.threaded
        out, posts = [], []
        call, call_batch, batching = self.call, self.call_batch, self.batching
        read, unpack_len, unpack_req, clock = os.read, U32.unpack_from, REQ.unpack_from, time.perf_counter
        # pending: chunks of a frame not yet complete; need: its length with the u32 prefix
        pending, plen, need, first, running = [], 0, 0, 0.0, True
        while running:
            data = read(IN_FD, READ_SIZE)
            if not data:
                break
            if pending:
                pending.append(data)
                plen += len(data)
                if plen < need:
                    continue
                data, pending, plen = b"".join(pending), [], 0
            pos, end, last = 0, len(data), clock()
            while end - pos >= 5:
                stop = pos + 4 + unpack_len(data, pos)[0]
                if stop > end:
                    break
                typ = data[pos + 4]
                if typ == REQUEST:  # u32 id, u16 metaLen, meta, body
                    _, id_, mlen = unpack_req(data, pos + 4)
                    b0 = pos + 11 + mlen
                    fn, args = call, (id_, data[pos + 11 : b0], data[b0:stop])
                    if batching:
                        fn, args = call_batch, ([args],)
                elif typ == BATCH:
                    fn, args = call_batch, (parse_batch(data, pos + 4),)
                elif typ == CREDIT:  # u32 id, u32 n: bytes of a stream the front passed on
                    _, id_, n = CREDIT_FRAME.unpack_from(data, pos + 4)
                    cortex_stream.credit(id_, n)
                    pos = stop
                    continue
                elif typ == CANCEL:  # u32 id: the stream's client went away
                    cortex_stream.cancel(CANCEL_FRAME.unpack_from(data, pos + 4)[1])
                    pos = stop
                    continue
                elif typ == SHUTDOWN:
                    running = False
                    break
                elif typ in WS_FRAMES and self.sockets is not None:  # cortex_ws.py
                    self.sockets.on_frame(typ, data[pos + 5 : stop])
                    pos = stop
                    continue
                else:
                    raise RuntimeError(f"unknown frame type {typ}")
                pos = stop
                job = submit(threaded, fn, *args) if pool else fn(*args, out)
                if pool is None:  # flush once the unflushed answers took > 0.5 ms to compute
                    if job is not None:
                        posts.append(job)
                    now = clock()
                    if not first:
                        first = last  # when the request behind the oldest unflushed answer began
                    if now - first > FLUSH_AFTER:
                        first = self.flush_inline(out, posts)
                    last = now
            if pool is None and out:
                first = self.flush_inline(out, posts)
            if pos < end:
                rest = data[pos:]
                need = 4 + unpack_len(rest)[0] if len(rest) >= 4 else 5
                pending, plen = [rest], len(rest)
        if pool is not None:
            pool.shutdown(wait=True)
        elif out:
            self.flush_inline(out, posts)
        cortex_stream.stop_all(STREAM_STOP_SECONDS)

    def flush_inline(self, out, posts):
        request_ctx.rid = None
        if metrics_pending():  # what predict recorded goes with its answer
            out.append(take_metrics())
        write_out(b"".join(out))
        out.clear()
        if posts:
            for job in posts:
                self.run_post(job)
            posts.clear()
            flush_metrics()  # what post_predict or a callback recorded
        return 0.0


def fatal():
    """A bug or a lost front: log it and end the worker (the front answers its jobs 503)."""
    log("error", "worker failed: " + traceback.format_exc().rstrip(), None)
    os._exit(70)


def main():
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the front decides when workers stop
    cfg = json.loads(os.environ["CORTEX_WORKER_CONFIG"])
    setup_logging(cfg)
    try:
        if cfg.get("project_dir") and os.path.isdir(cfg["project_dir"]):
            os.chdir(cfg["project_dir"])
        predictor, params, post_params = load_predictor(cfg)
        sockets = None
        if getattr(predictor, "websocket", None) is not None:  # imported only then: asyncio costs a cold start
            from cortex_ws import for_predictor

            sockets = for_predictor(predictor, cfg["predictor_path"])
    except BaseException as e:
        tb = traceback.format_exc().rstrip()
        message = str(e) if isinstance(e, PredictorError) else traceback.format_exception_only(e)[-1].strip()
        log("error", tb, None)
        send_frame(INIT_ERROR, {"message": message, "traceback": tb})
        return 1
    host = Host(predictor, params, post_params, cfg)
    host.sockets = sockets
    if host.verbs is not None:
        wanted = {p for _, ps in host.verbs.values() for p in ps}
        ready = {"params": [p for p in ALLOWED if p in wanted], "post_predict": False, "verbs": list(host.verbs)}
    else:
        ready = {
            "params": params + [p for p in ALLOWED if p in (post_params or ()) and p not in params],
            "post_predict": post_params is not None,
        }
    if sockets is not None:
        ready["websocket"] = True
    send_frame(READY, {**ready, "pid": os.getpid()})
    try:
        host.serve()
    except BaseException:
        fatal()
    sys.stdout.flush()
    sys.stderr.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
