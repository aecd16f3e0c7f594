# A predictor whose requirements.txt is heavy enough to show what installing it costs a replica:
# scikit-learn (with numpy and scipy). It trains a small model on data it generates, so the
# benchmark needs no model download.
import numpy as np
from sklearn.linear_model import LogisticRegression


class PythonPredictor:
    def __init__(self, config):
        rng = np.random.default_rng(0)
        x = rng.normal(size=(200, 4))
        y = (x[:, 0] + x[:, 1] > 0).astype(int)
        self.model = LogisticRegression().fit(x, y)

    def predict(self, payload):
        features = np.asarray(payload["features"], dtype=float).reshape(1, -1)
        return {"label": int(self.model.predict(features)[0])}
