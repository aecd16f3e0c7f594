"""The binary frames between the front and a Python worker host (runtime/PROTOCOL.md,
"Frames"): the struct layouts the host's read loop unpacks, BATCH parsing, RESPONSE frames
appended to an output list (the host joins and writes them in batches), the READY /
INIT_ERROR / METRICS JSON frames, the one lock every write to the front takes, and the write
that gets every byte onto a pipe (used for log lines too).
Standard library only; imported by cortex_host.py and cortex_logging.py from this directory.
"""

import json
import os
import select
import threading
from struct import Struct

IN_FD, OUT_FD = 3, 4

# Frame types, as runtime/workers/frames.ts names them. Front -> worker (ToWorker):
REQUEST, BATCH, CANCEL, CREDIT, SHUTDOWN = 1, 2, 3, 4, 9
# Worker -> front (FromWorker):
RESPONSE, READY, INIT_ERROR, METRICS = 1, 2, 3, 4
STREAM_START, STREAM_CHUNK, STREAM_END = 5, 6, 7  # layouts: cortex_stream.py

U32 = Struct("<I")
REQ = Struct("<BIH")  # type, id, metaLen
BATCH_HEAD = Struct("<BH")  # type, count
BATCH_ITEM = Struct("<IHI")  # id, metaLen, bodyLen
RESP = Struct("<IBIHBH")  # length, type, id, status, kind, hdrLen

# WebSocket frames (layouts: cortex_ws.py). Front -> worker, then worker -> front:
WS_OPEN, WS_MESSAGE, WS_CLOSED = 5, 6, 7
WS_FRAMES = (WS_OPEN, WS_MESSAGE, WS_CLOSED)
WS_SEND, WS_CLOSE, WS_ACCEPT = 8, 9, 10


def write_all(fd, data):
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except BlockingIOError:  # an inherited non-blocking fd
            select.select([], [fd], [])
            continue
        view = view[n:]


_out_lock = threading.Lock()


def write_out(data):
    """Writes whole frames to the front. Every write to OUT_FD goes through here: a thread of the
    predictor's own may send METRICS frames while the host writes answers."""
    with _out_lock:
        write_all(OUT_FD, data)


def parse_batch(data, at):
    """The items of the BATCH frame whose type byte is at `at`: [(id, meta, body), ...]."""
    _, count = BATCH_HEAD.unpack_from(data, at)
    p, items = at + 3, []
    for _ in range(count):
        id_, mlen, blen = BATCH_ITEM.unpack_from(data, p)
        p += 10
        items.append((id_, data[p : p + mlen], data[p + mlen : p + mlen + blen]))
        p += mlen + blen
    return items


def respond(out, id_, status, kind, hdr, body):
    out.append(RESP.pack(10 + len(hdr) + len(body), RESPONSE, id_, status, kind, len(hdr)))
    if hdr:
        out.append(hdr)
    out.append(body)


def json_frame(typ, obj):
    payload = json.dumps(obj).encode()
    return U32.pack(1 + len(payload)) + bytes((typ,)) + payload


def send_frame(typ, obj):
    """A JSON frame (READY, INIT_ERROR), written at once."""
    write_out(json_frame(typ, obj))
