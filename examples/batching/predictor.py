"""Server-side batching: predict receives a list of payloads and returns a list.

The "model" is a linear model over 4 features, evaluated for the whole batch at once
(plain Python, no numpy). Each answer carries the size of the batch it was computed in,
so a client (or a test) can see requests being grouped under load.
"""


class PythonPredictor:
    def __init__(self, config):
        self.weights = [float(w) for w in config.get("weights", [0.5, -0.25, 1.0, 2.0])]
        self.bias = float(config.get("bias", 0.1))

    def predict(self, payload):
        # payload is a list: one item per request in this batch, in arrival order.
        rows = [item["features"] for item in payload]
        columns = list(zip(*rows, strict=False)) if rows else []
        scores = [self.bias] * len(rows)
        for weight, column in zip(self.weights, columns, strict=False):
            scores = [s + weight * x for s, x in zip(scores, column, strict=True)]
        batch_size = len(payload)
        return [{"score": round(s, 6), "batch_size": batch_size} for s in scores]
