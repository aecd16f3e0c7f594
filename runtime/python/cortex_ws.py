"""WebSockets for a predictor that defines `websocket(self, ws)` (docs/websockets.md), over the
WS_* frames of runtime/PROTOCOL.md.

The handler gets a `WebSocket` shaped like Starlette's: accept(), receive_text/bytes/json(),
send_text/bytes/json(), close(code, reason), query_params, headers; a receive after the client
left raises WebSocketDisconnect (a subclass of Starlette's when Starlette is installed, so either
import catches it). `async def websocket` runs on one asyncio loop per worker (a thread of its
own, as Starlette's handlers share uvicorn's loop); a plain `def websocket` gets a thread per open
socket with blocking methods. Neither uses the predict thread pool, so open sockets never take a
slot from plain requests.

Flow control: a socket holds at most QUEUE client messages. WS_ACCEPT carries credit (how many
more messages the worker can take); the front sends no more than that and stops reading from the
client meanwhile, so a flooding client is slowed by TCP, and memory stays bounded.
"""

import asyncio
import inspect
import json
import queue
import threading
import traceback
from struct import Struct

from cortex_frames import WS_ACCEPT, WS_CLOSE, WS_FRAMES, WS_MESSAGE, WS_OPEN, WS_SEND, write_out
from cortex_handler import PredictorError
from cortex_logging import log, request_ctx
from cortex_payload import headers_dict, query_dict

FRAMES = WS_FRAMES

QUEUE = 64  # client messages one socket holds; the front has at most this many unconsumed
GRANT = QUEUE // 2  # credit goes back to the front in steps of this many consumed messages

_ID = Struct("<I")
_SEND = Struct("<IBIB")  # length, type, id, binary
_CLOSE = Struct("<IBIH")  # length, type, id, code
_ACCEPT = Struct("<IBII")  # length, type, id, credit
_CLOSE_IN = Struct("<IH")  # id, code

try:  # catching Starlette's class catches ours too
    from starlette.websockets import WebSocketDisconnect as _Base
except Exception:  # not installed (the runtime needs nothing but the standard library)
    _Base = Exception


class WebSocketDisconnect(_Base):
    """Raised by a receive (or send) once the client closed the socket; `code` is its close code
    (1000 normal, 1001 going away: also when the replica drains, 1006 the connection dropped)."""

    def __init__(self, code=1000, reason=None):
        Exception.__init__(self, code, reason)
        self.code = code
        self.reason = reason or ""


class _Socket:
    """What the sync and async handles share: state, frames out, message decoding."""

    def __init__(self, id_, meta):
        self._id = id_
        self.path = meta.get("path", "/")
        self.query_params = query_dict(meta.get("q"))
        self.headers = headers_dict(meta.get("h"))
        self.request_id = meta.get("rid", str(id_))
        self.accepted = False
        self.closed = False  # by the handler (close) or the runtime
        self.disconnect = None  # the client's close, once a receive reached it: (code, reason)
        self._gone = None  # the client's close as soon as it arrived: sends fail from then on
        self._consumed = 0

    def _accept_frame(self, subprotocol):
        if self.accepted or self.closed:
            raise RuntimeError("websocket: accept() called twice or after close()")
        self.accepted = True
        sub = (subprotocol or "").encode()
        write_out(_ACCEPT.pack(9 + len(sub), WS_ACCEPT, self._id, QUEUE) + sub)

    def _send_frame(self, data, binary):
        if self._gone is not None:
            raise WebSocketDisconnect(*self._gone)
        if not self.accepted or self.closed:
            raise RuntimeError("websocket: send before accept() or after close()")
        write_out(_SEND.pack(6 + len(data), WS_SEND, self._id, 1 if binary else 0) + data)

    def _close_frame(self, code, reason):
        if self.closed:
            return
        self.closed = True
        if self._gone is not None and self.accepted:
            return  # the client is gone already
        why = (reason or "").encode()[:123]  # a close frame's reason is at most 123 bytes
        write_out(_CLOSE.pack(7 + len(why), WS_CLOSE, self._id, code) + why)

    def _took(self, message):
        """A message left the queue: the front may send one more (credit returned in steps)."""
        if message[0] == "close":
            self.disconnect = message[1:]
            raise WebSocketDisconnect(*self.disconnect)
        self._consumed += 1
        if self._consumed >= GRANT and self._gone is None and not self.closed:
            write_out(_ACCEPT.pack(9, WS_ACCEPT, self._id, self._consumed))
            self._consumed = 0
        return message

    def _check_receive(self):
        if self.disconnect is not None:
            raise WebSocketDisconnect(*self.disconnect)
        if not self.accepted:
            raise RuntimeError("websocket: receive before accept()")

    @staticmethod
    def _text(message):
        if message[0] != "text":
            raise TypeError("websocket: expected a text message, got a binary one (use receive_bytes)")
        return message[1]

    @staticmethod
    def _bytes(message):
        if message[0] != "bytes":
            raise TypeError("websocket: expected a binary message, got a text one (use receive_text)")
        return message[1]

    @staticmethod
    def _json(message):
        return json.loads(message[1])

    @staticmethod
    def _dumps(data):
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


class WebSocket(_Socket):
    """The handle an `async def websocket(self, ws)` gets (Starlette's names)."""

    def __init__(self, id_, meta, loop):
        super().__init__(id_, meta)
        self._inbox = asyncio.Queue()
        self._loop = loop

    async def accept(self, subprotocol=None):
        self._accept_frame(subprotocol)

    async def _next(self):
        self._check_receive()
        return self._took(await self._inbox.get())

    async def receive_text(self):
        return self._text(await self._next())

    async def receive_bytes(self):
        return self._bytes(await self._next())

    async def receive_json(self):
        return self._json(await self._next())

    async def iter_text(self):
        try:
            while True:
                yield await self.receive_text()
        except WebSocketDisconnect:
            pass

    async def iter_bytes(self):
        try:
            while True:
                yield await self.receive_bytes()
        except WebSocketDisconnect:
            pass

    async def iter_json(self):
        try:
            while True:
                yield await self.receive_json()
        except WebSocketDisconnect:
            pass

    async def send_text(self, data):
        self._send_frame(data.encode(), False)

    async def send_bytes(self, data):
        self._send_frame(bytes(data), True)

    async def send_json(self, data):
        self._send_frame(self._dumps(data).encode(), False)

    async def close(self, code=1000, reason=None):
        self._close_frame(code, reason)

    def _deliver(self, message):  # from the frame loop's thread
        self._loop.call_soon_threadsafe(self._inbox.put_nowait, message)


class SyncWebSocket(_Socket):
    """The handle a plain `def websocket(self, ws)` gets: the same methods, blocking."""

    def __init__(self, id_, meta):
        super().__init__(id_, meta)
        self._inbox = queue.SimpleQueue()

    def accept(self, subprotocol=None):
        self._accept_frame(subprotocol)

    def _next(self):
        self._check_receive()
        return self._took(self._inbox.get())

    def receive_text(self):
        return self._text(self._next())

    def receive_bytes(self):
        return self._bytes(self._next())

    def receive_json(self):
        return self._json(self._next())

    def iter_text(self):
        return self._iter(self.receive_text)

    def iter_bytes(self):
        return self._iter(self.receive_bytes)

    def iter_json(self):
        return self._iter(self.receive_json)

    @staticmethod
    def _iter(receive):
        try:
            while True:
                yield receive()
        except WebSocketDisconnect:
            pass

    def send_text(self, data):
        self._send_frame(data.encode(), False)

    def send_bytes(self, data):
        self._send_frame(bytes(data), True)

    def send_json(self, data):
        self._send_frame(self._dumps(data).encode(), False)

    def close(self, code=1000, reason=None):
        self._close_frame(code, reason)

    def _deliver(self, message):
        self._inbox.put(message)


class Sockets:
    """The open sockets of one worker; on_frame runs on the host's frame-reading thread."""

    def __init__(self, handler):
        self.handler = handler
        self.is_async = inspect.iscoroutinefunction(handler)
        self.open = {}
        self.loop = None
        if self.is_async:
            self.loop = asyncio.new_event_loop()
            threading.Thread(target=self.loop.run_forever, name="websocket-loop", daemon=True).start()

    def on_frame(self, typ, frame):
        (id_,) = _ID.unpack_from(frame, 0)
        if typ == WS_OPEN:
            meta = json.loads(frame[4:]) if len(frame) > 4 else {}
            if self.is_async:
                ws = self.open[id_] = WebSocket(id_, meta, self.loop)
                asyncio.run_coroutine_threadsafe(self._run_async(ws), self.loop)
            else:
                ws = self.open[id_] = SyncWebSocket(id_, meta)
                threading.Thread(target=self._run_sync, args=(ws,), name=f"websocket-{id_}", daemon=True).start()
            return
        ws = self.open.get(id_)
        if ws is None:
            return  # the handler ended already
        if typ == WS_MESSAGE:
            data = bytes(frame[5:])
            ws._deliver(("bytes", data) if frame[4] else ("text", data.decode("utf-8")))
        else:  # WS_CLOSED: the client left (or the replica drains: 1001)
            _, code = _CLOSE_IN.unpack_from(frame, 0)
            ws._gone = (code, bytes(frame[6:]).decode("utf-8", "replace"))
            ws._deliver(("close", *ws._gone))

    def _run_sync(self, ws):
        request_ctx.rid = ws.request_id
        try:
            self.handler(ws)
            self._ended(ws, None)
        except BaseException as e:
            self._ended(ws, e)

    async def _run_async(self, ws):
        try:
            await self.handler(ws)
            self._ended(ws, None)
        except BaseException as e:
            self._ended(ws, e)

    def _ended(self, ws, error):
        """As uvicorn: a return without close() closes with 1000; an exception logs its traceback
        and closes with 1011 (before accept(): the upgrade is refused, 500 instead of 403)."""
        self.open.pop(ws._id, None)
        if isinstance(error, WebSocketDisconnect) and ws.disconnect is not None:
            error = None  # the client left and the handler let the exception end it: normal
        if error is not None:
            log("error", "websocket: " + "".join(traceback.format_exception(error)).rstrip(), ws.request_id)
            ws._close_frame(1011, "internal error")
        else:
            ws._close_frame(1000, "")


def for_predictor(predictor, path):
    """The Sockets of a predictor with a `websocket` method; None when it has none."""
    handler = getattr(predictor, "websocket", None)
    if handler is None:
        return None
    if not callable(handler):
        raise PredictorError(f"websocket in {path} is not a method")
    params = [p for p in inspect.signature(handler).parameters.values() if p.default is p.empty]
    if len(params) != 1:
        raise PredictorError(
            f"websocket in {path} must take exactly one parameter besides self (the socket: "
            f"def websocket(self, ws)), not {len(params)}"
        )
    return Sockets(handler)
