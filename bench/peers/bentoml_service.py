# BentoML's documented form (1.2+ services): a @bentoml.service class whose @bentoml.api is
# batchable, so BentoML's adaptive batcher groups concurrent requests into one predict call.
# Served with `bentoml serve bentoml_service:OnnxMlp --working-dir bench/peers`.
# Request: {"features": [[128 floats]]} (a batchable API takes a batch; one row per request).
import bentoml
import numpy as np
from common import MAX_BATCH_SIZE, answers, load_session


# One worker process: every peer gets about one core (the load generator has the other).
@bentoml.service(workers=1)
class OnnxMlp:
    def __init__(self):
        self.session = load_session()

    # max_latency_ms is BentoML's latency budget for the adaptive batcher (how long a request may
    # wait in a batch): generous, like its default, so the batcher is free to decide.
    @bentoml.api(batchable=True, batch_dim=0, max_batch_size=MAX_BATCH_SIZE, max_latency_ms=1000)
    def predict(self, features: np.ndarray) -> list[dict]:
        return answers(self.session, features)
