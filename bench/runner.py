"""Runs RunSpecs: load each dataset split once, fit and predict every method on it, store records.

``execute`` runs one spec in the current process (a worker's, usually); ``run_specs`` plans the
runs, claims each one in the store, and hands them to an executor (bench.executors). A run that
raises, crashes or passes a limit is recorded with that status and the suite goes on; finished
runs are skipped (resume) unless ``force``. Failed records are never treated as results.
"""
from __future__ import annotations

import datetime as dt
import random
import sys
import time
import traceback
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from . import environment as env
from . import limits
from .dataset import FilesMissing, LoadContext
from .method import FitContext
from .metrics import score
from .registry import Origin, Registry
from .spec import FAILED, RunRecord, RunSpec
from .store import Store
from .task import Task


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


_SHOWN = ("ok", "cached", "failed", "timeout", "oom", "crashed", "skipped", "n/a")


@dataclass
class Summary:
    outcomes: list[Outcome] = field(default_factory=list)
    interrupted: bool = False

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)

    @property
    def failed(self) -> bool:
        return any(self.count(s) for s in FAILED)

    def line(self) -> str:
        parts = [f"{self.count(s)} {s}" for s in _SHOWN if self.count(s)]
        return f"{len(self.outcomes)} runs: " + ", ".join(parts)


_TASKS: dict[tuple, Task] = {}


def load_task(registry: Registry, spec: RunSpec, data_dir: Path, cache_dir: Path) -> Task:
    """Load a dataset split (the spec's draw of it) once per process; FilesMissing propagates
    with its instructions, SplitSeedError when a fixed split is asked for a split seed."""
    k = (spec.dataset, spec.dataset_params, spec.split, spec.split_seed, str(data_dir))
    if k not in _TASKS:
        ds = registry.dataset(spec.dataset).build(dict(spec.dataset_params))
        ds.check_split_seed(spec.split, spec.split_seed)  # refused even if load never asks for it
        _TASKS[k] = ds.load(spec.split, LoadContext(data_dir=data_dir, cache_dir=cache_dir,
                                                    split_seed=spec.split_seed))
    return _TASKS[k]


def task_key(spec: RunSpec, task: Task) -> str:
    params = ",".join(f"{k}={v}" for k, v in spec.dataset_params)
    return f"{spec.dataset}[{params}]/{spec.split}/{task.split.fingerprint}"


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)


def check_predictions(pred, n: int) -> np.ndarray:
    arr = np.asarray(pred)
    if arr.ndim != 1 or len(arr) != n:
        raise ValueError(f"predict returned shape {arr.shape} for {n} rows; expected ({n},)")
    if arr.dtype.kind in "fc" and not np.all(np.isfinite(arr)):
        raise ValueError(f"predict returned {int(np.sum(~np.isfinite(arr)))} non-finite values (NaN/inf)")
    return arr


def _resolve(registry: Registry, variant: str, overrides: dict) -> tuple[type, dict, str]:
    entry = registry.method(variant)
    return entry.cls, entry.resolved_params(overrides), entry.origin.source_hash


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
    return RunRecord(
        key=spec.key(meta.fingerprint, entry.origin.source_hash, ds_entry.origin.source_hash),
        spec_id=spec.spec_id, spec=spec.identity, status="failed", device=opts.device_label or opts.device,
        hardware=env.hardware(opts.device), versions=env.versions(), suite=spec.suite, label=spec.label,
        overrides=dict(spec.overrides),
        split={"name": spec.split, "fingerprint": meta.fingerprint, "sizes": meta.sizes,
               **({"split_seed": spec.split_seed} if spec.split_seed else {})},
        dataset={"name": meta.dataset, "synthetic": meta.synthetic, "params": dict(spec.dataset_params),
                 "kind": meta.kind, "metrics": list(meta.metrics), "source_hash": ds_entry.origin.source_hash},
        method={"family": entry.family, "variant": spec.method, "origin": entry.origin.as_dict()},
        command=opts.command, started_at=_now())


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _is_oom(exc: BaseException) -> bool:
    return isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError"


def execute(registry: Registry, spec: RunSpec, task: Task, opts: RunOptions) -> RunRecord:
    """Fit and evaluate one spec in this process; every exception becomes a failed (or oom) record."""
    entry = registry.method(spec.method)
    rec = base_record(registry, spec, TaskMeta.of(spec, task), opts)
    ctx = FitContext(seed=spec.seed, device=opts.device,
                     time_budget=limits.method_budget(limits.effective(opts.timeout, spec.timeout)),
                     cache_dir=opts.cache_dir, task_key=task_key(spec, task), show_progress=opts.show_progress,
                     dataset=spec.dataset)
    ctx.resolve_method = lambda variant, overrides: _resolve(registry, variant, overrides)
    try:
        method = entry.cls(**dict(spec.params))
        train, valid, test = task.part("train"), task.part("valid"), task.part("test")
        seed_everything(spec.seed)
        with env.PeakMemory() as mem:
            t0 = time.perf_counter()
            method.fit(train, valid if len(valid) else None, ctx)
            t1 = time.perf_counter()
            pred = method.predict(test)
            t2 = time.perf_counter()
        pred = check_predictions(pred, len(test))
        rec.metrics = score(task.metrics, test.y, pred)
        rec.fit_seconds, rec.predict_seconds = round(t1 - t0, 3), round(t2 - t1, 3)
        rec.peak_memory_mb = round(mem.peak_mb, 1)
        rec.status = "ok"
    except Exception as exc:  # the run fails, the suite goes on
        rec.status = "oom" if _is_oom(exc) else "failed"
        rec.error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        rec.info["traceback"] = traceback.format_exc()[-4000:]
    rec.history = ctx.history
    rec.info.update(ctx.info)
    rec.finished_at = _now()
    return rec


def _groups(specs: list[RunSpec]) -> dict[tuple, list[RunSpec]]:
    groups: dict[tuple, list[RunSpec]] = defaultdict(list)
    for s in specs:
        groups[(s.dataset, s.dataset_params, s.split, s.split_seed)].append(s)
    return groups


def plan(registry: Registry, specs: list[RunSpec], store: Store, opts: RunOptions) -> list[tuple[RunSpec, str]]:
    """What `run` would do with each spec, without fitting anything (datasets are loaded)."""
    out = []
    for (dataset, _, split, _), group in _groups(specs).items():
        ds_entry = registry.dataset(dataset)
        try:
            task = load_task(registry, group[0], opts.data_dir, opts.cache_dir)
        except FilesMissing:
            out += [(s, "skip: files missing") for s in group]
            continue
        except Exception as exc:
            out += [(s, f"fail: cannot load ({type(exc).__name__})") for s in group]
            continue
        for s in group:
            entry = registry.method(s.method)
            if ds_entry.cls.kind not in entry.cls.kinds:
                out.append((s, "n/a"))
                continue
            key = s.key(task.split.fingerprint, entry.origin.source_hash, ds_entry.origin.source_hash)
            done = store.has_ok(key) and not opts.force
            out.append((s, "recorded" if done else "to run"))
    return out


def prepare(registry: Registry, specs: list[RunSpec], store: Store, opts: RunOptions,
            summary: Summary, echo: Callable[[str], None]) -> list[Job]:
    """Load each dataset split once (for its fingerprint), settle what needs no run (n/a, skipped,
    already recorded) and turn the rest into jobs."""
    jobs: list[Job] = []
    for (dataset, _, split, _), group in _groups(specs).items():
        ds_entry = registry.dataset(dataset)
        try:
            task = load_task(registry, group[0], opts.data_dir, opts.cache_dir)
        except FilesMissing as exc:
            echo(f"skipped {dataset}/{split}: {exc}")
            summary.outcomes += [Outcome(s, "skipped", str(exc)) for s in group]
            continue
        except Exception as exc:
            msg = f"loading {dataset}/{split} failed: {type(exc).__name__}: {exc}"
            echo(msg)
            summary.outcomes += [Outcome(s, "failed", msg) for s in group]
            continue
        if opts.executor != "inline":  # workers load their own copy; the parent keeps none
            _TASKS.clear()
        for s in group:
            entry = registry.method(s.method)
            if ds_entry.cls.kind not in entry.cls.kinds:
                summary.outcomes.append(Outcome(s, "n/a", f"{s.method} does not support {ds_entry.cls.kind}"))
                continue
            key = s.key(task.split.fingerprint, entry.origin.source_hash, ds_entry.origin.source_hash)
            old = store.get(key)
            if old is not None and old.status == "ok" and not opts.force:
                summary.outcomes.append(Outcome(s, "cached", record=old))
                continue
            jobs.append(Job(s, key, TaskMeta.of(s, task), entry.origin, ds_entry.origin,
                            timeout=limits.effective(opts.timeout, s.timeout),
                            memory_limit_mb=limits.effective(opts.memory_limit_mb, s.memory_limit_mb)))
    return jobs


def run_specs(registry: Registry, specs: list[RunSpec], store: Store, opts: RunOptions,
              echo: Callable[[str], None] = print) -> Summary:
    """Run every spec not yet recorded, in worker processes (or inline, or on Ray), and record it.

    On Ctrl-C the workers are stopped, nothing half-done is written, and the summary comes back
    with ``interrupted`` set."""
    from .executors import make_executor
    from .progress import Progress
    from .schedule import JobQueue

    summary = Summary()
    try:
        jobs = prepare(registry, specs, store, opts, summary, echo)
    except KeyboardInterrupt:
        summary.interrupted = True
        return summary
    progress = Progress(len(jobs), show=opts.show_progress, echo=echo)
    queue = JobQueue(jobs, store, force=opts.force)

    def finished(job: Job, rec: RunRecord, adopted: bool = False) -> None:
        head = job.meta.metrics[0]
        by = " (run by another bench process)" if adopted else ""
        if rec.status == "ok":
            fit = f" ({rec.fit_seconds:.1f}s fit)" if rec.fit_seconds is not None else ""
            msg = f"ok {job.spec.describe()}: {head}={rec.metrics.get(head, float('nan')):.4f}{fit}{by}"
        else:
            label = "FAILED" if rec.status == "failed" else rec.status.upper()
            msg = f"{label} {job.spec.describe()}: {rec.error}{by}"
        status = "cached" if adopted and rec.status == "ok" else rec.status
        summary.outcomes.append(Outcome(job.spec, status, msg, rec))
        progress.advance(rec.status, msg)

    queue.on_adopt = lambda job, rec: finished(job, rec, adopted=True)
    try:
        if jobs:
            make_executor(opts, registry).run(queue, lambda job, rec: (queue.finish(job, rec), finished(job, rec)))
    except KeyboardInterrupt:
        summary.interrupted = True
    finally:
        queue.release_all()
        progress.close()
    return summary
