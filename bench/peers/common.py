# What every peer's adapter shares: the same model.onnx, loaded and run by the cortex fixture's
# own predictor.py functions (onnxruntime, one intra-op thread), so only the serving differs.
import importlib.util
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "..", "fixtures", "onnx-mlp")
MODEL = os.path.join(FIXTURE, "model.onnx")
# Every peer's batch limits, the same as cortex.yaml's onnx-mlp-batching API.
MAX_BATCH_SIZE = 16
BATCH_WAIT_S = 0.002


_spec = importlib.util.spec_from_file_location("onnx_mlp_predictor", os.path.join(FIXTURE, "predictor.py"))
_predictor = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_predictor)
answers = _predictor.answers


def load_session():
    return _predictor.load_session(MODEL)


def run(session, rows):
    """Labels (int64 [n]) and probabilities (float32 [n, 10]) for rows of 128 features."""
    labels, probabilities = session.run(None, {"input": np.asarray(rows, dtype=np.float32)})
    return labels, probabilities


def port_from_argv(argv):
    """The port the harness passes as the first argument."""
    return int(argv[1])
