"""A BatchAPI's worker for cortex_host.py (config "batch_job" set): every REQUEST frame is one batch
of a job, its body the JSON list of the batch's items and its meta {"rid": "<batch id>"}; a frame
with meta {"m": "COMPLETE"} runs on_job_complete once every batch of the job is done.

Cortex 0.34-0.35: class Handler with handle_batch(self, payload, batch_id); Cortex 0.19-0.33:
class PythonPredictor with predict(self, payload, batch_id). Both may declare job_spec in
__init__ (the job as submitted: job_id, workers, config...) and define on_job_complete(self).
The answer is 200 with the method's return value (JSON, ignored by the runtime), or 500: the
batch failed and the runtime retries it, then dead-letters it.
"""

import inspect
import json
import traceback

from cortex_frames import respond
from cortex_handler import PredictorError, declared
from cortex_logging import log, request_ctx
from cortex_payload import JSON, PREDICT_FAILED, error_body

PARAMS = ("payload", "batch_id")
COMPLETE = "COMPLETE"
CLASSES = (("Handler", "handle_batch"), ("PythonPredictor", "predict"))  # the class looked for, and its method


def load_batch(module, path, cfg, build):
    """The object the host calls for every frame. build(cls, extra): the instance."""
    found = next((c for c in CLASSES if inspect.isclass(getattr(module, c[0], None))), None)
    if found is None:
        raise PredictorError(
            f"{path} defines no class Handler (with handle_batch(self, payload, batch_id)) nor PythonPredictor"
            " (with predict(self, payload, batch_id), Cortex 0.19-0.33)"
        )
    cls_name, method = found
    cls = getattr(module, cls_name)
    if not callable(getattr(cls, method, None)):
        raise PredictorError(f"{cls_name} in {path} has no {method}(self, payload, batch_id) method for a BatchAPI")
    instance = build(cls, {"job_spec": cfg["batch_job"]})
    fn = getattr(instance, method)
    complete = getattr(instance, "on_job_complete", None)
    return BatchJob(fn, declared(fn, PARAMS, method, cls_name), complete if callable(complete) else None)


class BatchJob:
    """What Host.call is for a BatchAPI: one batch in, its RESPONSE frame appended to `out`."""

    predict = post_predict = None  # what Host reads of a predictor

    def __init__(self, fn, params, complete):
        self.fn, self.params, self.complete = fn, params, complete

    def call(self, id_, meta, body, out):
        m = json.loads(meta) if meta else {}
        batch_id = m.get("rid", str(id_))
        request_ctx.rid = batch_id
        try:
            if m.get("m") == COMPLETE:
                result = self.complete() if self.complete is not None else None
            else:
                kw = {"payload": json.loads(body), "batch_id": batch_id}
                result = self.fn(**{k: kw[k] for k in self.params})
            data = json.dumps(result, default=str).encode()
        except Exception:
            log("error", traceback.format_exc().rstrip())
            respond(out, id_, 500, JSON, b"", error_body(PREDICT_FAILED))
            return None
        respond(out, id_, 200, JSON, b"", data)
        return None
