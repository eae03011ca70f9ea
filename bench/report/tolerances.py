"""Check tolerances that a suite's seeds justify, written into its committed expectations.

A fresh run on another machine (another CPU, a GPU) does not repeat a network's committed number
bit for bit, but it should land within the spread that the model seeds already show: for a row
with several model seeds, a metric may move by ``SPREAD`` standard deviations of its seeds
(relative to their mean) before ``bench table --check`` calls it a change. A row with one seed
justifies nothing: it keeps the metric's own tolerance, or the suite's ``[table.tolerance]``.
"""
from __future__ import annotations

import math
from collections import defaultdict
from typing import Any, Iterable

import numpy as np

from bench.core.spec import RunRecord, RunSpec

SPREAD = 3.0  # a rerun of seed k differs from the committed seed k by ~sqrt(2) std; 3 leaves room
CAP = 0.1  # never more than 10 %: a mean near 0 or one diverged seed must not make a row uncheckable


def row_of(spec: RunSpec) -> tuple:
    """The runs that differ only by model seed (parameter values may be lists: compared as text)."""
    return (spec.dataset, repr(spec.dataset_params), spec.split, spec.split_seed, spec.label, spec.method,
            repr(spec.overrides), spec.column)


def from_seeds(chosen: Iterable[tuple[RunSpec, RunRecord | None]]) -> dict[tuple, dict[str, float]]:
    """{row: {metric: relative tolerance}} for rows with at least two ok seeds."""
    values: dict[tuple, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for spec, rec in chosen:
        if rec is not None and rec.status == "ok":
            for m, v in rec.metrics.items():
                if isinstance(v, (int, float)) and math.isfinite(v):
                    values[row_of(spec)][m].append(float(v))
    out: dict[tuple, dict[str, float]] = {}
    for row, metrics in values.items():
        tol = {m: round(min(CAP, SPREAD * float(np.std(v, ddof=1)) / abs(float(np.mean(v)))), 6)
               for m, v in metrics.items() if len(v) > 1 and np.mean(v) != 0}
        if tol:
            out[row] = tol
    return out


def seed_tolerance(entry: dict[str, Any], metric: str) -> float | None:
    """The committed entry's seed-justified tolerance of ``metric``, if it has one."""
    value = entry.get("seed_rtol", {}).get(metric) if isinstance(entry.get("seed_rtol"), dict) else None
    return float(value) if isinstance(value, (int, float)) else None
