"""One run, in the process that calls it (a worker's, usually): load the dataset split it needs
(once per process), fit and predict the method, score it, and build its record.

The executors (local workers, inline, Ray) import this module only, never the suite runner that
plans and claims runs, so the arrows go one way: suite_runner -> executors -> execute.
"""
from __future__ import annotations

import datetime as dt
import random
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.core import environment as env
from bench.core import identity
from bench.core.dataset import LoadContext
from bench.core.method import FitContext
from bench.core.metric_info import recorded
from bench.core.metrics import METRICS, get_metric, score
from bench.data.artifacts import ArtifactCache
from bench.core.spec import RunRecord, RunSpec
from bench.core.task import LABEL_KINDS, Task
from bench.results.history import training_info
from bench.plugins.registry import Origin, Registry
from bench.run import limits


@dataclass
class RunOptions:
    data_dir: Path
    cache_dir: Path
    device: str = "cpu"
    force: bool = False
    timeout: float | None = None  # from the command line: beats the suite's limits
    memory_limit_mb: float | None = None
    jobs: int = 1
    executor: str = "local"  # local (worker processes) | inline (this process, no isolation) | ray
    address: str | None = None  # Ray cluster address; None starts a local instance
    show_progress: bool = True
    command: str = ""
    device_label: str = ""  # what the record says, e.g. cuda:3 for a worker that sees only GPU 3
    threads: int | None = None  # CPU threads every run uses (torch, OpenMP, BLAS); None: the default

    def __post_init__(self) -> None:
        if self.threads is None:
            self.threads = env.default_threads()


@dataclass
class Job:
    """One run to execute, with what the parent needs to record its failure without the worker."""

    spec: RunSpec
    key: str
    meta: TaskMeta
    method_origin: Origin
    dataset_origin: Origin
    timeout: float | None = None
    memory_limit_mb: float | None = None


@dataclass
class Outcome:
    spec: RunSpec
    status: str  # a record status (ok | failed | timeout | oom | crashed) or cached | skipped | n/a
    message: str = ""
    record: RunRecord | None = None


_TASKS: dict[tuple, Task] = {}


def load_task(registry: Registry, spec: RunSpec, data_dir: Path, cache_dir: Path) -> Task:
    """Load a dataset split (the spec's draw of it) once per process; FilesMissing propagates
    with its instructions, SplitSeedError when a fixed split is asked for a split seed."""
    k = (spec.dataset, spec.dataset_params, spec.split, spec.split_seed, str(data_dir))
    if k not in _TASKS:
        from bench.plugins.dataset_checks import check_categorical  # pandas: only where data loads

        ds = registry.dataset(spec.dataset).build(dict(spec.dataset_params))
        ds.check_split_seed(spec.split, spec.split_seed)  # refused even if load never asks for it
        task = ds.load(spec.split, LoadContext(data_dir=data_dir, cache_dir=cache_dir, split_seed=spec.split_seed))
        check_categorical(task, f"dataset {spec.dataset}")  # one clear error for every method, before any fit
        _TASKS[k] = task
    return _TASKS[k]


def task_key(spec: RunSpec, task: Task) -> str:
    params = ",".join(f"{k}={v}" for k, v in spec.dataset_params)
    return f"{spec.dataset}[{params}]/{spec.split}/{task.split.fingerprint}"


def fit_scope(spec: RunSpec, task: Task, threads: int | None, device: str) -> str:
    """Where a run's shared fits (e.g. the ee network whose embeddings the "with EE" baselines use)
    are cached: the task, plus the thread count and device, since a fit under 1 thread or on a GPU
    gives other floats than under 2 threads on the CPU, and a run keyed by its --threads must use
    a shared fit made under the same setting, never whichever run built it first."""
    return f"{task_key(spec, task)}|threads={threads}|device={str(device).split(':')[0]}"


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)


def check_predictions(pred, n: int, kind: str = "", classes: np.ndarray | None = None,
                      method: str = "") -> np.ndarray:
    """One prediction per test row, of the task's type: numbers for regression and rating, labels
    the method was trained on (``classes``, the train part's) for classification."""
    who = f"method {method}: " if method else ""
    arr = np.asarray(pred)
    if arr.ndim != 1 or len(arr) != n:
        raise ValueError(f"{who}predict returned shape {arr.shape} for {n} rows; expected ({n},)")
    if kind in ("regression", "rating") and arr.dtype.kind not in "iuf":
        what = _DTYPE_WORDS.get(arr.dtype.kind, str(arr.dtype))
        example = next(iter(arr.tolist()), None)
        raise ValueError(f"{who}predict returned {what} values (e.g. {example!r}) for a {kind} task; "
                         "it must return numbers")
    if arr.dtype.kind in "fc" and not np.all(np.isfinite(arr)):
        raise ValueError(f"{who}predict returned {int(np.sum(~np.isfinite(arr)))} non-finite values (NaN/inf)")
    if classes is not None and kind in LABEL_KINDS:
        unknown = _unknown_labels(arr, np.asarray(classes))
        if unknown:
            raise ValueError(f"{who}predict returned label(s) {', '.join(map(repr, unknown[:5]))} "
                             f"that are not among the train part's classes "
                             f"({', '.join(map(repr, np.asarray(classes)[:10].tolist()))})")
    return arr


_DTYPE_WORDS = {"U": "string", "S": "bytes", "O": "object", "b": "bool", "c": "complex", "M": "datetime",
                "m": "timedelta", "V": "record"}


def _unknown_labels(pred: np.ndarray, classes: np.ndarray) -> list:
    """Predicted labels not in ``classes``, each once (a string among integer classes is unknown)."""
    try:
        known = np.isin(pred, classes)
    except TypeError:  # objects that numpy cannot sort
        known = np.array([any(p == c for c in classes.tolist()) for p in pred.tolist()], dtype=bool)
    return list(dict.fromkeys(pred[~known].tolist()))


def resolve_method(registry: Registry, variant: str, overrides: dict) -> tuple[type, dict, str]:
    entry = registry.method(variant)
    return entry.cls, entry.resolved_params(overrides), identity.fit_identity(registry, variant, overrides)


def run_key(registry: Registry, spec: RunSpec, fingerprint: str, threads: int | None) -> str:
    """The record key: the experiment, its split, all the code behind it and its thread count."""
    ids = identity.run_identity(registry, spec)
    return spec.key(fingerprint, ids["method"], ids["dataset"], threads)


@dataclass(frozen=True)
class TaskMeta:
    """What a record says about its task; enough to write a run's record without its data."""

    dataset: str
    kind: str
    metrics: tuple
    synthetic: bool
    fingerprint: str
    sizes: dict
    task_key: str

    @classmethod
    def of(cls, spec: RunSpec, task: Task) -> "TaskMeta":
        return cls(task.dataset, task.kind, tuple(task.metrics), task.synthetic, task.split.fingerprint,
                   task.split.sizes(), task_key(spec, task))


def base_record(registry: Registry, spec: RunSpec, meta: TaskMeta, opts: RunOptions) -> RunRecord:
    """A record of this run with everything but the outcome (status "failed" until it succeeds)."""
    entry = registry.method(spec.method)
    ds_entry = registry.dataset(spec.dataset)
    ids = identity.run_identity(registry, spec)
    return RunRecord(
        key=spec.key(meta.fingerprint, ids["method"], ids["dataset"], opts.threads),
        spec_id=spec.spec_id, spec=spec.identity, status="failed", device=opts.device_label or opts.device,
        hardware=env.hardware(opts.device), versions=env.versions(), suite=spec.suite, label=spec.label,
        overrides=dict(spec.overrides), layout={"column": spec.column, "group": spec.group},
        split={"name": spec.split, "fingerprint": meta.fingerprint, "sizes": meta.sizes,
               **({"split_seed": spec.split_seed} if spec.split_seed else {})},
        dataset={"name": meta.dataset, "synthetic": meta.synthetic, "params": dict(spec.dataset_params),
                 "kind": meta.kind, "metrics": list(meta.metrics),
                 "metric_info": {m: recorded(m) for m in meta.metrics if m in METRICS}, "source_hash": ds_entry.origin.source_hash,
                 "identity": ids["dataset"], "origin": ds_entry.origin.as_dict()},
        method={"family": entry.family, "variant": spec.method, "origin": entry.origin.as_dict(),
                "identity": ids["method"]},
        threads=opts.threads, command=opts.command, started_at=now())


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def is_oom(exc: BaseException) -> bool:
    return isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError"


def known_metrics(registry: Registry, names) -> None:
    """Make sure every metric named is known here: a plugin file may register one, and a worker
    loads only its run's method and dataset files, so scan them all once; else a clear KeyError."""
    if any(n not in METRICS for n in names) and registry.fallback is not None:
        registry.fallback()
    for n in names:
        get_metric(n)


def preimport(origin: Origin) -> None:
    """Import the third-party modules a plugin's code imports (torch, sklearn.neighbors, ...), so
    a run's fit time and memory exclude them and torch exists when the seeds are set; a module
    that does not import (an optional dependency) is left to the plugin to report."""
    import importlib
    import warnings

    for module, maybe in identity.third_party_modules(identity.plugin_files(origin)):
        if module in sys.modules:
            continue
        if maybe:  # `from a import b`: a.b only when a imported and b is not an attribute of it
            parent, _, name = module.rpartition(".")
            if parent not in sys.modules or hasattr(sys.modules[parent], name):
                continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                importlib.import_module(module)
        except Exception:  # noqa: BLE001 - e.g. an optional import the plugin guards itself
            pass


def execute(registry: Registry, spec: RunSpec, task: Task, opts: RunOptions) -> RunRecord:
    """Fit and evaluate one spec in this process; every exception becomes a failed (or oom) record."""
    entry = registry.method(spec.method)
    try:  # every metric known before the run is keyed: a plugin metric's file is in its key
        known_metrics(registry, task.metrics)
    except KeyError:
        pass  # the run fails below, with a record saying which
    rec = base_record(registry, spec, TaskMeta.of(spec, task), opts)
    ctx = FitContext(seed=spec.seed, device=opts.device,
                     time_budget=limits.method_budget(limits.effective(opts.timeout, spec.timeout)),
                     artifacts=ArtifactCache(opts.cache_dir), task_key=fit_scope(spec, task, opts.threads, opts.device), show_progress=opts.show_progress,
                     dataset=spec.dataset)
    ctx.resolve_method = lambda variant, overrides: resolve_method(registry, variant, overrides)
    try:
        known_metrics(registry, task.metrics)  # before the fit, not after it
        method = entry.cls(**dict(spec.params))
        train, valid, test = task.part("train"), task.part("valid"), task.part("test")
        preimport(entry.origin)  # the plugin's libraries, before the clock and the seeds
        seed_everything(spec.seed)
        with env.apply_threads(opts.threads), env.PeakMemory() as mem:
            t0 = time.perf_counter()
            method.fit(train, valid if len(valid) else None, ctx)
            t1 = time.perf_counter()
            pred = method.predict(test)
            t2 = time.perf_counter()
        classes = np.unique(train.y) if task.kind in LABEL_KINDS else None
        pred = check_predictions(pred, len(test), task.kind, classes, spec.method)
        rec.metrics = score(task.metrics, test.y, pred)
        rec.fit_seconds, rec.predict_seconds = round(t1 - t0, 3), round(t2 - t1, 3)
        rec.peak_memory_mb = round(mem.peak_mb, 1)
        rec.status = "ok"
    except Exception as exc:  # the run fails, the suite goes on
        rec.status = "oom" if is_oom(exc) else "failed"
        rec.error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        rec.info["traceback"] = traceback.format_exc()[-4000:]
    rec.history = ctx.history
    rec.info.update(ctx.info)
    rec.info.update(training_info(rec.history, [rec]))  # best epoch; "still improving" when it is the last
    rec.finished_at = now()
    return rec


def forget_tasks() -> None:
    """Drop the dataset splits this process holds (a worker keeps one at a time)."""
    _TASKS.clear()


def unloaded_meta(registry: Registry, spec: RunSpec) -> TaskMeta:
    """What a record can say about a task whose data never loaded: the dataset's card, no split."""
    cls = registry.dataset(spec.dataset).cls
    return TaskMeta(spec.dataset, cls.kind, tuple(cls.metrics), bool(cls.synthetic), "", {}, "")


