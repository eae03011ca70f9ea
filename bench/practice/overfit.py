"""The practice-overfit suite's numbers: per configuration (a row label) and task, what the runs'
histories say about overfitting, and the four claims' verdicts computed from those numbers.

A configuration is one of ``CONFIGS`` (the suite's row labels): the same network trained with no
regularisation, with weight decay as L2 in the loss under Adam, with decoupled weight decay
(AdamW), with dropout, with dropout and L2, and with early stopping (best weights restored).
Per run it reads the per-epoch history: the epoch with the best valid score, the valid score lost
between that epoch and the last one trained, and, where the history holds a training score in
the valid metric's units (the cnn plugin's ``train_error`` next to ``valid_accuracy``), the
train - valid gap of the weights that were tested. Plain Python over records: no torch.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from bench.practice.page_text import Verdict
from bench.practice.suite_runs import (Run, Stats, better, mean, select, std, valid_column, within_noise,
                                       within_spread)

NONE, L2, ADAMW, DROPOUT, BOTH, EARLY = "none", "l2", "adamw", "dropout", "dropout+l2", "early-stop"
CONFIGS = (NONE, L2, ADAMW, DROPOUT, BOTH, EARLY)  # the suite's labels, in table order
CURES = (L2, ADAMW, DROPOUT, BOTH)  # the cures claim 2 judges
NAMES = {NONE: "no regularisation", L2: "weight decay as L2 in the loss (Adam)",
         ADAMW: "decoupled weight decay (AdamW)", DROPOUT: "dropout", BOTH: "dropout + L2 weight decay (Adam)",
         EARLY: "early stopping (best weights restored)"}


def _num(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


@dataclass(frozen=True)
class Measures:
    """What one run's history says: epochs, the best valid epoch, the tested epoch and the gap."""

    epochs_run: int
    best_epoch: int
    best_valid: float
    tested_epoch: int  # the best epoch when the run restores the best weights, else the last
    tested_valid: float
    last_valid: float
    lost: float  # how much worse the last epoch's valid score is than the best (>= 0)
    train_loss_best: float  # training loss in the best valid epoch
    train_loss_last: float
    gap: float | None  # train - valid score of the tested weights, same units; None: no train score


def measures(run: Run) -> Measures | None:
    """The measures of an ok run with a valid score in every epoch row; None otherwise."""
    if not run.ok:
        return None
    column = f"valid_{run.metric}"
    rows = [r for r in run.epochs() if _num(r.get(column)) and _num(r.get("train_loss"))]
    if not rows:
        return None
    scores = [float(r[column]) for r in rows]
    pick = min if run.lower_is_better else max
    best = scores.index(pick(scores))  # the first epoch reaching the best score, as bench.nn.fit keeps it
    restores = bool(run.params.get("restore_best", True))
    tested = best if restores else len(rows) - 1
    gap = None
    train_error = rows[tested].get("train_error")
    if run.metric == "accuracy" and _num(train_error):  # a training accuracy in valid's units
        gap = (1.0 - float(train_error)) - scores[tested]
    return Measures(epochs_run=int(rows[-1]["epoch"]), best_epoch=int(rows[best]["epoch"]),
                    best_valid=scores[best], tested_epoch=int(rows[tested]["epoch"]), tested_valid=scores[tested],
                    last_valid=scores[-1], lost=abs(scores[-1] - scores[best]),
                    train_loss_best=float(rows[best]["train_loss"]), train_loss_last=float(rows[-1]["train_loss"]),
                    gap=gap)


@dataclass
class Config:
    """One configuration on one task: its runs over seeds, their stats and measures."""

    label: str
    stats: Stats

    @property
    def runs(self) -> list[Run]:
        return self.stats.runs

    @property
    def complete(self) -> bool:
        return self.stats.complete and all(measures(r) is not None for r in self.runs)

    def values(self, what: str) -> list[float]:
        """One measure over the seeds (``gap``, ``lost``, ``best_epoch``, ...); [] unless complete."""
        if not self.complete:
            return []
        vals = [getattr(measures(r), what) for r in self.runs]
        return [float(v) for v in vals if v is not None]

    def mean(self, what: str) -> float | None:
        return mean(self.values(what))

    def std(self, what: str) -> float | None:
        v = self.values(what)
        return (std(v) or 0.0) if v else None

    def param(self, key: str) -> Any:
        """A parameter all its runs share (None when they differ or there are no runs)."""
        values = {repr(r.params.get(key)) for r in self.runs}
        return self.runs[0].params.get(key) if len(values) == 1 and self.runs else None

    def n_parameters(self) -> int | None:
        """The weights of the network, as the plugin recorded them (info n_parameters)."""
        counts = {r.record.info.get("n_parameters") for r in self.runs if r.record is not None and r.ok}
        counts.discard(None)
        return int(next(iter(counts))) if len(counts) == 1 else None

    def train_size(self) -> int | None:
        sizes = {r.record.split.get("sizes", {}).get("train") for r in self.runs if r.record is not None}
        sizes.discard(None)
        return int(next(iter(sizes))) if len(sizes) == 1 else None


def configs_for(runs: Sequence[Run], task: str) -> dict[str, Config]:
    """The configurations present on one task, CONFIGS first (other labels after)."""
    mine = select(runs, task=task)
    labels = [c for c in CONFIGS if any(r.label == c for r in mine)]
    labels += [lb for lb in dict.fromkeys(r.label for r in mine) if lb not in labels]
    return {lb: Config(lb, Stats(select(mine, label=lb))) for lb in labels}


def gap_kind(configs: Mapping[str, Config]) -> str:
    """``gap`` where the histories hold a training score in valid's units, else ``lost``."""
    return "gap" if any(c.values("gap") for c in configs.values()) else "lost"


def curve(runs: Sequence[Run], column: str) -> dict[int, list[float]]:
    """Per epoch, the values of ``column`` over the ok runs that have it."""
    out: dict[int, list[float]] = {}
    for run in runs:
        if run.ok:
            for row in run.epochs():
                if _num(row.get(column)):
                    out.setdefault(int(row["epoch"]), []).append(float(row[column]))
    return out


def _f(x: float | None, digits: int = 4) -> str:
    return "n/a" if x is None else f"{x:.{digits}g}"


def overfits_verdict(task: str, configs: Mapping[str, Config]) -> Verdict:
    """Claim 1, on the unregularised runs' mean curves (epochs every seed ran): the valid score
    peaks in epoch k before the last, the last epoch's is worse than the peak by more than the
    seeds' std there, and the training loss still falls after k."""
    none = configs.get(NONE)
    if none is None or not none.complete:
        return Verdict(task, None, f"the '{NONE}' runs are missing or not all ok")
    runs = none.runs
    column = valid_column(runs)
    n = len(runs)
    valid = {e: v for e, v in curve(runs, column).items() if len(v) == n}
    train = {e: v for e, v in curve(runs, "train_loss").items() if len(v) == n}
    epochs = sorted(set(valid) & set(train))
    if len(epochs) < 2:
        return Verdict(task, None, "fewer than two epochs recorded")
    lower = none.stats.lower_is_better
    means = {e: mean(valid[e]) for e in epochs}
    k = (min if lower else max)(epochs, key=lambda e: means[e])
    last = epochs[-1]
    worse = (means[last] - means[k]) if lower else (means[k] - means[last])
    spread = std(valid[last]) or 0.0
    t_k, t_last = mean(train[k]), mean(train[last])
    holds = k < last and worse > spread and t_last < t_k
    name = column[len("valid_"):]
    return Verdict(task, holds, f"mean valid {name} is best in epoch {k} of {last} ({means[k]:.4f}) and "
                                f"{means[last]:.4f} in epoch {last} ({worse:+.4f} worse; the seeds' std there "
                                f"{spread:.4f}) while the training loss goes {_f(t_k)} -> {_f(t_last)}")


def cures_verdict(task: str, configs: Mapping[str, Config]) -> Verdict:
    """Claim 2: every cure present has a narrower gap (or valid score lost after its best epoch,
    where the history has no training score in valid's units) and a better test mean than none."""
    none = configs.get(NONE)
    cures = [configs[c] for c in CURES if c in configs]
    if none is None or not cures:
        return Verdict(task, None, "the unregularised or every regularised configuration is missing")
    if not all(c.complete for c in [none, *cures]):
        return Verdict(task, None, "a configuration has runs missing or not ok")
    kind = gap_kind(configs)
    lower = none.stats.lower_is_better
    base_gap, base_test = none.mean(kind), none.stats.mean()
    parts, ok = [], True
    for c in cures:
        gap, test = c.mean(kind), c.stats.mean()
        narrower, improves = gap < base_gap, bool(better(test, base_test, lower))
        ok = ok and narrower and improves
        noise = "; within the seeds' std" if within_noise(c.stats, none.stats) else ""
        parts.append(f"{c.label} {gap:.4f} ({'narrower' if narrower else 'not narrower'}), test {test:.4f} "
                     f"({'better' if improves else 'not better'}{noise})")
    what = ("train - valid gap of the tested weights" if kind == "gap"
            else "valid score lost after the best epoch (no training score in valid's units)")
    return Verdict(task, ok, f"{what}: {NONE} {base_gap:.4f}, test {base_test:.4f}; " + "; ".join(parts))


def early_verdict(task: str, configs: Mapping[str, Config]) -> Verdict:
    """Claim 3: early stopping recovers the best valid epoch (the valid score of the weights it
    tested is no worse than the unregularised runs' best over all their epochs, or within the
    seeds' std of it) at no cost (its test mean is no worse than the unregularised runs', or within
    the seeds' std, and it trains no more epochs)."""
    none, early = configs.get(NONE), configs.get(EARLY)
    if none is None or early is None:
        return Verdict(task, None, f"'{NONE}' or '{EARLY}' is not in the suite")
    if not (none.complete and early.complete):
        return Verdict(task, None, "a run is missing or not ok")
    lower = none.stats.lower_is_better
    t_none, t_early = none.stats.mean(), early.stats.mean()
    no_cost = not better(t_none, t_early, lower) or within_noise(none.stats, early.stats)
    e_none, e_early = none.mean("epochs_run"), early.mean("epochs_run")
    same = sum(measures(a).tested_epoch == measures(b).best_epoch
               for a in early.runs for b in none.runs if a.seed == b.seed)
    kept, best = early.values("tested_valid"), none.values("best_valid")
    recovers = not better(mean(best), mean(kept), lower) or bool(within_spread(kept, best))
    holds = recovers and no_cost and e_early <= e_none
    noise = " (within the seeds' std)" if within_noise(none.stats, early.stats) else ""
    return Verdict(task, holds, f"test {t_early:.4f} with early stopping (patience {early.param('patience')}) vs "
                                f"{t_none:.4f} without{noise}; {e_early:.1f} vs {e_none:.1f} epochs; tested valid "
                                f"score {early.mean('tested_valid'):.4f} vs the unregularised runs' best "
                                f"{none.mean('best_valid'):.4f} (their epoch {none.mean('best_epoch'):.1f} on "
                                f"average{'' if recovers else '; not recovered'}); it tested the unregularised run's best epoch in {same} of "
                                f"{len(early.runs)} seeds")


def adam_l2_verdict(task: str, configs: Mapping[str, Config]) -> Verdict:
    """Claim 4: at the same weight decay, L2 in Adam's loss and AdamW's decoupled decay give test
    means further apart than the larger of their seeds' stds."""
    l2, w = configs.get(L2), configs.get(ADAMW)
    if l2 is None or w is None:
        return Verdict(task, None, f"'{L2}' or '{ADAMW}' is not in the suite")
    wd_l2, wd_w = l2.param("weight_decay"), w.param("weight_decay")
    if wd_l2 is None or wd_w is None or not math.isclose(float(wd_l2), float(wd_w)):
        return Verdict(task, None, f"their weight decays differ ({wd_l2} vs {wd_w})")
    if not (l2.complete and w.complete):
        return Verdict(task, None, "a run is missing or not ok")
    a, b = l2.stats.mean(), w.stats.mean()
    spread = max(l2.stats.std() or 0.0, w.stats.std() or 0.0)
    return Verdict(task, not within_noise(l2.stats, w.stats),
                   f"at weight decay {wd_l2:g}: test {a:.4f} ± {l2.stats.std():.4f} (L2 in Adam's loss) vs "
                   f"{b:.4f} ± {w.stats.std():.4f} (AdamW), {abs(a - b):.4f} apart (larger std {spread:.4f})")


CLAIMS = (
    ("Without regularisation the network overfits: its valid score gets worse after some epoch k while its "
     "training loss keeps falling.", overfits_verdict),
    ("Weight decay (L2 or decoupled), dropout and both narrow the train - valid gap and improve the test score "
     "over the unregularised network.", cures_verdict),
    ("Early stopping (best weights restored) recovers the best valid epoch at no cost: a test score no worse "
     "than training on to the last epoch, in no more epochs.", early_verdict),
    ("Weight decay as L2 in the loss under Adam and decoupled weight decay (AdamW) are not the same: different "
     "test scores at the same weight decay.", adam_l2_verdict),
)
