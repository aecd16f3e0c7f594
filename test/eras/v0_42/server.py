"""The container of the sentiment API: a plain HTTP server, as a Cortex 0.42 user wrote one.

POST / with {"text": ..., "sleep": seconds} answers {"label": ..., "text": ...} after sleeping;
GET /healthz answers 200. It listens on --port (Cortex passed $(CORTEX_PORT)) on 127.0.0.1.
"""

import argparse
import json
import os
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LABELS = os.environ.get("LABELS", "negative,positive").split(",")


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/healthz":
            self.answer(200, {"ok": True})
        else:
            self.answer(404, {"error": f"no route GET {self.path}"})

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        payload = json.loads(self.rfile.read(length) or b"{}")
        time.sleep(float(payload.get("sleep", 0)))
        text = str(payload.get("text", ""))
        label = LABELS[1] if "good" in text else LABELS[0]
        self.answer(200, {"label": label, "text": text})

    def answer(self, status, value):
        body = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    port = parser.parse_args().port
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(f"listening on {port}", flush=True)
    server.serve_forever()
