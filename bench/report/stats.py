"""Statistics over seeds (or folds) for the tables: t intervals, paired tests, average ranks.

Small on purpose: scipy does the arithmetic; this module decides what is reported when there
are too few values for a statement (then it says so instead of guessing).
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Sequence

import numpy as np


def _st():
    """scipy.stats, imported on first use: a table without intervals or tests never pays for it."""
    from scipy import stats

    return stats

ALPHA = 0.05  # significance level of the paired comparison marks
TESTS = ("t-test", "wilcoxon")


def t_interval(values: Sequence[float], level: float = 0.95) -> tuple[float, float] | None:
    """The two-sided t confidence interval of the mean; None for fewer than two values."""
    v = np.asarray(values, dtype=np.float64)
    if len(v) < 2:
        return None
    mean, sem = float(v.mean()), float(v.std(ddof=1) / math.sqrt(len(v)))
    if sem == 0.0:
        return mean, mean
    half = float(_st().t.ppf(0.5 + level / 2, df=len(v) - 1)) * sem
    return mean - half, mean + half


@dataclass(frozen=True)
class Comparison:
    """A paired comparison of one cell against the reference cell over the seeds both have."""

    n: int  # paired values (seeds present in both)
    p: float | None  # None: too few pairs, or no variation in the differences
    better: bool  # the mean of this cell beats the reference's (direction-aware)
    test: str

    @property
    def significant(self) -> bool:
        return self.p is not None and self.p < ALPHA


def min_pairs(test: str) -> int:
    """Fewest pairs that can ever reach p < 0.05: 2 for the t-test; 6 for the exact two-sided
    Wilcoxon signed-rank test (with 5 pairs its smallest p is 0.0625)."""
    return {"t-test": 2, "wilcoxon": 6}[test]


def paired(values: dict[int, float], reference: dict[int, float], lower_is_better: bool,
           test: str = "t-test") -> Comparison:
    """Compare per-seed values with the reference's per-seed values, paired by seed."""
    if test not in TESTS:
        raise ValueError(f"unknown test {test!r}; choose from {', '.join(TESTS)}")
    seeds = sorted(set(values) & set(reference))
    a = np.array([values[s] for s in seeds], dtype=np.float64)
    b = np.array([reference[s] for s in seeds], dtype=np.float64)
    diff = a - b
    better = bool(len(seeds)) and bool(diff.mean() < 0 if lower_is_better else diff.mean() > 0)
    p = None
    if len(seeds) >= min_pairs(test) and np.any(diff != 0):
        with warnings.catch_warnings():  # near-identical differences: scipy warns, p stays usable
            warnings.simplefilter("ignore", RuntimeWarning)
            p = _pvalue(a, b, test)
        if p is not None and not math.isfinite(p):
            p = None
    return Comparison(n=len(seeds), p=p, better=better, test=test)


def _pvalue(a: np.ndarray, b: np.ndarray, test: str) -> float:
    if test == "t-test":
        return float(_st().ttest_rel(a, b).pvalue)  # constant nonzero differences: p = 0
    return float(_st().wilcoxon(a, b).pvalue)


def ranks(means: Sequence[float], lower_is_better: bool) -> np.ndarray:
    """Rank 1 = best; ties share the average of their ranks."""
    # By hand, not scipy.stats.rankdata: importing scipy.stats takes longer than `bench table`
    # may (0.5 s); tests/test_stats.py checks these against rankdata.
    v = np.asarray(means, dtype=np.float64)
    v = v if lower_is_better else -v
    order = np.argsort(v, kind="stable")
    out = np.empty(len(v))
    sorted_v = v[order]
    start = 0
    for end in range(1, len(v) + 1):
        if end == len(v) or sorted_v[end] != sorted_v[start]:
            out[order[start:end]] = (start + 1 + end) / 2  # the mean of ranks start+1 .. end
            start = end
    return out
