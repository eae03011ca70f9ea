"""The dataset contract checks of DESIGN.md (`bench check DATASET`), per split, on the real files."""
from __future__ import annotations

import time
from typing import Callable

import numpy as np
import pandas as pd

from bench.core.task import KINDS, Task
from bench.plugins.checks import CheckResult


DATASET_CHECK_NAMES = (
    "card",            # name, kind, target, metrics known to bench.core.metrics, at least one split
    "loads",           # load(split) returns a Task of the declared kind and metrics (any first)
    "shapes",          # X and y have one row per example
    "split-parts",     # train/valid/test are disjoint row positions inside the data; train, test non-empty
    "schema",          # schema columns are in X; categorical codes lie in 0..cardinality-1
    "finite-target",   # regression/rating targets are finite numbers
    "same-split",      # a second load gives the same split fingerprint (a pure function of the data)
    "split-seed",      # seeded splits only: split seed 1 is another draw of the same sizes
)


def check_card(c) -> None:
    """The card check alone (it needs no data): AssertionError saying what to set."""
    from bench.core.metrics import METRICS

    assert c.name, "set `name`"
    assert c.kind in KINDS, f"kind {c.kind!r} is not one of {KINDS}"
    assert c.target, "set `target` (the name of the predicted column)"
    assert c.metrics, "set `metrics` (the first is the table's headline)"
    unknown = [m for m in c.metrics if m not in METRICS]
    assert not unknown, f"unknown metric(s) {unknown}; bench.core.metrics knows {', '.join(METRICS)}"
    assert c.splits, "set `splits` (the first is the default)"


def dataset_checks(dataset_cls, data_dir, cache_dir, splits: tuple[str, ...] | None = None) -> list[CheckResult]:
    """The dataset contract checks of DESIGN.md, per split; each result names the split."""
    from bench.core.dataset import LoadContext

    results: list[CheckResult] = []

    def record(name: str, fn: Callable[[], None]) -> bool:
        t0 = time.perf_counter()
        try:
            fn()
            ok, msg = True, ""
        except AssertionError as e:
            ok, msg = False, str(e)
        except Exception as e:
            ok, msg = False, f"{type(e).__name__}: {e}"
        results.append(CheckResult(name, ok, msg, time.perf_counter() - t0))
        return ok

    if not record("card", lambda: check_card(dataset_cls)):
        return results
    ds = dataset_cls()
    ctx = LoadContext(data_dir, cache_dir)
    for split in splits or dataset_cls.splits:
        task: dict[str, Task] = {}

        def loads() -> None:
            t = ds.load(split, ctx)
            assert isinstance(t, Task), f"load returned {type(t).__name__}; return a bench.Task"
            assert t.kind == dataset_cls.kind, f"the task's kind is {t.kind!r}, the card says {dataset_cls.kind!r}"
            # a split may lead with another of the card's metrics (Rossmann's kaggle split: RMSPE)
            assert sorted(t.metrics) == sorted(dataset_cls.metrics), (
                f"the task's metrics {tuple(t.metrics)} differ from the card's {tuple(dataset_cls.metrics)}")
            task["t"] = t

        if not record(f"loads[{split}]", loads):
            continue
        t = task["t"]

        def shapes() -> None:
            assert len(t.X) == len(t.y), f"X has {len(t.X)} rows but y has {len(t.y)}"

        def split_parts() -> None:
            n = len(t.y)
            parts = {p: np.asarray(getattr(t.split, p)) for p in ("train", "valid", "test")}
            for p, idx in parts.items():
                assert idx.size == 0 or (idx.min() >= 0 and idx.max() < n), f"{p} has row positions outside 0..{n - 1}"
                assert len(np.unique(idx)) == len(idx), f"{p} repeats row positions"
            for a, b in (("train", "valid"), ("train", "test"), ("valid", "test")):
                both = np.intersect1d(parts[a], parts[b])
                assert not len(both), f"{a} and {b} share {len(both)} rows (first: {both[0]})"
            assert len(parts["train"]) and len(parts["test"]), "train and test must not be empty"

        def schema() -> None:
            if not isinstance(t.X, pd.DataFrame):
                return  # images: the array shape is the schema
            missing = [c for c in t.schema.columns if c not in t.X.columns]
            assert not missing, f"schema columns {missing} are not in X"
            for col, card_n in t.schema.categorical.items():
                codes = t.X[col].to_numpy()
                assert codes.min() >= 0 and codes.max() < card_n, (
                    f"categorical column {col!r} has codes {codes.min()}..{codes.max()}, "
                    f"outside 0..{card_n - 1}: encode it as integer codes")

        def finite_target() -> None:
            if t.kind in ("regression", "rating"):
                bad = ~np.isfinite(np.asarray(t.y, dtype=np.float64))
                assert not bad.any(), f"{int(bad.sum())} targets are NaN or inf"

        def same_split() -> None:
            again = ds.load(split, ctx).split.fingerprint
            assert again == t.split.fingerprint, (
                f"two loads gave split fingerprints {t.split.fingerprint} and {again}; "
                "draw the split with a fixed seed")

        def split_seed() -> None:
            other = ds.load(split, LoadContext(data_dir, cache_dir, split_seed=1)).split
            assert other.sizes() == t.split.sizes(), (
                f"split seed 1 gave part sizes {other.sizes()}, split seed 0 {t.split.sizes()}; "
                "a split seed redraws rows, it does not resize the parts")
            assert other.fingerprint != t.split.fingerprint, (
                f"split {split!r} is in seeded_splits but split seed 1 gave the same split as 0; seed "
                "its draw with self.split_seed_for(split, ctx), or drop it from seeded_splits")

        checks = [("shapes", shapes), ("split-parts", split_parts), ("schema", schema),
                  ("finite-target", finite_target), ("same-split", same_split)]
        for name, fn in checks + ([("split-seed", split_seed)] if split in dataset_cls.seeded_splits else []):
            record(f"{name}[{split}]", fn)
    return results
