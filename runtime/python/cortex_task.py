"""A TaskAPI's run (Cortex 0.28-0.35): `Task()(config)` from the file the API names, once.
Spawned as `python3 -u cortex_task.py` with CORTEX_TASK_CONFIG (JSON: api, project_dir, task_path
(absolute), config, python_path, log_level, job_id); logs are JSON lines on fd 1 as the worker
host's (cortex_logging.py), each with the job id as request_id. Exits 0 when __call__ returned,
1 when it raised (the traceback is logged), 2 when the file has no usable Task class.
Standard library only.
"""

import importlib.util
import inspect
import json
import os
import sys
import traceback

from cortex_logging import log, request_ctx, setup_logging


def main():
    cfg = json.loads(os.environ["CORTEX_TASK_CONFIG"])
    setup_logging(cfg)
    request_ctx.rid = cfg.get("job_id")
    path = cfg["task_path"]
    for root in reversed([os.path.dirname(path), cfg.get("project_dir"), *(cfg.get("python_path") or [])]):
        if root:
            sys.path.insert(0, root)
    if cfg.get("project_dir") and os.path.isdir(cfg["project_dir"]):
        os.chdir(cfg["project_dir"])
    try:
        spec = importlib.util.spec_from_file_location("cortex_task_module", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    except Exception:
        log("error", f"could not load {path}: " + traceback.format_exc().rstrip())
        return 2
    cls = getattr(module, "Task", None)
    # instances must be callable: the class (or a base other than object) defines __call__
    if not inspect.isclass(cls) or not any("__call__" in vars(k) for k in cls.__mro__[:-1]):
        log("error", f"{path} defines no class Task with __call__(self, config)")
        return 2
    try:
        cls()(cfg.get("config") or {})
    except Exception:
        log("error", traceback.format_exc().rstrip())
        return 1
    log("info", "the task finished")
    return 0


if __name__ == "__main__":
    sys.stdout.flush()
    sys.exit(main())
