# LitServe's documented form: a LitAPI with max_batch_size/batch_timeout, so LitServe's worker
# groups concurrent requests into one predict call. One inference worker and one API server
# process (every peer gets about one core). Usage: python litserve_api.py PORT.
# Request: {"features": [128 floats]} on /predict.
import sys

import litserve as ls
from common import BATCH_WAIT_S, MAX_BATCH_SIZE, answers, load_session, port_from_argv


class OnnxMlp(ls.LitAPI):
    def setup(self, device):
        self.session = load_session()

    def decode_request(self, request):
        return request["features"]

    def batch(self, inputs):
        return inputs

    def predict(self, rows):
        return answers(self.session, rows)

    def unbatch(self, output):
        return output

    def encode_response(self, output):
        return output


if __name__ == "__main__":
    api = OnnxMlp(max_batch_size=MAX_BATCH_SIZE, batch_timeout=BATCH_WAIT_S)
    server = ls.LitServer(api, accelerator="cpu", workers_per_device=1)
    server.run(host="127.0.0.1", port=port_from_argv(sys.argv), generate_client_file=False)
