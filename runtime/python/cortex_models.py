"""predictor.models for the Python worker host: finding models and their versions on disk,
loading them, reloading them when their folders change, and the LRU cache of cache_size.
Cortex 0.20-0.25's model_path / models / multi_model_reloading (docs: docs/models.md).

A model source is one of predictor.models' path, paths[].path or dir[/name]. resolve_source is
the one place that turns a source into a local path. Storage URIs (s3://, gs://, https://, hf://,
pvc://) are downloaded by the replica's front before any worker starts (runtime/storage/), which
hands the workers local paths: one reaching a worker was not prepared.
A model's versions are its integer subfolders (the highest is "latest"); a model without
any is version "1", made of the source's own files.

Without cache_size, every version found is loaded before the worker is ready, and a poller
thread loads new or changed versions (a version is swapped in only once loaded: one that fails
keeps the old one serving, with the reason in the logs, and is retried when its files change).
With cache_size, nothing is loaded up front: get() loads a model when it is first asked for and
unloads the least recently used one beyond cache_size.

Standard library only: the loaders (the predictor's load_model, cortex_onnx's) bring the rest.
"""

import inspect
import os
import re
import threading
import time
import traceback
from collections import OrderedDict

from cortex_handler import PredictorError
from cortex_logging import log
from cortex_metrics import MetricsClient, model_reload_failing
from cortex_payload import ClientError

STORAGE_URI = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
SINGLE = None  # the key of models.path's one model: get_model() needs no name for it
DEFAULT_INTERVAL_S = 10.0


class ModelConfigError(PredictorError):
    """predictor.models cannot be served as written: the worker does not start; shown as is."""


class ModelError(ClientError):
    """A request asked for a model that cannot be served: answered with `status` and the message."""

    def __init__(self, message, status=404):
        super().__init__(message, status)


def resolve_source(source, project_dir, field):
    """A model source → a local path (relative sources start at the project folder)."""
    if STORAGE_URI.match(source):
        raise ModelConfigError(
            f"{field}: {source} was not downloaded before the worker started;"
            " start the predictor with `cortex serve` (runtime/storage downloads storage URIs)"
        )
    return os.path.normpath(source if os.path.isabs(source) else os.path.join(project_dir or ".", source))


def signature(path):
    """What changes when a model's files change: each file's path, size and mtime."""
    if os.path.isfile(path):
        st = os.stat(path)
        return ((os.path.basename(path), st.st_size, st.st_mtime_ns),)
    out = []
    for root, dirs, files in os.walk(path):
        dirs.sort()
        for name in sorted(files):
            full = os.path.join(root, name)
            try:
                st = os.stat(full)
            except OSError:  # removed while we looked: the next poll sees the rest
                continue
            out.append((os.path.relpath(full, path), st.st_size, st.st_mtime_ns))
    return tuple(out)


def scan_versions(path):
    """{version: (version path, signature)} of one model source; raises ModelConfigError when unusable."""
    if os.path.isfile(path):
        return {"1": (path, signature(path))}
    if not os.path.isdir(path):
        raise ModelConfigError(f"not found: {path}")
    entries = [e for e in os.listdir(path) if not e.startswith(".")]
    versions = [e for e in entries if e.isdigit() and os.path.isdir(os.path.join(path, e))]
    if versions:
        return {v: (os.path.join(path, v), signature(os.path.join(path, v))) for v in versions}
    if any(os.path.isfile(os.path.join(path, e)) for e in entries):
        return {"1": (path, signature(path))}
    raise ModelConfigError(
        f"{path} has no model files and no integer version folders (1/, 2/...): put the model's files there,"
        " or each version in a folder named after its number"
    )


def by_version(v):
    return int(v)


class ModelRegistry:
    """The models of one predictor process. `loader(path)` → the model; thread-safe."""

    def __init__(self, models, project_dir, api, loader=None):
        self.api = api
        self.loader = loader
        self.cache_size = models.get("cacheSize")
        self.interval = float(models.get("reloadIntervalSeconds") or DEFAULT_INTERVAL_S)
        self.sources = {}  # name → local path (for dir: the folder of models)
        self.dir = None
        if models.get("path") is not None:
            self.sources[SINGLE] = resolve_source(models["path"], project_dir, "predictor.models.path")
        elif models.get("paths"):
            for i, m in enumerate(models["paths"]):
                if m["name"] in self.sources:
                    raise ModelConfigError(f"predictor.models.paths: model name {m['name']!r} is used twice")
                self.sources[m["name"]] = resolve_source(m["path"], project_dir, f"predictor.models.paths[{i}].path")
        elif models.get("dir") is not None:
            self.dir = resolve_source(models["dir"], project_dir, "predictor.models.dir")
        else:
            raise ModelConfigError("predictor.models names no model: set path, paths or dir")
        self.lock = threading.Lock()
        self.tree = {}  # name → {version: (path, signature)}: what is on disk
        self.loaded = OrderedDict()  # (name, version) → (signature, model), least recently used first
        self.failed = {}  # (name, version) → signature that failed to load: not retried until it changes
        self.loading = {}  # (name, version) → Lock, so two threads never load the same model twice
        self.stopped = threading.Event()

    # --- what is on disk
    def scan(self, strict):
        """The tree of models on disk. strict (at start): a problem is an error; later: logged, model skipped."""
        sources = dict(self.sources)
        if self.dir is not None:
            if not os.path.isdir(self.dir):
                if strict:
                    raise ModelConfigError(f"predictor.models.dir: folder not found: {self.dir}")
                log("warning", f"predictor.models.dir {self.dir} is gone: the models loaded so far keep serving")
                return self.tree
            for name in sorted(os.listdir(self.dir)):
                if not name.startswith(".") and os.path.isdir(os.path.join(self.dir, name)):
                    sources[name] = os.path.join(self.dir, name)
        tree = {}
        for name, path in sources.items():
            try:
                tree[name] = scan_versions(path)
            except (ModelConfigError, OSError) as e:
                where = f"model {name!r}" if name is not SINGLE else "predictor.models.path"
                if strict:
                    raise ModelConfigError(f"{where}: {e}") from None
                log("warning", f"{where} is not served until this is fixed: {e}")
        return tree

    # --- start and the poller
    def start(self):
        """Reads the tree; without cache_size loads every version. Then watches for changes."""
        tree = self.scan(strict=True)
        with self.lock:
            self.tree = tree
        if self.cache_size is None:
            for name, versions in tree.items():
                for version, (path, sig) in sorted(versions.items(), key=lambda kv: by_version(kv[0])):
                    self.loaded[(name, version)] = (sig, self.load(name, version, path))
        log("info", f"models ready: {self.describe()}")
        threading.Thread(target=self.poll, name="cortex-models", daemon=True).start()

    def poll(self):
        while not self.stopped.wait(self.interval):
            try:
                self.refresh()
            except Exception:  # a bug here must not end the worker: the old models keep serving
                log("error", "model reloading failed: " + traceback.format_exc().rstrip())

    def refresh(self):
        """One look at the disk: drops removed versions, (re)loads new and changed ones."""
        tree = self.scan(strict=False)
        with self.lock:
            self.tree = tree
            for key in [k for k in self.loaded if k[1] not in tree.get(k[0], {})]:
                del self.loaded[key]
                log("info", f"{self.name_of(key)} was removed from disk: unloaded")
            changed = [
                (key, path, sig)
                for name, versions in tree.items()
                for version, (path, sig) in versions.items()
                for key in [(name, version)]
                if self.failed.get(key) != sig
                and (
                    (key in self.loaded and self.loaded[key][0] != sig)
                    or (key not in self.loaded and self.cache_size is None)
                )
            ]
            if self.cache_size is not None:  # changed ones are loaded again when next asked for
                for key, _, _ in changed:
                    del self.loaded[key]
                return
        for key, path, sig in sorted(changed, key=lambda c: by_version(c[0][1])):
            try:
                model = self.load(*key, path)
            except Exception:
                with self.lock:
                    self.failed[key] = sig
                model_reload_failing(self.label_of(key[0]), True)
                continue  # load() logged why; the version served so far stays
            with self.lock:
                self.loaded[key] = (sig, model)
                self.failed.pop(key, None)
            log("info", f"{self.name_of(key)} loaded and now served")
            model_reload_failing(self.label_of(key[0]), False)

    def load(self, name, version, path):
        started = time.perf_counter()
        try:
            model = self.loader(path)
        except Exception as e:
            log(
                "error",
                f"{self.name_of((name, version))} failed to load from {path}: " + traceback.format_exc().rstrip(),
            )
            raise ModelError(f"{self.name_of((name, version))} failed to load: {type(e).__name__}: {e}", 500) from e
        log("info", f"loaded {self.name_of((name, version))} from {path} in {time.perf_counter() - started:.2f} s")
        return model

    # --- requests
    def get(self, name=None, version=None):
        """The loaded model `name` (version: None or "latest" → the highest); ModelError when there is none."""
        with self.lock:
            if name is None and SINGLE not in self.tree and SINGLE not in self.sources:
                raise ModelError(f"model_name was not specified; available models: {self.names()}", 400)
            key_name = SINGLE if name is None or SINGLE in self.sources else str(name)
            versions = self.tree.get(key_name)
            if versions is None and key_name is SINGLE:
                raise ModelError(f"the model of predictor.models.path is not on disk: {self.sources[SINGLE]}", 503)
            if versions is None:
                raise ModelError(f"model {name!r} was not found; available models: {self.names()}")
            if version is None or version == "latest":
                if self.cache_size is None:
                    candidates = [v for v in versions if (key_name, v) in self.loaded]
                else:
                    candidates = [v for v, (_, sig) in versions.items() if self.failed.get((key_name, v)) != sig]
                if not candidates:
                    raise ModelError(
                        f"{self.name_of((key_name, None))} has no version that loaded"
                        " (the reasons are in the API's logs)",
                        503,
                    )
                version = max(candidates, key=by_version)
            version = str(version)
            if version not in versions:
                raise ModelError(
                    f"{self.name_of((key_name, None))} has no version {version!r};"
                    f" available versions: {', '.join(sorted(versions, key=by_version))}"
                )
            key = (key_name, version)
            hit = self.loaded.get(key)
            if hit is not None:
                self.loaded.move_to_end(key)
                return hit[1]
            path, sig = versions[version]
            if self.cache_size is None or self.failed.get(key) == sig:  # tried again once its files change
                raise ModelError(f"{self.name_of(key)} failed to load (the reason is in the API's logs)", 503)
            gate = self.loading.setdefault(key, threading.Lock())
        with gate:  # outside the registry's lock: other models are served while this one loads
            with self.lock:
                hit = self.loaded.get(key)
                if hit is not None:
                    self.loaded.move_to_end(key)
                    return hit[1]
            try:
                model = self.load(*key, path)
            except ModelError:  # its text may hold what a client must not see: load() logged it
                with self.lock:
                    self.failed[key] = sig
                raise ModelError(f"{self.name_of(key)} failed to load (the reason is in the API's logs)", 503) from None
            with self.lock:
                self.loaded[key] = (sig, model)
                self.failed.pop(key, None)
                while len(self.loaded) > self.cache_size:
                    evicted, _ = self.loaded.popitem(last=False)
                    log("info", f"{self.name_of(evicted)} unloaded: cache_size is {self.cache_size}")
                return model

    # --- words
    def names(self):
        return ", ".join(sorted(n for n in self.tree if n is not SINGLE)) or "none"

    def label_of(self, name):
        """The model label of the runtime's metrics: the name, (path) for predictor.models.path."""
        return "(path)" if name is SINGLE else str(name)

    def name_of(self, key):
        name, version = key
        label = "the model" if name is SINGLE else f"model {name!r}"
        return label if version is None else f"{label} version {version}"

    def describe(self):
        with self.lock:
            parts = [
                f"{'(path)' if n is SINGLE else n} [{', '.join(sorted(vs, key=by_version))}]"
                for n, vs in self.tree.items()
            ]
        cached = f"; loaded on demand, at most {self.cache_size} at once" if self.cache_size is not None else ""
        return (", ".join(parts) or "none yet") + cached


class PythonClient:
    """Cortex's python_client: get_model returns what the predictor's load_model returned."""

    def __init__(self, registry):
        self._registry = registry

    def get_model(self, model_name=None, model_version="latest"):
        return self._registry.get(model_name, model_version)


# predictor.type → the class the predictor file defines, and the client its __init__ is given;
# "handler": Cortex 0.34-0.35's Handler class of a python predictor, given a model_client
CLASSES = {"python": "PythonPredictor", "onnx": "ONNXPredictor", "handler": "Handler"}
CLIENTS = {"python": "python_client", "onnx": "onnx_client", "handler": "model_client"}


def start_registry(registry):
    try:
        registry.start()
    except ModelError as e:  # a model that fails to load at start: the worker does not start
        raise ModelConfigError(str(e)) from e


def config_with_model_paths(cfg):
    """predictor.config with the models' local paths (a storage URI already downloaded by the
    replica, a project path made absolute) under model_path, model_paths ({name: path}) and
    model_dir, for a predictor that opens its model files itself (docs/models.md). A key the user's
    config already has keeps the user's value."""
    config = dict(cfg.get("config") or {})
    models, project_dir = cfg.get("models"), cfg.get("project_dir")
    if not models:
        return config
    paths = {}
    if models.get("path") is not None:
        paths["model_path"] = resolve_source(models["path"], project_dir, "predictor.models.path")
    if models.get("paths"):
        paths["model_paths"] = {
            m["name"]: resolve_source(m["path"], project_dir, f"predictor.models.paths[{i}].path")
            for i, m in enumerate(models["paths"])
        }
    if models.get("dir") is not None:
        paths["model_dir"] = resolve_source(models["dir"], project_dir, "predictor.models.dir")
    for key, value in paths.items():
        if key in config:
            log("warning", f"predictor.config.{key} is set, so the runtime does not put the model's local path there")
        else:
            config[key] = value
    return config


def build_predictor(cls, path, cfg, kind=None, extra=None):
    """The predictor instance: its models loaded (or their cache set up) and its client handed over.
    kind: a key of CLASSES (default: predictor.type). extra: more constructor arguments, each given
    when __init__ declares it (a gRPC API's proto_module_pb2: cortex_grpc.py)."""
    ptype = kind or cfg.get("predictor_type") or "python"
    models, client_arg, cls_name = cfg.get("models"), CLIENTS[ptype], CLASSES[ptype]
    params = dict(inspect.signature(cls.__init__).parameters)
    params.pop("self", None)
    # Cortex 0.30-0.35's custom metrics: given to any class that declares it
    metrics = {"metrics_client": MetricsClient()} if "metrics_client" in params else {}
    metrics.update({k: v for k, v in (extra or {}).items() if k in params})
    if not models:
        if client_arg in params and params[client_arg].default is inspect.Parameter.empty:
            raise PredictorError(
                f"{cls_name}.__init__ in {path} takes {client_arg}, which serves the models of predictor.models;"
                " add predictor.models (or multi_model_reloading) to cortex.yaml, or remove the parameter"
            )
        return cls(cfg.get("config") or {}, **metrics)
    config = config_with_model_paths(cfg)
    if client_arg not in params and ptype == "python" and not callable(getattr(cls, "load_model", None)):
        # no client and no load_model: it opens the files at config["model_path"]... itself (no reloading)
        return cls(config, **metrics)
    if client_arg not in params:
        raise PredictorError(
            f"{cls_name}.__init__ in {path} does not take {client_arg}, through which it gets the models of"
            f" predictor.models: write def __init__(self, config, {client_arg})"
            + (" (or drop load_model and open the files at config['model_path'] yourself)" if ptype == "python" else "")
        )
    if ptype != "onnx" and not callable(getattr(cls, "load_model", None)):
        raise PredictorError(
            f"{cls_name} in {path} has no load_model(self, model_path) method: with predictor.models"
            " (multi_model_reloading) the runtime calls it to load each model version, and python_client.get_model()"
            " returns what it returned"
        )
    kwargs = {k: v for k, v in {"config": config}.items() if k in params}
    kwargs.update(metrics)
    unknown = [
        n
        for n, p in params.items()
        if n not in ("config", client_arg, "metrics_client", *(extra or {}))
        and p.default is p.empty
        and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    if unknown:
        raise PredictorError(
            f"{cls_name}.__init__ in {path} has an unsupported parameter {unknown[0]!r}"
            f" (allowed: config, {client_arg}, metrics_client)"
        )
    registry = ModelRegistry(models, cfg.get("project_dir"), cfg.get("api"))
    if ptype == "onnx":
        from cortex_onnx import ONNXClient, load_onnx

        registry.loader = load_onnx
        start_registry(registry)  # before __init__, which may read signatures with onnx_client.get_model()
        kwargs[client_arg] = ONNXClient(registry)
        return cls(**kwargs)
    kwargs[client_arg] = PythonClient(registry)  # Cortex 0.34's model_client is the same client
    predictor = cls(**kwargs)
    registry.loader = predictor.load_model
    start_registry(registry)
    return predictor
