"""Train the iris classifier and write model.pkl next to this file.

Uses scikit-learn's bundled iris dataset (no download). Run:
    python3 -m venv .venv && .venv/bin/pip install -r requirements.txt
    .venv/bin/python train.py
"""

import pickle
from pathlib import Path

from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split


def main() -> None:
    iris = load_iris()
    x_train, x_test, y_train, y_test = train_test_split(
        iris.data, iris.target, test_size=0.2, random_state=0, stratify=iris.target
    )
    model = LogisticRegression(max_iter=1000)
    model.fit(x_train, y_train)
    print(f"test accuracy: {model.score(x_test, y_test):.3f}")

    # Store the class names with the model so the predictor needs nothing else.
    bundle = {"model": model, "labels": [str(name) for name in iris.target_names]}
    out = Path(__file__).resolve().parent / "model.pkl"
    with out.open("wb") as f:
        pickle.dump(bundle, f)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
