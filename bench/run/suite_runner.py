"""Runs a suite's RunSpecs: load each dataset split once (in a worker), plan what is recorded,
stale or to run, claim each run in the store, and hand the runs to an executor.

A run that raises, crashes or passes a limit is recorded with that status and the suite goes on;
finished runs are skipped (resume) unless ``force``. Failed records are never treated as results.
One run itself is bench.run.execute.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable

from bench.core.dataset import FilesMissing
from bench.core.spec import FAILED, RunRecord, RunSpec
from bench.plugins.registry import Registry
from bench.results.store import Store, StoreError
from bench.run import limits
from bench.run.execute import (Job, Outcome, RunOptions, TaskMeta, base_record, is_oom, load_task, now,
                               run_key, unloaded_meta)


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


def _groups(specs: list[RunSpec]) -> dict[tuple, list[RunSpec]]:
    groups: dict[tuple, list[RunSpec]] = defaultdict(list)
    for s in specs:
        groups[(s.dataset, s.dataset_params, s.split, s.split_seed)].append(s)
    return groups


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
        from bench.run.workers import LocalExecutor

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
                return ("oom" if is_oom(exc) else "failed",
                        f"loading {spec.dataset}/{spec.split} failed: {type(exc).__name__}: {exc}")
        from bench.run.workers import LoadJob

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
    rec.status, rec.error, rec.finished_at = status, why, now()
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
            echo(f"{status.upper()} " + (str(got) if str(got).startswith("loading ") else f"loading {dataset}/{split}: {got}"))
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


def estimates(store: Store, jobs: list[Job]) -> dict[str, float | None]:
    """{job key: seconds its method variant took on its dataset in the store's past ok records}."""
    from bench.run.progress import past_durations

    if not jobs:
        return {}
    past = past_durations(store.records())
    return {j.key: past.get((j.spec.method, j.spec.dataset)) for j in jobs}


def run_specs(registry: Registry, specs: list[RunSpec], store: Store, opts: RunOptions,
              echo: Callable[[str], None] = print) -> Summary:
    """Run every spec not yet recorded, in worker processes (or inline, or on Ray), and record it.

    On Ctrl-C the workers are stopped, nothing half-done is written, and the summary comes back
    with ``interrupted`` set."""
    from bench.run.executors import make_executor
    from bench.run.progress import Progress
    from bench.run.schedule import JobQueue

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
        progress = Progress(len(jobs), show=opts.show_progress, echo=echo, estimates=estimates(store, jobs),
                            workers=1 if opts.executor == "inline" else opts.jobs)
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
            progress.advance(rec.status, msg, job.key)

        queue.on_adopt = lambda job, rec: finished(job, rec, adopted=True)

        def refused(job: Job, message: str) -> None:  # a planted link at its claim: not run, not recorded
            msg = f"FAILED {job.spec.describe()}: {message}"
            summary.outcomes.append(Outcome(job.spec, "failed", msg))
            progress.advance("failed", msg, job.key)

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
