"""Batchnorm and the learning rate (`bench practice bn`): what a `practice-bn` suite's records say.

The suite sweeps the learning rate of network pairs that differ only in batchnorm (the
``batchnorm`` parameter of their spec), and, on a rating task, the sigmoid ``y_range`` of a
pair (bench.practice.bn_ranges). The chosen record of every planned run (ok, failed or missing)
is a bench.practice.suite_runs :class:`Run`, whose status says whether it diverged
(suite_runs.divergence). This module reads a dataset split's grid into a :class:`Grid` and
computes from the numbers alone: the first epoch a run reaches a target validation score, the
highest rate at which each arm trains, and one verdict per claim.
No plotting and no I/O here (bn_report writes the page, bn_plots draws the figures).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from bench.core.metrics import METRICS
from bench.practice.page_text import Verdict
from bench.practice.suite_runs import MISSING, Run, better, mean, std

SLACK = 0.95  # default target: 95 % of the weaker arm's best final validation score
HIGHER = "Batchnorm allows higher learning rates"
FASTER = "Batchnorm trains faster"


def lower_is_better(metric: str) -> bool:
    """A metric's direction (a history key ``valid_NAME`` asks about NAME); a metric bench does
    not know counts as an error (lower is better) unless it names accuracy or AUC."""
    name = metric[6:] if metric.startswith("valid_") else metric
    if name in METRICS:
        return METRICS[name].lower_is_better
    return "acc" not in name and "auc" not in name


def label(metric: str) -> str:
    """A metric's name as tables print it (MAPE, RMSE, accuracy)."""
    return METRICS[metric].label if metric in METRICS else metric


def history_key(runs: list[Run]) -> str | None:
    """The per-epoch validation score the runs log (valid_accuracy, valid_mape, ...)."""
    for run in runs:
        for row in run.epochs():
            for key in row:
                if key.startswith("valid_"):
                    return key
    return None


def headline(runs: list[Run]) -> str | None:
    """The dataset's headline test metric, from the first record that names it (else the first
    record's first test metric)."""
    named = [r for r in runs if r.record is not None and r.record.dataset.get("metrics")]
    return next((r.metric for r in named or runs if r.metric), None)


def on_test(run: Run, metric: str) -> float | None:
    """A run's test ``metric``; None unless it finished ok (did not diverge)."""
    return run.record.metrics.get(metric) if run.ok and run.record is not None else None


def final_score(run: Run, key: str) -> float | None:
    """The last epoch's validation score of a run that did not diverge."""
    rows = run.epochs()
    if not run.ok or not rows:
        return None
    value = rows[-1].get(key)
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def reached(run: Run, key: str, target: float, lower: bool) -> tuple[int, float] | None:
    """(epoch, seconds up to its end: training plus the per-epoch validation, as the history logs
    them) when the validation score first reaches ``target``; None when it never does or the run
    diverged."""
    if not run.ok:
        return None
    seconds = 0.0
    for row in run.epochs():
        seconds += float(row.get("seconds") or 0.0)
        value = row.get(key)
        if isinstance(value, (int, float)) and math.isfinite(value) and (value <= target if lower else value >= target):
            return int(row["epoch"]), seconds
    return None


def arm_name(bn: bool) -> str:
    return "with batchnorm" if bn else "without batchnorm"


@dataclass
class Grid:
    """A learning-rate grid x {with, without batchnorm} on one dataset split."""

    section: str
    runs: list[Run]
    key: str  # the history's validation score
    metric: str  # the headline test metric
    target: float | None = None

    @property
    def lower(self) -> bool:
        return lower_is_better(self.key)

    @property
    def metric_lower(self) -> bool:
        return lower_is_better(self.metric)

    @property
    def lrs(self) -> list[float]:
        return sorted({r.lr for r in self.runs})

    def variant(self, bn: bool) -> str:
        return next((r.variant for r in self.runs if r.batchnorm == bn), "?")

    def cell(self, bn: bool, lr: float) -> list[Run]:
        return [r for r in self.runs if r.batchnorm == bn and r.lr == lr]

    def final(self, bn: bool, lr: float) -> float | None:
        """Mean last-epoch validation score over the seeds; None if any seed is missing, failed or diverged."""
        runs = self.cell(bn, lr)
        if not runs or not all(r.ok for r in runs):
            return None
        return mean(final_score(r, self.key) for r in runs)

    def best(self, bn: bool) -> tuple[float, float] | None:
        """(lr, mean final validation score) of the arm's best rate."""
        scored = [(lr, v) for lr in self.lrs if (v := self.final(bn, lr)) is not None]
        if not scored:
            return None
        return min(scored, key=lambda t: t[1]) if self.lower else max(scored, key=lambda t: t[1])

    def default_target(self) -> float | None:
        """95 % of the weaker arm's best final validation score (for an error: divided by 0.95),
        a level both arms reach at their best rate."""
        bests = [b[1] for bn in (True, False) if (b := self.best(bn)) is not None]
        if len(bests) < 2:
            return None
        weaker = max(bests) if self.lower else min(bests)
        return weaker / SLACK if self.lower else weaker * SLACK

    def trains(self, bn: bool, lr: float) -> bool:
        """Every seed finished without diverging and the mean final validation score reaches the target."""
        v = self.final(bn, lr)
        return v is not None and self.target is not None and (v <= self.target if self.lower else v >= self.target)

    def max_lr(self, bn: bool) -> float | None:
        good = [lr for lr in self.lrs if self.trains(bn, lr)]
        return max(good) if good else None

    def time_to_target(self, bn: bool, lr: float) -> tuple[int, int, float | None, float | None]:
        """(seeds that reached the target, seeds, mean epochs, mean seconds); the means only when all did."""
        runs = self.cell(bn, lr)
        hits = [h for r in runs if (h := reached(r, self.key, self.target, self.lower)) is not None] \
            if self.target is not None else []
        if runs and len(hits) == len(runs):
            return len(hits), len(runs), mean(h[0] for h in hits), mean(h[1] for h in hits)
        return len(hits), len(runs), None, None

    def fastest(self, bn: bool) -> tuple[float, float, float] | None:
        """(lr, mean epochs, mean seconds) of the rate that reaches the target in the fewest epochs
        (ties: fewer seconds), counting only rates where every seed reaches it."""
        timed = [(lr, e, s) for lr in self.lrs for _, _, e, s in [self.time_to_target(bn, lr)] if e is not None]
        return min(timed, key=lambda t: (t[1], t[2])) if timed else None

    def survived_lr(self) -> float | None:
        """The highest rate at which every run of both arms finished without diverging."""
        ok = [lr for lr in self.lrs if all(self.cell(bn, lr) and all(r.ok for r in self.cell(bn, lr))
                                           for bn in (True, False))]
        return max(ok) if ok else None

    def test_metric(self, bn: bool, lr: float) -> tuple[float | None, float | None]:
        vals = [on_test(r, self.metric) for r in self.cell(bn, lr)]
        return mean(vals), std(vals)

    def best_test(self, bn: bool) -> tuple[float, float] | None:
        """(lr, mean test metric) of the arm's best rate by the test metric (rates with a diverged seed left out)."""
        scored = [(lr, v) for lr in self.lrs if all(r.ok for r in self.cell(bn, lr))
                  and (v := self.test_metric(bn, lr)[0]) is not None]
        if not scored:
            return None
        return min(scored, key=lambda t: t[1]) if self.metric_lower else max(scored, key=lambda t: t[1])


def _lr(x: float | None) -> str:
    return "none" if x is None else f"{x:g}"


def grid_claims(g: Grid) -> list[tuple[str, Verdict]]:
    """(claim, verdict) for the two claims a grid tests, from the numbers (none without a target)."""
    if g.target is None:
        return []
    task = g.runs[0].task if g.runs else g.section
    hi_bn, hi_no = g.max_lr(True), g.max_lr(False)
    holds = hi_bn is not None and (hi_no is None or hi_bn > hi_no)
    out = [(HIGHER, Verdict(task, holds, f"The highest rate at which every seed trains (no divergence, mean final "
                                         f"{g.key} reaching {g.target:.4g}) is {_lr(hi_bn)} with batchnorm and "
                                         f"{_lr(hi_no)} without."))]
    f_bn, f_no = g.fastest(True), g.fastest(False)
    fast = f_bn is not None and (f_no is None or f_bn[1] < f_no[1])
    line = f"Fewest epochs to {g.key} {g.target:.4g} at any rate (every seed reaching it): "
    parts = [f"{arm_name(bn)} {f[1]:.3g} epochs (lr {f[0]:g}, {f[2]:.3g} s)" if f else f"{arm_name(bn)} never"
             for bn, f in ((True, f_bn), (False, f_no))]
    line += "; ".join(parts) + "."
    if f_bn and f_no:
        line += (f" In seconds batchnorm is {'faster' if f_bn[2] < f_no[2] else 'not faster'} "
                 f"({f_bn[2]:.3g} s against {f_no[2]:.3g} s).")
    return out + [(FASTER, Verdict(task, fast, line))]


def grid_verdicts(g: Grid) -> list[str]:
    """One sentence per claim, each ending "holds" or "does not hold" at this scale, from the numbers."""
    if g.target is None:
        missing = sum(r.status == MISSING for r in g.runs)
        return ["Not testable: an arm has no rate at which every seed finished without diverging"
                + (f" ({missing} runs not made yet)." if missing else ".")]
    out = [f"**{claim}: {v.word} at this scale.** {v.evidence}" for claim, v in grid_claims(g)]
    b_bn, b_no = g.best_test(True), g.best_test(False)
    if b_bn and b_no:
        win = better(b_bn[1], b_no[1], g.metric_lower)
        out.append(f"Best test {label(g.metric)} at any rate: {b_bn[1]:.4g} with batchnorm (lr {b_bn[0]:g}), "
                   f"{b_no[1]:.4g} without (lr {b_no[0]:g}): {'better' if win else 'not better'} with batchnorm.")
    return out
