# KServe's documented Python ModelServer form: a kserve.Model subclass started with
# kserve.ModelServer().start, answering the v1 protocol: POST /v1/models/onnx-mlp:predict with
# {"instances": [[128 floats]]} -> {"predictions": [...]}. The Python ModelServer has no
# server-side batching (KServe batches in its Go agent sidecar, a cluster component), so this
# peer runs unbatched. Usage: python kserve_model.py PORT GRPC_PORT.
import sys

import kserve
from common import answers, load_session, port_from_argv


class OnnxMlp(kserve.Model):
    def __init__(self, name):
        super().__init__(name)
        self.load()

    def load(self):
        self.session = load_session()
        self.ready = True

    def predict(self, payload, headers=None):
        return {"predictions": answers(self.session, payload["instances"])}


if __name__ == "__main__":
    # One worker process: every peer gets about one core (the load generator has the other).
    server = kserve.ModelServer(http_port=port_from_argv(sys.argv), grpc_port=int(sys.argv[2]), workers=1)
    server.start([OnnxMlp("onnx-mlp")])
