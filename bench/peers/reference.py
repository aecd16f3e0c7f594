# Prints onnxruntime's own answer for sample.json: what every server must answer (label equal,
# probabilities within 1e-5). Run with any peer's Python; all pin the same onnxruntime.
import json
import os
import sys

from common import HERE, answers, load_session

with open(os.path.join(HERE, "..", "fixtures", "onnx-mlp", "sample.json")) as f:
    sample = json.load(f)
json.dump(answers(load_session(), [sample["features"]])[0], sys.stdout)
