# PyTriton's documented form: an @batch infer function bound to Triton Inference Server with
# dynamic batching (max_batch_size, max_queue_delay), answering the KServe v2 protocol:
# POST /v2/models/onnx_mlp/infer with {"inputs": [{"name": "input", "shape": [1, 128], ...}]}.
# Usage: python pytriton_model.py HTTP_PORT GRPC_PORT METRICS_PORT.
import sys

import numpy as np
from common import BATCH_WAIT_S, MAX_BATCH_SIZE, load_session, port_from_argv, run
from pytriton.decorators import batch
from pytriton.model_config import DynamicBatcher, ModelConfig, Tensor
from pytriton.triton import Triton, TritonConfig

session = load_session()


@batch
def infer(input):  # noqa: A002 - the tensor's name in the model
    labels, probabilities = run(session, input)
    return {"label": labels.reshape(-1, 1), "probabilities": probabilities}


if __name__ == "__main__":
    config = TritonConfig(
        http_address="127.0.0.1",
        http_port=port_from_argv(sys.argv),
        grpc_port=int(sys.argv[2]),
        metrics_port=int(sys.argv[3]),
    )
    with Triton(config=config) as triton:
        triton.bind(
            model_name="onnx_mlp",
            infer_func=infer,
            inputs=[Tensor(name="input", dtype=np.float32, shape=(128,))],
            outputs=[
                Tensor(name="label", dtype=np.int64, shape=(1,)),
                Tensor(name="probabilities", dtype=np.float32, shape=(10,)),
            ],
            config=ModelConfig(
                max_batch_size=MAX_BATCH_SIZE,
                batcher=DynamicBatcher(max_queue_delay_microseconds=int(BATCH_WAIT_S * 1e6)),
            ),
        )
        triton.serve()
