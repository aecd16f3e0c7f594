# What every peer's adapter shares: the same model.onnx, loaded the same way as the cortex
# fixture's predictor.py (onnxruntime, one intra-op thread), so only the serving differs.
import os

import numpy as np
import onnxruntime as ort

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL = os.path.join(HERE, "..", "fixtures", "onnx-mlp", "model.onnx")
# Every peer's batch limits, the same as cortex.yaml's onnx-mlp-batching API.
MAX_BATCH_SIZE = 16
BATCH_WAIT_S = 0.002


def load_session():
    options = ort.SessionOptions()
    # One thread per call: the server's own concurrency uses the cores, not onnxruntime's pool.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return ort.InferenceSession(MODEL, options, providers=["CPUExecutionProvider"])


def run(session, rows):
    """Labels (int64 [n]) and probabilities (float32 [n, 10]) for rows of 128 features."""
    labels, probabilities = session.run(None, {"input": np.asarray(rows, dtype=np.float32)})
    return labels, probabilities


def answers(session, rows):
    labels, probabilities = run(session, rows)
    return [{"label": int(label), "probabilities": p.tolist()} for label, p in zip(labels, probabilities, strict=True)]


def port_from_argv(argv):
    """The port the harness passes as the first argument."""
    return int(argv[1])
