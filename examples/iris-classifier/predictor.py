import os
import pickle

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


class PythonPredictor:
    def __init__(self, config):
        # config["model"] is relative to this file's folder.
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), config["model"])
        with open(path, "rb") as f:
            bundle = pickle.load(f)
        self.model = bundle["model"]
        self.labels = bundle["labels"]

    def predict(self, payload):
        measurements = [[float(payload[name]) for name in FEATURES]]
        label_id = int(self.model.predict(measurements)[0])
        return self.labels[label_id]
