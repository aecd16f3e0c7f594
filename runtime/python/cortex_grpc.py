"""gRPC APIs (predictor.protobuf_path, Cortex 0.33-0.35; docs/grpc.md) in the Python worker host.

The front (runtime/grpc/front.ts) serves HTTP/2 and never parses a message: it sends each RPC as a
REQUEST frame whose meta has "rpc" (the method's name), "h" (the call's metadata), "peer" and
"deadline_ms", and whose body is the serialized request message. Here:

- at init the .proto file (and the project's .proto files it imports) is compiled with
  grpcio-tools into a cache folder keyed by their contents and the protobuf version, and its
  module (<name>_pb2) imported;
- the class is Handler (0.34-0.35) or PythonPredictor (0.33); each RPC of the service calls the
  method of its name (a PythonPredictor's predict serves a service of one RPC, as 0.33's Predict),
  declared parameters only among payload and context; __init__ gets proto_module_pb2 when it
  declares it (Cortex 0.33-0.35's name; module_proto_pb2, the name in Cortex's docs, too). A
  missing method is an init error naming the RPC, the file and what to write;
- a call decodes the request (an invalid one: INVALID_ARGUMENT), calls the method and answers a
  RESPONSE: status 200, kind 2 (bytes), body = the serialized reply, or, when the context set a
  code, details or metadata, kind 3 with hdr [["grpc-status", n], ["grpc-message", s], trailing
  metadata..., ["initial:<key>", v]...]. An exception is INTERNAL (its traceback logged);
- a server-streaming RPC's method yields the replies: each is sent as it comes in STREAM frames
  (cortex_stream.py: credit window, CANCEL closes the generator), framed as records (Service.records)
  and ended by a status record.
"""

import hashlib
import importlib
import inspect
import json
import os
import shutil
import sys
import traceback
from struct import Struct

import cortex_stream
from cortex_frames import respond
from cortex_grpc_context import Abort, Context, code_number
from cortex_handler import PredictorError, declared
from cortex_logging import log, request_ctx
from cortex_payload import BYTES, CUSTOM, ClientError

PARAMS = ("payload", "context")
OK, INVALID_ARGUMENT, UNIMPLEMENTED, INTERNAL = 0, 3, 12, 13
# the HTTP status a gRPC code is counted as (cortex_requests_total; grpc-gateway's mapping)
HTTP_STATUS = (200, 499, 500, 400, 504, 404, 409, 403, 429, 400, 409, 400, 501, 500, 503, 500, 401)
U32 = Struct("<I")
STATUS_MARK = b"\xff\xff\xff\xff"  # a status record in a streamed answer, where a reply's length would be
FAILED = "internal server error (the exception is in the API's logs)"


def compile_proto(cfg):
    """The imported <proto>_pb2 module, compiled into the cache on first use."""
    g, project = cfg["grpc"], cfg["project_dir"]
    try:
        import google.protobuf
        from grpc_tools import protoc
    except ImportError as e:
        raise PredictorError(
            f"protobuf_path needs grpcio-tools and protobuf in the worker's Python ({e}); the runtime installs them"
            " into the API's virtualenv: run through cortex serve, or pip install grpcio-tools protobuf"
        ) from None
    digest = hashlib.sha256(google.protobuf.__version__.encode())
    for rel in sorted(g["files"]):
        with open(os.path.join(project, rel), "rb") as f:
            digest.update(b"\0" + rel.encode() + b"\0" + f.read())
    out = os.path.join(g["cache_dir"], digest.hexdigest()[:16])
    if not os.path.isdir(out):
        tmp = f"{out}.{os.getpid()}.tmp"
        os.makedirs(tmp, exist_ok=True)
        include = os.path.join(os.path.dirname(protoc.__file__), "_proto")
        args = ["grpc_tools.protoc", f"-I{project}", f"-I{include}", f"--python_out={tmp}", *g["files"]]
        if protoc.main(args) != 0:
            shutil.rmtree(tmp, ignore_errors=True)
            raise PredictorError(f"protoc could not compile {g['proto']} (its errors are in the log above)")
        try:
            os.rename(tmp, out)  # atomic: another worker may have done it meanwhile
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
    if out not in sys.path:
        sys.path.insert(0, out)
    name = os.path.splitext(g["proto"])[0].replace(os.sep, ".").replace("-", "_") + "_pb2"
    return importlib.import_module(name)


def _fail(context, error):
    """The status of an RPC that raised: the runtime's own words for a ClientError (a model that is
    not there), else INTERNAL with the traceback in the log only."""
    if isinstance(error, ClientError):
        context.set_code({404: 5, 400: 3}.get(error.status, 14))
        context.set_details(str(error))
    else:
        log("error", traceback.format_exc().rstrip())
        context.set_code(INTERNAL)
        context.set_details(FAILED)


class Rpc:
    def __init__(self, method, fn, params, request, reply):
        self.name, self.fn, self.params = method.name, fn, params
        self.streaming = method.server_streaming
        self.request, self.reply = request, reply


def load_grpc(module, path, cfg, build):
    """The service object the host calls for every RPC frame. build(cls, extra): the instance."""
    from google.protobuf.message_factory import GetMessageClass

    pb2 = compile_proto(cfg)
    full = cfg["grpc"]["service"]
    service = next((s for s in pb2.DESCRIPTOR.services_by_name.values() if s.full_name == full), None)
    if service is None:
        raise PredictorError(f"{cfg['grpc']['proto']} compiled without the service {full}")
    cls_name = next((n for n in ("Handler", "PythonPredictor") if inspect.isclass(getattr(module, n, None))), None)
    if cls_name is None:
        raise PredictorError(
            f"{path} defines no class Handler (or PythonPredictor, Cortex 0.33) to serve the RPCs of {full}"
        )
    cls = getattr(module, cls_name)
    methods = list(service.methods)
    for m in methods:
        if m.client_streaming:  # the CLI refuses them; a .proto edited since still must not pass
            raise PredictorError(f"rpc {m.name} of {full} is client-streaming, which is not supported")
    names = {m.name: m.name for m in methods}
    if cls_name == "PythonPredictor" and len(methods) == 1 and not callable(getattr(cls, methods[0].name, None)):
        names[methods[0].name] = "predict"  # Cortex 0.33: the one RPC (Predict) calls predict
    for m in methods:
        if not callable(getattr(cls, names[m.name], None)):
            kind = "yield the replies" if m.server_streaming else f"return a {m.output_type.name}"
            raise PredictorError(
                f"{cls_name} in {path} has no method {names[m.name]} for rpc {m.name} of service {full}"
                f" ({cfg['grpc']['proto']}): define def {m.name}(self, payload, context) that takes a"
                f" {m.input_type.name} and {kind}"
            )
    instance = build(cls, {"proto_module_pb2": pb2, "module_proto_pb2": pb2})
    rpcs = {}
    for m in methods:
        fn = getattr(instance, names[m.name])
        params = declared(fn, PARAMS, names[m.name], cls_name)
        rpcs[m.name] = Rpc(m, fn, params, GetMessageClass(m.input_type), GetMessageClass(m.output_type))
    return Service(rpcs)


def status_record(pairs):
    data = json.dumps(pairs).encode()
    return STATUS_MARK + U32.pack(len(data)) + data


def answer_error(out, id_, context, code, details):
    respond(out, id_, HTTP_STATUS[code], CUSTOM, json.dumps(context.headers(code, details)).encode(), b"")


class Service:
    """What Host.call is for a gRPC API: one RPC frame in, its RESPONSE frame appended to `out`."""

    predict = post_predict = None  # what Host reads of a predictor

    def __init__(self, rpcs):
        self.rpcs = rpcs

    def call(self, id_, meta, body, out):
        m = json.loads(meta) if meta else {}
        request_ctx.rid = m.get("rid", id_)
        context = Context(m)
        rpc = self.rpcs.get(m.get("rpc"))
        if rpc is None:
            answer_error(out, id_, context, UNIMPLEMENTED, f"no rpc {m.get('rpc')!r} in this service")
            return None
        kw = {}
        if "payload" in rpc.params:
            try:
                kw["payload"] = rpc.request.FromString(body)
            except Exception as e:  # google.protobuf.message.DecodeError
                why = f"not a valid {rpc.request.DESCRIPTOR.full_name}: {e}"
                answer_error(out, id_, context, INVALID_ARGUMENT, why)
                return None
        if "context" in rpc.params:
            kw["context"] = context
        replies = []
        try:
            result = rpc.fn(**kw)
            if rpc.streaming:  # the replies stream as yielded (STREAM frames, cortex_stream.py)
                after = (lambda: [cb() for cb in context.callbacks]) if context.callbacks else None
                context.stream = cortex_stream.start(id_, self.records(rpc, result, context), False, after)
                return None
            replies.append(self.encode(rpc, result))
        except Abort:
            pass
        except Exception as e:
            _fail(context, e)
        reply = b"".join(replies)
        code = context.code() or OK
        if code == OK and context.plain():
            respond(out, id_, 200, BYTES, b"", reply)
        else:
            hdr = json.dumps(context.headers(code, context.details())).encode()
            respond(out, id_, HTTP_STATUS[code], CUSTOM, hdr, reply if code == OK else b"")
        if context.callbacks:
            return (request_ctx.rid, lambda: [cb() for cb in context.callbacks], None)
        return None

    def records(self, rpc, result, context):
        """A server-streaming RPC's stream: each reply as a u32 length and its bytes, as it is yielded,
        then the status record (u32 0xFFFFFFFF, u32 length, JSON pairs as a RESPONSE's hdr); initial
        metadata set before a reply goes in a status record before it (runtime/grpc/stream.ts)."""
        sent_initial = False
        try:
            for item in result:
                data = self.encode(rpc, item)
                if not sent_initial and context.initial() is not None:
                    yield status_record(context.initial())
                sent_initial = True
                yield U32.pack(len(data)) + data
        except Abort:
            pass
        except Exception as e:
            _fail(context, e)
        finally:  # a cancelled stream (GeneratorExit here) closes the predictor's generator too
            close = getattr(result, "close", None)
            if close is not None:
                close()
        yield status_record(context.headers(context.code() or OK, context.details()))

    @staticmethod
    def encode(rpc, value):
        if not isinstance(value, rpc.reply):
            raise TypeError(
                f"{rpc.name} returned a {type(value).__name__}; rpc {rpc.name} replies"
                f" {rpc.reply.DESCRIPTOR.full_name}: return proto_module_pb2.{rpc.reply.DESCRIPTOR.name}(...)"
            )
        return value.SerializeToString()


__all__ = ["load_grpc", "code_number"]
