"""The GPU test's predictor: a torch MLP made by make_model.py, loaded onto the GPU in __init__.

config:
  device: "cuda" (default: cuda when torch sees one, else cpu) or "cpu"
  model: the state dict make_model.py wrote (default: model.pt beside this file)
  oom_on_init: allocate far more than the device has in __init__ (the init must fail clearly)
  oom_when_flag: do the same while this file exists, removing it, so that the start after the
      failed one succeeds (the restart test)

A payload {"features": [...]} is classified; {"allocate_gib": N} allocates N GiB on the model's
device first (the predict-time out-of-memory test). Each answer says where it ran: the model's
device, this process's pid and the GPU memory torch holds in it.
"""

import os

import torch

from make_model import build


class PythonPredictor:
    def __init__(self, config):
        wanted = config.get("device") or ("cuda" if torch.cuda.is_available() else "cpu")
        self.device = torch.device(wanted)
        flag = config.get("oom_when_flag")
        if config.get("oom_on_init") or (flag is not None and os.path.exists(flag)):
            if flag is not None:
                os.remove(flag)
            total = torch.cuda.get_device_properties(self.device).total_memory
            torch.empty(total * 2, dtype=torch.uint8, device=self.device)
        here = os.path.dirname(os.path.abspath(__file__))
        model = build()
        model.load_state_dict(torch.load(config.get("model", os.path.join(here, "model.pt"))))
        self.model = model.to(self.device).eval()
        self.pid = os.getpid()

    def _where(self):
        held = torch.cuda.memory_reserved(self.device) if self.device.type == "cuda" else 0
        return {"device": str(next(self.model.parameters()).device), "pid": self.pid, "gpu_bytes": held}

    @torch.inference_mode()
    def predict(self, payload):
        # With server-side batching the payload is a list (one item per request).
        items = payload if isinstance(payload, list) else [payload]
        for item in items:
            if "allocate_gib" in item:
                torch.empty(int(item["allocate_gib"] * 2**30), dtype=torch.uint8, device=self.device)
        x = torch.tensor([item["features"] for item in items], dtype=torch.float32, device=self.device)
        logits = self.model(x)
        classes = logits.argmax(dim=1).tolist()
        where = self._where()
        answers = [{"class": c, "batch_size": len(items), **where} for c in classes]
        return answers if isinstance(payload, list) else answers[0]
