"""A suite's runs as the practice pages read them: one :class:`Run` per planned run, grouped by
task and label, a learning rate picked on the valid score, curves averaged over seeds.

The pages compare rows of a suite (optimizers, schedules, batchnorm arms, ...), so what they need
of a record is small: its status (a run whose training hit a non-finite loss counts as
*diverged*, whatever the record's status: :func:`divergence`), the headline test metric, the
valid score of the weights that were tested, the fit time and the per-epoch history. Everything
here is plain Python over records: no torch.
"""
from __future__ import annotations

import fnmatch
import math
import re
import statistics
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from bench.core.spec import RunRecord, RunSpec

DIVERGED = "diverged"
MISSING = "missing"
# an error that says a run's outputs were not finite (e.g. "predict returned 80 non-finite values (NaN/inf)")
_NON_FINITE = re.compile(r"NaN|(?i:non-finite|\bnan\b|\binf\b|infinit)")


@dataclass(frozen=True)
class Run:
    """One planned run of a suite and what its record says (``record`` None: not run yet)."""

    task: str  # the dataset's name: a page's section
    label: str  # the suite's row label
    seed: int
    params: Mapping[str, Any]  # resolved method parameters
    status: str  # ok | diverged | failed | timeout | oom | crashed | missing
    why: str = ""  # what went wrong, for a run that is not ok
    metric: str = ""  # the dataset's headline metric (first of its metrics)
    lower_is_better: bool = True
    test: float | None = None  # headline metric on test
    valid: float | None = None  # valid score of the weights that were tested
    fit_seconds: float | None = None
    history: Sequence[Mapping[str, Any]] = field(default_factory=tuple)
    record: RunRecord | None = None
    stale: bool = False  # the record was made by other code than the current (shown, and said so)
    variant: str = ""  # the method's variant
    section: str = ""  # dataset[params]/split
    overrides: Mapping[str, Any] = field(default_factory=dict)  # what the suite set (fixed and swept)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def lr(self) -> float | None:
        v = self.params.get("lr")
        return float(v) if isinstance(v, (int, float)) else None

    @property
    def batchnorm(self) -> bool:
        return bool(self.params.get("batchnorm"))

    def epochs(self) -> list[Mapping[str, Any]]:
        """The history's epoch rows (no notes) of the first net."""
        return [r for r in self.history if "note" not in r and isinstance(r.get("epoch"), int)
                and r.get("member", 0) == 0 and "train_loss" in r]


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def mean(values: Iterable[float | None]) -> float | None:
    """The mean of the finite values; None when there are none."""
    vals = [v for v in values if _finite(v)]
    return statistics.fmean(vals) if vals else None


def std(values: Iterable[float | None]) -> float | None:
    """The sample std of the finite values; None for fewer than two (a spread needs two seeds)."""
    vals = [v for v in values if _finite(v)]
    return statistics.stdev(vals) if len(vals) > 1 else None


def section_name(spec: RunSpec) -> str:
    """dataset[params]/split: one section of a suite's table."""
    params = ",".join(f"{k}={v}" for k, v in spec.dataset_params)
    return f"{spec.dataset}{'[' + params + ']' if params else ''}/{spec.split}"


def divergence(status: str, error: str | None, history: Iterable[Mapping[str, Any]],
               metrics: Mapping[str, Any] | None = None) -> str | None:
    """How a run diverged, or None: the first non-finite (or missing) training loss or validation
    score in its history, or the training loop's "diverged" note; a run that did not finish over
    non-finite outputs (its error says so); an ok run with a non-finite test metric."""
    how = []
    for row in history:
        note = str(row.get("note", ""))
        bad = [k for k, v in row.items() if (k == "train_loss" or k.startswith("valid_"))
               and (v is None or (isinstance(v, (int, float)) and not math.isfinite(v)))]
        if bad or "diverged" in note:
            how.append(f"non-finite {bad[0]} in epoch {row.get('epoch')}" if bad else note)
            break
    if status != "ok" and error and _NON_FINITE.search(error):
        how.append(f"{status}: " + error.strip().splitlines()[-1])
    if not how and status == "ok":
        bad = [m for m, v in (metrics or {}).items() if not _finite(v)]
        how += [f"non-finite test {bad[0]}"] if bad else []
    return "; ".join(how) or None


def valid_score(rec: RunRecord, lower_is_better: bool) -> float | None:
    """The valid score of the weights a run tested: its best epoch's when it restores the best
    weights (``restore_best``, the default), else its last epoch's."""
    key = f"valid_{rec.dataset.get('metrics', [''])[0]}"
    rows = [r for r in rec.history if "note" not in r and r.get("member", 0) == 0 and _finite(r.get(key))]
    if not rows:
        return None
    scores = [float(r[key]) for r in rows]
    if rec.spec.get("params", {}).get("restore_best", True):
        return min(scores) if lower_is_better else max(scores)
    return scores[-1]


def make_run(spec: RunSpec, rec: RunRecord | None, stale: bool = False) -> Run:
    """A :class:`Run` from a suite's planned spec and the record its table would show (or None)."""
    base = dict(task=spec.dataset, label=spec.label, seed=spec.seed, params=dict(spec.params), stale=stale,
                variant=spec.method, section=section_name(spec), overrides=dict(spec.overrides))
    if rec is None:
        return Run(status=MISSING, why="not run yet", **base)
    metrics = list(rec.dataset.get("metrics") or rec.metrics)
    metric = metrics[0] if metrics else ""
    info = rec.dataset.get("metric_info", {}).get(metric, {})
    lower = bool(info.get("lower_is_better", metric != "accuracy"))
    why = divergence(rec.status, rec.error, rec.history, rec.metrics)
    status = DIVERGED if why else rec.status
    if status not in ("ok", DIVERGED):
        why = (rec.error or status).splitlines()[0]
    test = rec.metrics.get(metric)
    return Run(status=status, why=why or "", metric=metric, lower_is_better=lower,
               test=float(test) if status == "ok" and _finite(test) else None,
               valid=valid_score(rec, lower) if status == "ok" else None,
               fit_seconds=rec.fit_seconds if _finite(rec.fit_seconds) else None,
               history=tuple(rec.history), record=rec, **base)


def runs_from(pairs: Iterable[tuple]) -> list[Run]:
    """Every planned run from (spec, record or None[, stale]) tuples, as the tables choose them."""
    return [make_run(*p) for p in pairs]


def tasks(runs: Iterable[Run]) -> list[str]:
    """The tasks (datasets) in suite order."""
    return list(dict.fromkeys(r.task for r in runs))


def select(runs: Iterable[Run], task: str | None = None, label: str | None = None,
           lr: float | None = None) -> list[Run]:
    """The runs of one task / label / learning rate (None: any)."""
    return [r for r in runs if (task is None or r.task == task) and (label is None or r.label == label)
            and (lr is None or (r.lr is not None and math.isclose(r.lr, lr, rel_tol=1e-9)))]


def by_lr(runs: Iterable[Run]) -> dict[float, list[Run]]:
    """Runs grouped by their learning rate, in ascending order."""
    out: dict[float, list[Run]] = {}
    for r in runs:
        if r.lr is not None:
            out.setdefault(r.lr, []).append(r)
    return dict(sorted(out.items()))


@dataclass
class Stats:
    """Mean ± std over the seeds of one group of runs; counts of the runs that are not ok."""

    runs: list[Run]

    @property
    def ok(self) -> list[Run]:
        return [r for r in self.runs if r.ok]

    @property
    def complete(self) -> bool:
        """Every run of the group finished ok (so its mean is over all its seeds)."""
        return bool(self.runs) and all(r.ok for r in self.runs)

    @property
    def lower_is_better(self) -> bool:
        return next((r.lower_is_better for r in self.runs if r.record is not None), True)

    def values(self, what: str) -> list[float]:
        return [float(getattr(r, what)) for r in self.ok if _finite(getattr(r, what))]

    def mean(self, what: str = "test") -> float | None:
        return mean(self.values(what)) if self.complete else None

    def std(self, what: str = "test") -> float | None:
        """The std over the seeds (0 for one seed), None where the mean is."""
        v = self.values(what)
        return (std(v) or 0.0) if v and self.complete else None

    def problem(self) -> str:
        """'' when every run is ok, else what the cell shows: diverged (k of n seeds), failed, ..."""
        bad = [r for r in self.runs if not r.ok]
        if not self.runs:
            return MISSING
        if not bad:
            return ""
        first = DIVERGED if any(r.status == DIVERGED for r in bad) else bad[0].status
        n = sum(r.status == first for r in bad)
        return first if n == len(self.runs) else f"{first} ({n} of {len(self.runs)} seeds)"

    def cell(self, what: str = "test", digits: int = 4) -> str:
        """'0.1234 ± 0.0056', or the problem ('diverged', 'missing', 'failed (1 of 3 seeds)')."""
        return self.problem() or f"{self.mean(what):.{digits}f} ± {self.std(what):.{digits}f}"

    def seconds(self) -> str:
        m = mean(r.fit_seconds for r in self.ok)
        return "n/a" if m is None else f"{m:.1f}"


def better(a: float | None, b: float | None, lower_is_better: bool) -> bool | None:
    """Whether score ``a`` beats ``b`` (None when either is missing)."""
    if a is None or b is None:
        return None
    return a < b if lower_is_better else a > b


def within_spread(a: Sequence[float], b: Sequence[float]) -> bool | None:
    """Whether two samples' means differ by no more than the larger of their stds over seeds (0
    for one seed); None when either has no value."""
    ma, mb = mean(a), mean(b)
    if ma is None or mb is None:
        return None
    return abs(ma - mb) <= max(std(a) or 0.0, std(b) or 0.0)


def within_noise(a: Stats, b: Stats, what: str = "test") -> bool:
    """Whether two complete groups' means are within their seeds' spread (a verdict that rests on
    such a difference says so)."""
    return bool(a.complete and b.complete and within_spread(a.values(what), b.values(what)))


def noise_note(a: Stats, b: Stats, what: str = "test") -> str:
    return " (within the seeds' std)" if within_noise(a, b, what) else ""


def best_lr(runs: Iterable[Run]) -> tuple[float | None, dict[float, Stats]]:
    """The learning rate whose runs have the best mean VALID score over seeds, and every rate's
    stats. A rate with a run that diverged, failed or is missing cannot be chosen: its mean would
    be over fewer seeds. The test score is never looked at."""
    grid = {lr: Stats(group) for lr, group in by_lr(runs).items()}
    ranked = [(s.mean("valid"), lr) for lr, s in grid.items() if s.mean("valid") is not None]
    if not ranked:
        return None, grid
    lower = next(iter(grid.values())).lower_is_better
    score, lr = (min if lower else max)(ranked)
    return lr, grid


def mean_curve(runs: Iterable[Run], column: str) -> tuple[list[int], list[float], list[float]]:
    """Epochs, mean and std over the ok runs of one history column, on the epochs all of them have."""
    series = [{r["epoch"]: float(r[column]) for r in run.epochs() if _finite(r.get(column))}
              for run in runs if run.ok]
    series = [s for s in series if s]
    if not series:
        return [], [], []
    epochs = sorted(set.intersection(*(set(s) for s in series)))
    means = [statistics.fmean(s[e] for s in series) for e in epochs]
    stds = [statistics.pstdev([s[e] for s in series]) for e in epochs]
    return epochs, means, stds


def valid_column(runs: Iterable[Run]) -> str:
    """The history's valid-metric column of these runs (``valid_mape``, ``valid_accuracy``)."""
    return next((f"valid_{r.metric}" for r in runs if r.metric), "valid_loss")


def first_value(methods: Sequence[Mapping[str, Any]], label: str, task: str, param: str) -> Any:
    """The first value of ``param`` in the suite's [[methods]] entry labelled ``label`` that applies
    to dataset ``task``: a sweep's first point (the optimizers suite lists the usual rate first)."""
    for m in methods:
        if m.get("label") != label:
            continue
        if m.get("datasets") and not any(fnmatch.fnmatchcase(task, p) for p in m["datasets"]):
            continue
        value = m.get("params", {}).get(param)
        return value[0] if isinstance(value, list) and value else value
    return None


def fmt_lr(lr: float | None) -> str:
    return "n/a" if lr is None else f"{lr:g}"


def dataset_line(runs: Sequence[Run]) -> str:
    """Which data a task's runs saw: dataset, its parameters, split, fingerprint and sizes."""
    rec = next((r.record for r in runs if r.record is not None), None)
    if rec is None:
        return f"{runs[0].task if runs else '?'}: no run recorded yet"
    params = rec.dataset.get("params") or {}
    ref = rec.dataset.get("name", "") + ("[" + ",".join(f"{k}={v}" for k, v in sorted(params.items())) + "]"
                                         if params else "")
    sizes = rec.split.get("sizes", {})
    synthetic = " (synthetic)" if rec.dataset.get("synthetic") else ""
    return (f"`{ref}`{synthetic}, split {rec.split.get('name')} (fingerprint `{rec.split.get('fingerprint')}`), "
            f"train/valid/test = {sizes.get('train')}/{sizes.get('valid')}/{sizes.get('test')} rows")


def provenance(runs: Sequence[Run]) -> list[str]:
    """Seeds, threads, hardware and versions of the recorded runs, one bullet each."""
    recs = [r.record for r in runs if r.record is not None]
    if not recs:
        return ["- no run recorded yet"]
    seeds = sorted({r.seed for r in runs})
    threads = sorted({r.threads for r in recs if r.threads is not None})
    hardware = sorted({r.hardware or r.device for r in recs})
    versions = recs[0].versions
    shown = ", ".join(f"{k} {versions[k]}" for k in ("bench", "torch", "numpy", "python") if k in versions)
    missing = sum(r.status == MISSING for r in runs)
    stale = sum(r.stale for r in runs if r.record is not None)
    lines = [f"- seeds {', '.join(map(str, seeds))} (mean ± std over them: initialisation and batch order; "
             f"one split per task); {len(runs)} runs, {len(recs)} recorded"
             + (f", {missing} not run yet" if missing else "")
             + (f"; {stale} recorded by older code (stale: re-run the suite to refresh them)" if stale else ""),
             f"- threads per run: {', '.join(map(str, threads)) or 'n/a'}; hardware: {'; '.join(hardware)}",
             f"- versions: {shown}"]
    return lines


def commands(runs: Iterable[Run]) -> list[str]:
    """The distinct command lines that made the records (``bench run ...``), oldest first."""
    recs = sorted((r.record for r in runs if r.record is not None), key=lambda rec: rec.started_at)
    return list(dict.fromkeys(rec.command for rec in recs if rec.command))
