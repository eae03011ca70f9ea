"""Rating networks with and without a sigmoid y-range, with and without batchnorm (`bench practice
bn`): does a range, or batchnorm's learned scale and shift, help a network hit the ratings' range?
A very wide range stands in for "no range" (the collab plugin's output is always a sigmoid)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from bench.practice.bn import label, lower_is_better, on_test
from bench.practice.page_text import Verdict
from bench.practice.suite_runs import Run, better, mean, std, within_spread

HELPS = "A y-range helps the network hit the ratings' range"
STANDS_IN = "Batchnorm's learned scale and shift stand in for a missing range"


def y_range_text(value: Any) -> str:
    """"auto" or "(lo, hi)"."""
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return f"({value[0]:g}, {value[1]:g})"
    return str(value)


def y_range_width(value: Any) -> float:
    """How wide a y-range is ("auto", fitted to the targets, counts as the narrowest)."""
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return float(value[1]) - float(value[0])
    return 0.0


@dataclass
class Ranges:
    """Rating networks with and without batchnorm, each with a narrow and a very wide y-range."""

    section: str
    runs: list[Run]
    key: str
    metric: str

    @property
    def settings(self) -> list[tuple[str, str]]:
        """(variant, y-range text), no batchnorm first, narrow range first."""
        seen = {(r.batchnorm, y_range_width(yr), r.variant, y_range_text(yr))
                for r in self.runs for yr in [r.params.get("y_range")]}
        return [(v, t) for _, _, v, t in sorted(seen)]

    def cell(self, variant: str, yr: str) -> list[Run]:
        return [r for r in self.runs if r.variant == variant and y_range_text(r.params.get("y_range")) == yr]

    def values(self, variant: str, yr: str, what: str, epoch: int | None = None) -> list[float]:
        """A test metric (``epoch`` None) or the validation score after ``epoch`` (-1: the last), per
        usable seed."""
        out = []
        for r in self.cell(variant, yr):
            rows = r.epochs()
            if not r.ok:
                continue
            if epoch is None:
                out.append(on_test(r, what))
            elif rows and len(rows) >= (epoch if epoch > 0 else 1):
                out.append(rows[epoch - 1 if epoch > 0 else -1].get(what))
        return [v for v in out if isinstance(v, (int, float)) and math.isfinite(v)]

    def narrow_wide(self, variant: str) -> tuple[str, str] | None:
        yrs = [t for v, t in self.settings if v == variant]
        return (yrs[0], yrs[-1]) if len(yrs) >= 2 else None


def compare(a: list[float], b: list[float], lower: bool) -> str:
    """"better" / "worse" when a's mean beats / trails b's by more than the larger spread over
    seeds (any difference with one seed each), else "the same within the seeds' spread"."""
    same = within_spread(a, b)
    if same is None:
        return "not comparable"
    if same:
        return "the same within the seeds' spread"
    return "better" if better(mean(a), mean(b), lower) else "worse"


def range_verdicts(rg: Ranges) -> list[str]:
    """The claims' verdicts (a range helps; batchnorm stands in for a missing one), then a line per variant."""
    claims, lines = range_claims(rg)
    name = label(rg.metric)
    verdicts = []
    for claim, v in claims:
        if claim == HELPS:
            verdicts.append(f"**{HELPS}: {v.word} at this scale** (it holds when every variant's test {name} is "
                            "better with the range than without, by more than the spread over seeds).")
        else:
            verdicts.append(f"**{STANDS_IN}: {v.word} at this scale.** {v.evidence}")
    return verdicts + lines


def range_claims(rg: Ranges) -> tuple[list[tuple[str, Verdict]], list[str]]:
    """(claim, verdict) for the claims the ranges test, and a line per variant (its scores with and
    without a range), from the numbers."""
    lower, key_lower, name = lower_is_better(rg.metric), lower_is_better(rg.key), label(rg.metric)
    task = rg.runs[0].task if rg.runs else rg.section

    def text(v: str, yr: str, epoch: int | None = None) -> str:
        return spread_text(rg.values(v, yr, rg.key if epoch else rg.metric, epoch))

    variants = [v for v in dict.fromkeys(v for v, _ in rg.settings) if rg.narrow_wide(v)]
    lines, helps, tests = [], [], []
    for v in variants:
        narrow, wide = rg.narrow_wide(v)
        c = compare(rg.values(v, narrow, rg.metric), rg.values(v, wide, rg.metric), lower)
        early = compare(rg.values(v, narrow, rg.key, 1), rg.values(v, wide, rg.key, 1), key_lower)
        helps.append(c == "better")
        tests.append(f"{v}: test {name} {text(v, narrow)} with y-range {narrow}, {text(v, wide)} with {wide} "
                     f"({c} with the range)")
        lines.append(f"{tests[-1]}; {rg.key} after one epoch {text(v, narrow, 1)} against "
                     f"{text(v, wide, 1)} ({early} with the range).")
    claims = []
    if helps:
        claims.append((HELPS, Verdict(task, all(helps), "; ".join(tests) + ".")))
    with_bn = [v for v in variants if all(r.batchnorm for r in rg.cell(v, rg.narrow_wide(v)[1]))]
    without = [v for v in variants if v not in with_bn]
    if with_bn and without:
        b, n = with_bn[0], without[0]
        wb, wn = rg.narrow_wide(b)[1], rg.narrow_wide(n)[1]
        c = compare(rg.values(b, wb, rg.metric), rg.values(n, wn, rg.metric), lower)
        claims.append((STANDS_IN, Verdict(task, c == "better", f"Without a range (y-range {wb}), {b} scores test "
                                                                f"{name} {text(b, wb)}, {n} {text(n, wn)}: {c} "
                                                                "with batchnorm.")))
    return claims, lines


def spread_text(values: list[float]) -> str:
    """"mean ± std" over seeds (the mean alone for one seed), "n/a" for none."""
    m, s = mean(values), std(values)
    if m is None:
        return "n/a"
    return f"{m:.4g}" + (f" ± {s:.2g}" if s is not None else "")
