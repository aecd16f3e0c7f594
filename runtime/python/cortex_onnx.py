"""Cortex's onnx predictor type: the onnx_client handed to ONNXPredictor.__init__, which runs the
models of predictor.models with ONNX Runtime in this process (Cortex 0.20-0.25 did the same in
its onnx image). onnxruntime and numpy are installed for type onnx by runtime/deps.ts."""

from cortex_models import ModelError

# ONNX Runtime's input types → numpy dtypes (what an input is converted to before run)
ONNX_TO_NUMPY = {
    "tensor(float16)": "float16",
    "tensor(float)": "float32",
    "tensor(double)": "float64",
    "tensor(int8)": "int8",
    "tensor(int16)": "int16",
    "tensor(int32)": "int32",
    "tensor(int64)": "int64",
    "tensor(uint8)": "uint8",
    "tensor(uint16)": "uint16",
    "tensor(uint32)": "uint32",
    "tensor(uint64)": "uint64",
    "tensor(bool)": "bool",
    "tensor(string)": "object",
}

MISSING = (
    "the onnx predictor type needs onnxruntime and numpy in the worker's Python ({error}); the runtime installs"
    " them for type onnx: if requirements.txt pins other versions, make sure they install on this Python"
)


def load_onnx(path):
    """A model version (a folder with one .onnx file, or the file) → Cortex's model dict."""
    import os

    try:
        import numpy  # noqa: F401  (transform_input needs it; say so now, not at the first request)
        import onnxruntime
    except ImportError as e:
        raise RuntimeError(MISSING.format(error=e)) from None
    if os.path.isdir(path):
        files = sorted(f for f in os.listdir(path) if f.endswith(".onnx"))
        if len(files) != 1:
            found = ", ".join(files) if files else "none"
            raise ValueError(f"an onnx model folder must hold exactly one .onnx file ({path} has {found})")
        path = os.path.join(path, files[0])
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    inputs = session.get_inputs()
    return {
        "session": session,
        "signatures": inputs,
        "input_signatures": {i.name: {"shape": i.shape, "type": ONNX_TO_NUMPY.get(i.type, i.type)} for i in inputs},
    }


def transform_input(value, meta, model):
    """One input → the numpy array the model's signature asks for; ModelError (400) when it cannot be."""
    import numpy as np

    dtype = ONNX_TO_NUMPY.get(meta.type, meta.type)
    # symbolic dimensions (batch) become -1; numpy can infer one of them
    shape = [d if isinstance(d, int) else -1 for d in meta.shape]
    try:
        arr = value if isinstance(value, np.ndarray) else np.array(value, dtype=dtype)
        if str(arr.dtype) != dtype:
            arr = arr.astype(dtype)
        if shape.count(-1) <= 1:
            arr = arr.reshape(shape)
        return arr
    except (ValueError, TypeError) as e:
        raise ModelError(
            f"input {meta.name!r} of {model} does not fit its signature {shape} {dtype}: {e}", 400
        ) from None


def to_feed(model_input, inputs, model):
    """model_input → {input name: array}: a dict keyed by input names, or the value of a model's one input."""
    if len(inputs) == 1 and not isinstance(model_input, dict):
        return {inputs[0].name: transform_input(model_input, inputs[0], model)}
    if not isinstance(model_input, dict):
        names = ", ".join(repr(i.name) for i in inputs)
        raise ModelError(f"{model} has several inputs: send an object with the keys {names}", 400)
    missing = [i.name for i in inputs if model_input.get(i.name) is None]
    if missing:
        also = " (or send the input's value itself)" if len(inputs) == 1 else ""
        raise ModelError(f"missing key {missing[0]!r} for {model}: send an object with its inputs{also}", 400)
    return {i.name: transform_input(model_input[i.name], i, model) for i in inputs}


class ONNXClient:
    """Cortex's onnx_client: predict runs a model on an input; get_model returns its session and signatures."""

    def __init__(self, registry):
        self._registry = registry

    def get_model(self, model_name=None, model_version="latest"):
        return self._registry.get(model_name, model_version)

    def predict(self, model_input, model_name=None, model_version="latest"):
        """The model's outputs (a list of numpy arrays, in the model's output order), as Cortex returned them."""
        model = self._registry.get(model_name, model_version)
        label = "the model" if model_name is None else f"model {model_name!r}"
        return model["session"].run(None, to_feed(model_input, model["signatures"], label))
