"""FastAPI + uvicorn serving the streaming bench's generator (fixtures/streaming/predictor.py),
the two ways a FastAPI user streams it:

POST /      StreamingResponse, one JSON document per line (application/x-ndjson), what
            cortex serve sends a client that does not ask for Server-Sent Events;
POST /sse   sse-starlette's EventSourceResponse, one event per value (text/event-stream).

    bench/.venv/bin/python -m uvicorn streaming_app:app --app-dir bench --port 8000 \
        --no-access-log --log-level warning
"""

import json
import os
import sys

from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse
from sse_starlette.sse import EventSourceResponse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "streaming"))
from predictor import PythonPredictor  # noqa: E402

predictor = PythonPredictor({})
app = FastAPI()
_dumps = json.JSONEncoder(separators=(",", ":")).encode


@app.post("/")
async def ndjson(request: Request):
    payload = await request.json()

    async def lines():
        async for value in predictor.predict(payload):
            yield _dumps(value) + "\n"

    return StreamingResponse(lines(), media_type="application/x-ndjson")


@app.post("/sse")
async def sse(request: Request):
    payload = await request.json()

    async def events():
        async for value in predictor.predict(payload):
            yield {"data": _dumps(value)}

    return EventSourceResponse(events())
