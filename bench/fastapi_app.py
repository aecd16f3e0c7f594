"""FastAPI + uvicorn serving the benchmark's trivial predictor (contenders b and c).

BENCH_HANDLER=async (default): an `async def` route on the event loop that reads the body
with `await request.json()` — the common way to take arbitrary JSON, and the fastest
idiomatic variant measured (a `Body(...)` parameter costs ~10% more).
BENCH_HANDLER=sync: a plain `def` route, run in Starlette's thread pool — how Cortex's own
FastAPI server (and KServe's) called a Python predictor; a `def` route cannot await the
body, so it takes it as a `Body(...)` parameter.
Both return the predictor's dict and let FastAPI serialise it.

    bench/.venv/bin/python -m uvicorn fastapi_app:app --app-dir bench --port 8000 \
        --no-access-log --log-level warning
"""

import os
import sys
from typing import Any

from fastapi import Body, FastAPI, Request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "trivial"))
from predictor import PythonPredictor  # noqa: E402

predictor = PythonPredictor({})
app = FastAPI()

if os.environ.get("BENCH_HANDLER", "async") == "sync":

    @app.post("/")
    def predict(payload: Any = Body(...)):
        return predictor.predict(payload)

else:

    @app.post("/")
    async def predict(request: Request):
        return predictor.predict(await request.json())
