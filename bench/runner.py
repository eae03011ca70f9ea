"""Runs RunSpecs: load each dataset split once, fit and predict every method on it, store records.

A run that raises is recorded as failed with its error and the suite goes on; finished runs
are skipped (resume) unless ``force``. Failed records are never treated as results.
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
from .dataset import FilesMissing, LoadContext
from .method import FitContext
from .metrics import score
from .registry import Registry
from .spec import RunRecord, RunSpec
from .store import Store
from .task import Task


@dataclass
class RunOptions:
    data_dir: Path
    cache_dir: Path
    device: str = "cpu"
    force: bool = False
    timeout: float | None = None
    show_progress: bool = True
    command: str = ""


@dataclass
class Outcome:
    spec: RunSpec
    status: str  # ok | failed | cached | skipped | n/a
    message: str = ""
    record: RunRecord | None = None


@dataclass
class Summary:
    outcomes: list[Outcome] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)

    @property
    def failed(self) -> bool:
        return self.count("failed") > 0

    def line(self) -> str:
        parts = [f"{self.count(s)} {s}" for s in ("ok", "cached", "failed", "skipped", "n/a") if self.count(s)]
        return f"{len(self.outcomes)} runs: " + ", ".join(parts)


_TASKS: dict[tuple, Task] = {}


def load_task(registry: Registry, spec: RunSpec, data_dir: Path, cache_dir: Path) -> Task:
    """Load a dataset split once per process; FilesMissing propagates with its instructions."""
    k = (spec.dataset, spec.dataset_params, spec.split, str(data_dir))
    if k not in _TASKS:
        ds = registry.dataset(spec.dataset).build(dict(spec.dataset_params))
        _TASKS[k] = ds.load(spec.split, LoadContext(data_dir=data_dir, cache_dir=cache_dir))
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


def execute(registry: Registry, spec: RunSpec, task: Task, opts: RunOptions) -> RunRecord:
    """Fit and evaluate one spec in this process; every exception becomes a failed record."""
    entry = registry.method(spec.method)
    ds_entry = registry.dataset(spec.dataset)
    fp = task.split.fingerprint
    rec = RunRecord(
        key=spec.key(fp, entry.origin.source_hash, ds_entry.origin.source_hash), spec_id=spec.spec_id,
        spec=spec.identity, status="failed", device=opts.device, hardware=env.hardware(opts.device),
        versions=env.versions(), suite=spec.suite, label=spec.label, overrides=dict(spec.overrides),
        split={"name": spec.split, "fingerprint": fp, "sizes": task.split.sizes()},
        dataset={"name": task.dataset, "synthetic": task.synthetic, "params": dict(spec.dataset_params),
                 "kind": task.kind, "metrics": list(task.metrics), "source_hash": ds_entry.origin.source_hash},
        method={"family": entry.family, "variant": spec.method, "origin": entry.origin.as_dict()},
        command=opts.command, started_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))
    ctx = FitContext(seed=spec.seed, device=opts.device, time_budget=opts.timeout, cache_dir=opts.cache_dir,
                     task_key=task_key(spec, task), show_progress=opts.show_progress, dataset=spec.dataset)
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
        rec.error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        rec.info["traceback"] = traceback.format_exc()[-4000:]
    rec.history = ctx.history
    rec.info.update(ctx.info)
    rec.finished_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    return rec


def _groups(specs: list[RunSpec]) -> dict[tuple, list[RunSpec]]:
    groups: dict[tuple, list[RunSpec]] = defaultdict(list)
    for s in specs:
        groups[(s.dataset, s.dataset_params, s.split)].append(s)
    return groups


def plan(registry: Registry, specs: list[RunSpec], store: Store, opts: RunOptions) -> list[tuple[RunSpec, str]]:
    """What `run` would do with each spec, without fitting anything (datasets are loaded)."""
    out = []
    for (dataset, _, split), group in _groups(specs).items():
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


def run_specs(registry: Registry, specs: list[RunSpec], store: Store, opts: RunOptions,
              echo: Callable[[str], None] = print) -> Summary:
    summary = Summary()
    groups = _groups(specs)
    bar = _bar(len(specs), opts.show_progress)
    for (dataset, _, split), group in groups.items():
        ds_cls = registry.dataset(dataset).cls
        try:
            task = load_task(registry, group[0], opts.data_dir, opts.cache_dir)
        except FilesMissing as exc:
            echo(f"skipped {dataset}/{split}: {exc}")
            for s in group:
                summary.outcomes.append(Outcome(s, "skipped", str(exc)))
                bar.update(1)
            continue
        except Exception as exc:
            msg = f"loading {dataset}/{split} failed: {type(exc).__name__}: {exc}"
            echo(msg)
            for s in group:
                summary.outcomes.append(Outcome(s, "failed", msg))
                bar.update(1)
            continue
        for s in group:
            entry = registry.method(s.method)
            if ds_cls.kind not in entry.cls.kinds:
                summary.outcomes.append(Outcome(s, "n/a", f"{s.method} does not support {ds_cls.kind}"))
                bar.update(1)
                continue
            key = s.key(task.split.fingerprint, entry.origin.source_hash, registry.dataset(dataset).origin.source_hash)
            old = store.get(key)
            if old is not None and old.status == "ok" and not opts.force:
                summary.outcomes.append(Outcome(s, "cached", record=old))
                bar.update(1)
                continue
            bar.set_description(s.describe())
            rec = execute(registry, s, task, opts)
            store.put(rec)
            if rec.status == "ok":
                head = task.metrics[0]
                msg = f"ok {s.describe()}: {head}={rec.metrics[head]:.4f} ({rec.fit_seconds:.1f}s fit)"
            else:
                msg = f"FAILED {s.describe()}: {rec.error}"
            _write(bar, msg, echo)
            summary.outcomes.append(Outcome(s, rec.status, msg, rec))
            bar.update(1)
    bar.close()
    return summary


class _NoBar:
    def update(self, n: int) -> None: ...
    def set_description(self, s: str) -> None: ...
    def close(self) -> None: ...


def _bar(total: int, show: bool):
    if not show or not sys.stderr.isatty():
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="run", dynamic_ncols=True)


def _write(bar, msg: str, echo: Callable[[str], None]) -> None:
    if isinstance(bar, _NoBar):
        echo(msg)
    else:
        bar.write(msg)
