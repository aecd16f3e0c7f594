# Ray Serve's documented form: a @serve.deployment whose handler awaits a @serve.batch method, so
# Serve groups concurrent requests into one call. One replica with one CPU (every peer gets about
# one core); Ray's other processes (GCS, raylet, proxy, controller) are counted by the harness too.
# Usage: python ray_serve_app.py PORT. Request: {"features": [128 floats]} on /.
import sys
import time

import ray
from common import BATCH_WAIT_S, MAX_BATCH_SIZE, answers, load_session, port_from_argv
from ray import serve
from starlette.requests import Request


# Serve's docs: max_ongoing_requests must be at least max_batch_size or batches never fill
# (its default is 5); twice the batch lets the next batch gather while one runs.
@serve.deployment(num_replicas=1, ray_actor_options={"num_cpus": 1}, max_ongoing_requests=2 * MAX_BATCH_SIZE)
class OnnxMlp:
    def __init__(self):
        self.session = load_session()

    @serve.batch(max_batch_size=MAX_BATCH_SIZE, batch_wait_timeout_s=BATCH_WAIT_S)
    async def predict(self, rows: list) -> list:
        return answers(self.session, rows)

    async def __call__(self, request: Request):
        body = await request.json()
        return await self.predict(body["features"])


if __name__ == "__main__":
    # No dashboard: it is optional for serve.run and would only add background CPU to Ray's bill.
    ray.init(include_dashboard=False)
    serve.start(http_options={"host": "127.0.0.1", "port": port_from_argv(sys.argv)})
    serve.run(OnnxMlp.bind(), route_prefix="/")
    while True:
        time.sleep(3600)
