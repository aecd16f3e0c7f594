"""The floor for serving the streaming bench's generator from Python: a bare asyncio server on
uvloop (what uvicorn[standard] runs FastAPI on) with no framework: it reads a keep-alive POST,
runs fixtures/streaming/predictor.py's async generator and writes each value as one chunked-coding
line with a single transport.write. No routing, no validation, no backpressure, no client-gone
check: the least any server can do per chunk of this generator.

    bench/.venv/bin/python bench/bare_stream.py PORT
"""

import asyncio
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "streaming"))
from predictor import PythonPredictor  # noqa: E402

predictor = PythonPredictor({})
_dumps = json.JSONEncoder(separators=(",", ":")).encode
HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: application/x-ndjson\r\ntransfer-encoding: chunked\r\n\r\n"


class Stream(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport, self.buf = transport, b""

    def data_received(self, data):
        self.buf += data
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = self.buf[:end].lower()
        i = head.find(b"content-length:")
        length = int(head[i + 15 : head.find(b"\r\n", i) if head.find(b"\r\n", i) > 0 else None]) if i >= 0 else 0
        if len(self.buf) < end + 4 + length:
            return
        body, self.buf = self.buf[end + 4 : end + 4 + length], self.buf[end + 4 + length :]
        asyncio.ensure_future(self.answer(json.loads(body or b"{}")))

    async def answer(self, payload):
        write = self.transport.write
        write(HEAD)
        async for value in predictor.predict(payload):
            line = (_dumps(value) + "\n").encode()
            write(b"%x\r\n%s\r\n" % (len(line), line))
        write(b"0\r\n\r\n")


async def main(port):
    server = await asyncio.get_running_loop().create_server(Stream, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    import uvloop

    uvloop.run(main(int(sys.argv[1])))
