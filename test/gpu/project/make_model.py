"""The GPU test's model: a small MLP with seeded weights, made here (no downloads).

`python make_model.py OUT` writes its state dict; `python make_model.py OUT --check FILE` also
prints the classes the CPU computes for the inputs in FILE (a JSON list of feature lists), the
reference the GPU's answers are compared with.
"""

import json
import sys

import torch

FEATURES = 512
HIDDEN = 2048
CLASSES = 16


def build():
    return torch.nn.Sequential(
        torch.nn.Linear(FEATURES, HIDDEN),
        torch.nn.ReLU(),
        torch.nn.Linear(HIDDEN, HIDDEN),
        torch.nn.ReLU(),
        torch.nn.Linear(HIDDEN, CLASSES),
    )


if __name__ == "__main__":
    torch.manual_seed(0)
    model = build()
    torch.save(model.state_dict(), sys.argv[1])
    if len(sys.argv) > 3 and sys.argv[2] == "--check":
        with open(sys.argv[3]) as f:
            inputs = torch.tensor(json.load(f), dtype=torch.float32)
        with torch.inference_mode():
            print(json.dumps(model(inputs).argmax(dim=1).tolist()))
