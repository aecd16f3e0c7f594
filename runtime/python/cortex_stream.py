"""Streamed answers (docs/streaming.md, frames in runtime/PROTOCOL.md): a predict (or a Handler's
handle_<verb>) that is, or returns, a generator, an async generator or a Starlette-like
StreamingResponse (`body_iterator`) answers with STREAM_START, STREAM_CHUNK... STREAM_END
instead of one RESPONSE.

- Each sync generator runs on a thread of its own; every async one on one shared event loop
  thread. The read loop stays free for CREDIT and CANCEL frames and, with threads > 1, for
  other requests; the front gives a worker no more streams than its threads.
- STREAM_START goes out with the first item, so the content type follows from it (str: text,
  bytes: octet-stream, anything else: JSON values, as Server-Sent Events when the request
  accepts text/event-stream, else one JSON document per line) and a failure before it is
  an ordinary 500 RESPONSE.
- Flow control: at most WINDOW bytes sent and not yet credited back by the front; the
  generator is not resumed until credit comes, so a slow client slows it.
- CANCEL (the client went away) stops the generator: `close()` (GeneratorExit at its yield)
  once its current step returns, or for an async one at once (CancelledError at its await).
  STREAM_END follows either way, and only then is the slot free.
Standard library only.
"""

import asyncio
import inspect
import json
import os
import threading
import time
import traceback
from struct import Struct

from cortex_frames import STREAM_CHUNK, STREAM_END, STREAM_START, respond, write_out
from cortex_logging import log, request_ctx
from cortex_metrics import flush as flush_metrics
from cortex_payload import CUSTOM, JSON, PREDICT_FAILED, ClientError, _response, error_body

WINDOW = 64 * 1024  # bytes a stream may have sent and not had credited back
TEXT, BYTES, EVENT_STREAM, NDJSON = 1, 2, 4, 5

START = Struct("<IBIHBH")  # length, type, id, status, kind, hdrLen
CHUNK = Struct("<IBI")  # length, type, id
END = Struct("<IBIB")  # length, type, id, ok
_dumps = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode


def _item_encoder():
    """json.dumps builds a new C encoder for every call (a third of a small chunk's cost in the
    worker); this one is built once, for the same output as _dumps. Without markers (the
    circular-reference check) a cycle ends in RecursionError, which `encoded` reports as well.
    Falls back to _dumps where the C encoder is missing or takes other arguments."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return _dumps
    try:
        c = make(
            None, json.JSONEncoder().default, json.encoder.encode_basestring_ascii, None, ":", ",", False, False, False
        )
        sample = {"a": [1, 2.5, "\u00e9\n", None, True], "b": {}}
        if "".join(c(sample, 0)) != _dumps(sample):
            return _dumps
    except Exception:
        return _dumps
    join = "".join
    return lambda item: join(c(item, 0))


_encode_item = _item_encoder()

_streams = {}  # wire id -> Stream, while it runs
_streams_lock = threading.Lock()


class Cancelled(Exception):
    """The front sent CANCEL: nobody reads the rest."""


class EncodeError(Exception):
    """A yielded value cannot be sent (the message is the runtime's own: safe for the client)."""


_PLAIN = frozenset((dict, list, str, bytes, int, float, bool, type(None)))


def is_stream(result):
    """predict's return value streams (the common plain values are ruled out at once)."""
    return type(result) not in _PLAIN and (
        inspect.isgenerator(result)
        or inspect.isasyncgen(result)
        or (hasattr(result, "body_iterator") and hasattr(result, "status_code"))
    )


def start(id_, result, sse, after=None):
    """Starts streaming `result` as the answer to request `id_`. `after` runs once it ended
    (post_predict, a Handler's callback)."""
    stream = Stream(id_, result, sse, getattr(request_ctx, "rid", id_), after)
    with _streams_lock:
        _streams[id_] = stream
    if stream.is_async:
        asyncio.run_coroutine_threadsafe(stream.run_async(), _loop())
    else:
        threading.Thread(target=stream.run_sync, name=f"stream-{id_}", daemon=True).start()
    return stream


def credit(id_, n):
    stream = _streams.get(id_)
    if stream is not None:
        stream.credit(n)


def cancel(id_):
    stream = _streams.get(id_)
    if stream is not None:
        stream.cancel()


def stop_all(timeout):
    """The worker shuts down: cancel what still runs and give it `timeout` seconds to finish."""
    with _streams_lock:
        streams = list(_streams.values())
    for s in streams:
        s.cancel()
    deadline = time.monotonic() + timeout
    for s in streams:
        s.done.wait(max(0, deadline - time.monotonic()))


_event_loop = None
_event_loop_lock = threading.Lock()


def _loop():
    global _event_loop
    with _event_loop_lock:
        if _event_loop is None:
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="stream-loop", daemon=True).start()
            _event_loop = loop
        return _event_loop


_loop_out = []  # frames the async streams wrote during this loop iteration


def _loop_write(data):
    """On the loop thread: queues a frame; the first of an iteration schedules the flush."""
    if not _loop_out:
        _event_loop.call_soon(_loop_flush)
    _loop_out.append(data)


def _loop_flush():
    if _loop_out:
        data = b"".join(_loop_out)
        _loop_out.clear()
        write_out(data)


_thread_out = []  # frames sync streams queued while another stream thread was writing
_thread_out_lock = threading.Lock()
_thread_writing = False


def _thread_write(data):
    """From a stream thread: the thread that finds no write in progress writes everything queued
    (its own frame and whatever others queue meanwhile), so busy streams share syscalls."""
    global _thread_writing
    with _thread_out_lock:
        _thread_out.append(data)
        if _thread_writing:
            return
        _thread_writing = True
    while True:
        with _thread_out_lock:
            if not _thread_out:
                _thread_writing = False
                return
            batch = b"".join(_thread_out)
            _thread_out.clear()
        write_out(batch)


class Stream:
    def __init__(self, id_, result, sse, rid, after):
        self.id, self.rid, self.sse, self.after = id_, rid, sse, after
        self.status, self.hdr, self.custom = 200, b"", False
        source = result
        if not (inspect.isgenerator(result) or inspect.isasyncgen(result)):  # a StreamingResponse
            status, _, hdr, _ = _response(_WithoutBody(result))
            self.status, self.hdr, self.custom = status, hdr, True
            source = result.body_iterator
        self.source = source
        self.is_async = hasattr(source, "__anext__")
        self.cond = threading.Condition()
        # The window: bytes sent (written by the producer only) less bytes credited (by the read
        # loop only). One writer each, so a chunk takes no lock; the lock is for the hand-over
        # when the producer waits (`waiting`: only then does CREDIT wake it).
        self.sent = self.credited = 0
        self.cancelled = False
        self.waiting = False
        self.started = False
        self.kind = CUSTOM if self.custom else None
        self.done = threading.Event()
        self.loop = self.task = None  # async: the shared loop and this stream's task on it
        self.wake = None  # async: an asyncio.Event set when credit or cancel comes

    # --- from the read loop
    def credit(self, n):
        self.credited += n
        with self.cond:
            waiting = self.waiting
            if waiting:
                self.cond.notify()
        if waiting and self.wake is not None:  # a wake-up of the shared loop costs a syscall: only when needed
            self.loop.call_soon_threadsafe(self.wake.set)

    def cancel(self):
        with self.cond:
            self.cancelled = True
            self.cond.notify()
        task = self.task
        if task is not None:  # CancelledError at the async generator's current await
            self.loop.call_soon_threadsafe(task.cancel)

    # --- encoding
    def encode(self, item):
        if self.kind is None:
            if isinstance(item, str):
                self.kind = TEXT
            elif isinstance(item, (bytes, bytearray, memoryview)):
                self.kind = BYTES
            else:
                self.kind = EVENT_STREAM if self.sse else NDJSON
        kind = self.kind
        if kind == EVENT_STREAM:
            if isinstance(item, (bytes, bytearray, memoryview)):
                item = bytes(item).decode("utf-8", "replace")
            if not isinstance(item, str):  # compact JSON has no newline: one data line
                return f"data: {_encode_item(item)}\n\n".encode()
            return ("".join(f"data: {line}\n" for line in item.split("\n")) + "\n").encode()
        if kind == NDJSON:
            if isinstance(item, (bytes, bytearray, memoryview)):
                item = bytes(item).decode("utf-8", "replace")
            return (_encode_item(item) + "\n").encode()
        if isinstance(item, str):
            return item.encode("utf-8", "surrogatepass")
        if isinstance(item, (bytes, bytearray, memoryview)):
            return bytes(item)
        return (_encode_item(item) + "\n").encode()

    def start_frame(self):
        return START.pack(10 + len(self.hdr), STREAM_START, self.id, self.status, self.kind, len(self.hdr)) + self.hdr

    def send(self, data):
        """Writes one chunk (STREAM_START first), counting it against the window."""
        frame = CHUNK.pack(5 + len(data), STREAM_CHUNK, self.id) + data
        if not self.started:
            self.started = True
            frame = self.start_frame() + frame
        self.sent += len(data)
        self.write(frame)

    def write(self, data):
        """Frames of an async stream go out once per loop iteration, together with the other streams'."""
        if self.is_async:
            _loop_write(data)
        else:
            _thread_write(data)

    def window_full(self):
        return self.sent - self.credited >= WINDOW and not self.cancelled

    def failed(self, e):
        """The generator raised: before the first chunk an ordinary error RESPONSE, after it STREAM_END."""
        if isinstance(e, ClientError):
            status, msg = e.status, str(e)
        elif isinstance(e, EncodeError):
            status, msg = 500, str(e)
        else:
            log("error", "".join(traceback.format_exception(e)).rstrip())
            status, msg = 500, PREDICT_FAILED
        if not self.started:
            out = []
            respond(out, self.id, status, JSON, b"", error_body(msg))
            self.write(b"".join(out))
            return True
        self.end(msg)
        return False

    def end(self, error=None):
        if not self.started:  # an empty stream: still a stream, with its content type
            self.started = True
            if self.kind is None:
                self.kind = EVENT_STREAM if self.sse else TEXT
            head = self.start_frame()
        else:
            head = b""
        payload = b"" if error is None else json.dumps({"error": error}).encode()
        self.write(head + END.pack(6 + len(payload), STREAM_END, self.id, 0 if error else 1) + payload)

    def finished(self):
        with _streams_lock:
            _streams.pop(self.id, None)
        flush_metrics()  # what the generator recorded
        if self.after is not None:
            try:
                self.after()
            except Exception:
                log("error", "after the stream: " + traceback.format_exc().rstrip())
        request_ctx.rid = None
        self.done.set()

    # --- a sync generator, on its own thread
    def run_sync(self):
        request_ctx.rid = self.rid
        gen = self.source
        it = iter(gen)
        try:
            while True:
                with self.cond:
                    while self.window_full():
                        self.waiting = True
                        self.cond.wait()
                    self.waiting = False
                    if self.cancelled:
                        raise Cancelled
                try:
                    item = next(it)
                except StopIteration:
                    self.end()
                    break
                self.send(self.encoded(item))
        except Cancelled:
            _close(gen)
            self.end("cancelled: the client went away")
        except Exception as e:
            _close(gen)
            self.failed(e)
        except BaseException:  # SystemExit or the like from the generator: as the host's fatal()
            log("error", "worker failed: " + traceback.format_exc().rstrip(), None)
            os._exit(70)
        finally:
            self.finished()

    def encoded(self, item):
        try:
            return self.encode(item)
        except (TypeError, ValueError, OverflowError, RecursionError, UnicodeError) as e:
            err = EncodeError(f"predict yielded a {type(item).__name__} that cannot be sent: {e}")
            log("error", str(err))
            raise err from e

    # --- an async generator, on the shared event loop
    async def credit_comes(self):
        """The window is full: wait for CREDIT (or CANCEL), which sets `wake` while `waiting`."""
        with self.cond:
            self.waiting = self.window_full()
            if not self.waiting:
                return
            self.wake.clear()
        await self.wake.wait()
        self.waiting = False

    async def run_async(self):
        request_ctx.rid = self.rid
        self.loop = asyncio.get_running_loop()
        self.wake = asyncio.Event()
        self.task = asyncio.current_task()
        gen = self.source
        try:
            if self.cancelled:
                raise Cancelled
            anext, rid = gen.__anext__, self.rid
            while True:
                if self.cancelled:
                    raise Cancelled
                if self.sent - self.credited >= WINDOW:
                    await self.credit_comes()
                    continue
                try:
                    item = await anext()
                except StopAsyncIteration:
                    self.end()
                    break
                request_ctx.rid = rid
                self.send(self.encoded(item))
        except (Cancelled, asyncio.CancelledError):
            await _aclose(gen)
            self.end("cancelled: the client went away")
        except Exception as e:
            await _aclose(gen)
            self.failed(e)
        finally:
            _loop_flush()  # this stream's last frames, before it counts as done
            if self.after is None:
                self.finished()
            else:  # post_predict or a callback is sync code: not on the loop the other streams share
                await asyncio.to_thread(self.finished)


class _WithoutBody:
    """A StreamingResponse seen through _response: its status and headers, no body."""

    def __init__(self, r):
        self.status_code = r.status_code
        self.body = b""
        raw = getattr(r, "raw_headers", None)
        if raw is not None:
            self.raw_headers = raw
        else:
            self.headers = getattr(r, "headers", None) or ()


def _close(gen):
    close = getattr(gen, "close", None)
    if close is not None:
        try:
            close()
        except Exception:
            log("error", "closing the generator: " + traceback.format_exc().rstrip())


async def _aclose(gen):
    aclose = getattr(gen, "aclose", None)
    if aclose is not None:
        try:
            await aclose()
        except Exception:
            log("error", "closing the generator: " + traceback.format_exc().rstrip())
