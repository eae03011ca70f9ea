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
from . import identity, limits
from .dataset import FilesMissing, LoadContext
from .method import FitContext
from .metrics import score
from .registry import Origin, Registry
from .spec import FAILED, RunRecord, RunSpec
from .store import Store, StoreError
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


SKIPPED_EXIT = 3  # `bench run`'s exit status when planned runs were skipped for missing data
_SHOWN = ("ok", "cached", "failed", "timeout", "oom", "crashed", "skipped", "n/a")


@dataclass
class Summary:
    outcomes: list[Outcome] = field(default_factory=list)
    interrupted: bool = False
    store_error: str | None = None  # the results folder could not be written: the suite stopped there

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)

    @property
    def failed(self) -> bool:
        return any(self.count(s) for s in FAILED)

    def exit_status(self, allow_skip: bool = False) -> int:
        """1 when a run failed, 3 when runs were skipped for missing data (unless allowed), else 0."""
        if self.failed:
            return 1
        if self.count("skipped") and not allow_skip:
            return SKIPPED_EXIT
        return 0

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
    if classes is not None and kind in ("classification", "image-classification"):
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


def _resolve(registry: Registry, variant: str, overrides: dict) -> tuple[type, dict, str]:
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
        overrides=dict(spec.overrides),
        split={"name": spec.split, "fingerprint": meta.fingerprint, "sizes": meta.sizes,
               **({"split_seed": spec.split_seed} if spec.split_seed else {})},
        dataset={"name": meta.dataset, "synthetic": meta.synthetic, "params": dict(spec.dataset_params),
                 "kind": meta.kind, "metrics": list(meta.metrics), "source_hash": ds_entry.origin.source_hash,
                 "identity": ids["dataset"]},
        method={"family": entry.family, "variant": spec.method, "origin": entry.origin.as_dict(),
                "identity": ids["method"]},
        threads=opts.threads, command=opts.command, started_at=_now())


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
        with env.apply_threads(opts.threads), env.PeakMemory() as mem:
            t0 = time.perf_counter()
            method.fit(train, valid if len(valid) else None, ctx)
            t1 = time.perf_counter()
            pred = method.predict(test)
            t2 = time.perf_counter()
        classes = np.unique(train.y) if task.kind in ("classification", "image-classification") else None
        pred = check_predictions(pred, len(test), task.kind, classes, spec.method)
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


def forget_tasks() -> None:
    """Drop the dataset splits this process holds (a worker keeps one at a time)."""
    _TASKS.clear()


def unloaded_meta(registry: Registry, spec: RunSpec) -> TaskMeta:
    """What a record can say about a task whose data never loaded: the dataset's card, no split."""
    cls = registry.dataset(spec.dataset).cls
    return TaskMeta(spec.dataset, cls.kind, tuple(cls.metrics), bool(cls.synthetic), "", {}, "")


def _largest(values: list[float | None]) -> float | None:
    return None if any(v is None for v in values) else max(values)


class Loader:
    """Loads each dataset split once, for its fingerprint and sizes, before its runs are planned.

    Loading a dataset is a step of its runs like fitting: it runs in a worker process under the
    same limits (the largest of its runs' time and memory limits), so a loader that raises,
    crashes, exits or hangs ends that dataset's runs only, never `bench run`. The worker keeps the
    last split it loaded for the runs that follow; a run of another split loads its own copy
    (from the dataset's disk cache). ``--executor inline`` loads in this process (no isolation)."""

    def __init__(self, registry: Registry, opts: RunOptions, executor=None):
        from .workers import LocalExecutor

        self.registry, self.opts, self.owned = registry, opts, False
        if opts.executor == "inline":
            self.workers = None
        elif isinstance(executor, LocalExecutor):
            self.workers = executor
        else:  # Ray, or planning only: one local worker of its own
            import dataclasses

            self.workers = LocalExecutor(dataclasses.replace(opts, jobs=1, show_progress=False), registry)
            self.owned = True

    def load(self, group: list[RunSpec]) -> tuple[str, TaskMeta | str]:
        """("ok", TaskMeta), ("skipped", why) when files are missing, or (run status, why)."""
        spec = group[0]
        if self.workers is None:
            try:
                return "ok", TaskMeta.of(spec, load_task(self.registry, spec, self.opts.data_dir, self.opts.cache_dir))
            except FilesMissing as exc:
                return "skipped", str(exc)
            except Exception as exc:
                return ("oom" if _is_oom(exc) else "failed",
                        f"loading {spec.dataset}/{spec.split} failed: {type(exc).__name__}: {exc}")
        from .workers import LoadJob

        origin = self.registry.dataset(spec.dataset).origin
        job = LoadJob(spec, [origin.path] if origin.path else [], origin.path is None,
                      timeout=_largest([limits.effective(self.opts.timeout, s.timeout) for s in group]),
                      memory_limit_mb=_largest([limits.effective(self.opts.memory_limit_mb, s.memory_limit_mb)
                                                for s in group]))
        return self.workers.load(job)

    def close(self) -> None:
        if self.owned:
            self.workers.close()
            self.owned = False


def _applies(registry: Registry, spec: RunSpec) -> bool:
    return registry.dataset(spec.dataset).cls.kind in registry.method(spec.method).cls.kinds


def plan(registry: Registry, specs: list[RunSpec], store: Store, opts: RunOptions) -> list[tuple[RunSpec, str]]:
    """What `run` would do with each spec, without fitting anything (datasets are loaded, in a
    worker): recorded, to run (and why: new, or its record is stale), n/a, skip or fail."""
    by_id: dict[str, list[RunRecord]] = defaultdict(list)
    for rec in store.records():
        if rec.status == "ok":
            by_id[rec.spec_id].append(rec)
    out = []
    loader = Loader(registry, opts)
    try:
        for (dataset, _, split, _), group in _groups(specs).items():
            status, got = loader.load(group)
            if status == "skipped":
                out += [(s, "skip: files missing") for s in group]
                continue
            if status != "ok":
                out += [(s, f"fail: cannot load ({status}: {str(got).splitlines()[0]})") for s in group]
                continue
            for s in group:
                if not _applies(registry, s):
                    out.append((s, "n/a"))
                    continue
                key = run_key(registry, s, got.fingerprint, opts.threads)
                if store.has_ok(key) and not opts.force:
                    out.append((s, "recorded"))
                elif by_id.get(s.spec_id) and not opts.force:
                    out.append((s, "to run: its record is stale (code, fits it uses, split or threads changed)"))
                else:
                    out.append((s, "to run"))
    finally:
        loader.close()
    return out


def _keyed(job: Job, rec: RunRecord) -> RunRecord:
    """The record goes under the key this process claimed and planned with; a worker that computed
    another (a file edited mid-suite) says so in the record instead of writing where no one looks."""
    if rec.key != job.key:
        rec.info["key_in_worker"] = rec.key
        rec.key = job.key
    return rec


def _record_load_failure(registry: Registry, spec: RunSpec, opts: RunOptions, status: str, why: str) -> RunRecord:
    rec = base_record(registry, spec, unloaded_meta(registry, spec), opts)
    rec.status, rec.error, rec.finished_at = status, why, _now()
    rec.info["stage"] = "load"
    return rec


def prepare(registry: Registry, specs: list[RunSpec], store: Store, opts: RunOptions,
            summary: Summary, echo: Callable[[str], None], loader: Loader) -> list[Job]:
    """Load each dataset split once (for its fingerprint), settle what needs no run (n/a, skipped,
    already recorded, a dataset that failed to load) and turn the rest into jobs."""
    jobs: list[Job] = []
    for (dataset, _, split, _), group in _groups(specs).items():
        ds_entry = registry.dataset(dataset)
        applicable = []
        for s in group:
            if _applies(registry, s):
                applicable.append(s)
            else:
                summary.outcomes.append(Outcome(s, "n/a", f"{s.method} does not support {ds_entry.cls.kind}"))
        if not applicable:
            continue
        status, got = loader.load(applicable)
        if status == "skipped":
            echo(f"skipped {dataset}/{split}: {got}")
            summary.outcomes += [Outcome(s, "skipped", str(got)) for s in applicable]
            continue
        if status != "ok":  # recorded for each of its runs: a table shows the failure, not a gap
            echo(f"{status.upper()} loading {dataset}/{split}: {got}")
            for s in applicable:
                rec = _record_load_failure(registry, s, opts, status, str(got))
                store.put(rec)
                summary.outcomes.append(Outcome(s, status, f"{status.upper()} {s.describe()}: {got}", rec))
            continue
        meta = got
        for s in applicable:
            entry = registry.method(s.method)
            key = run_key(registry, s, meta.fingerprint, opts.threads)
            old = store.get(key)
            if old is not None and old.status == "ok" and not opts.force:
                summary.outcomes.append(Outcome(s, "cached", record=old))
                continue
            jobs.append(Job(s, key, meta, entry.origin, ds_entry.origin,
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
    executor = make_executor(opts, registry)
    loader = Loader(registry, opts, executor)
    try:
        try:
            jobs = prepare(registry, specs, store, opts, summary, echo, loader)
        except KeyboardInterrupt:
            summary.interrupted = True
            return summary
        except StoreError as exc:  # recording a dataset's load failure hit a read-only / full folder
            summary.store_error = str(exc)
            return summary
        finally:
            loader.close()
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

        def refused(job: Job, message: str) -> None:  # a planted link at its claim: not run, not recorded
            msg = f"FAILED {job.spec.describe()}: {message}"
            summary.outcomes.append(Outcome(job.spec, "failed", msg))
            progress.advance("failed", msg)

        queue.on_refuse = refused
        try:
            if jobs:
                executor.run(queue, lambda job, rec: (queue.finish(job, _keyed(job, rec)), finished(job, rec)))
        except KeyboardInterrupt:
            summary.interrupted = True
        except StoreError as exc:  # read-only / full results folder: stop like Ctrl-C, keep what is recorded
            summary.store_error = str(exc)
        finally:
            queue.release_all()
            progress.close()
    finally:
        close = getattr(executor, "close", None)
        if close is not None:
            close()
    return summary
