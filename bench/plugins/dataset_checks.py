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
    assert not (getattr(c, "embedded", False) and (getattr(c, "files", ()) or getattr(c, "folder", None))), \
        "`embedded = True` says the dataset needs no files, but it names `folder` / `files`: delete " \
        "`embedded = True` so bench checks its files and says how to get them"


class CategoricalCodesError(ValueError):
    """A dataset's categorical columns are not integer codes 0..cardinality-1 (all of them named)."""


_WHAT = {"O": "objects", "U": "strings", "S": "bytes", "M": "datetimes", "m": "timedeltas", "c": "complex numbers"}


def _column_problem(values: pd.Series, cardinality: int) -> str:
    """Why one categorical column is not codes 0..cardinality-1, or "" when it is."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        example = next(iter(values.dropna().tolist()), None)
        return (f"is a pandas category column (e.g. {example!r}), which methods read as its values, not "
                "its codes: store `.cat.codes`")
    arr = values.to_numpy()
    if arr.dtype.kind not in "iubf":
        bad = next((v for v in arr.tolist() if not isinstance(v, (int, np.integer))), None)
        if bad is None:  # Python ints in an object column
            return f"has dtype {values.dtype}: store its codes as integers (.astype('int64'))"
        what = "strings" if isinstance(bad, str) else _WHAT.get(arr.dtype.kind, arr.dtype.name)
        return f"holds {what} (dtype {values.dtype}, e.g. {bad!r})"
    if arr.dtype.kind == "b" or not len(arr):
        return ""  # 0/1
    if arr.dtype.kind == "f":
        nan = int(np.isnan(arr).sum())
        if nan:
            return f"has {nan} missing value(s) (NaN; dtype {values.dtype}): give them a code of their own"
        frac = arr[arr != np.round(arr)]
        if len(frac):
            return f"holds non-integer numbers (dtype {values.dtype}, e.g. {frac[0].item()!r})"
    low, high = arr.min(), arr.max()
    if low < 0 or high >= cardinality:
        bad = arr[(arr < 0) | (arr >= cardinality)]
        return (f"has codes outside 0..{cardinality - 1} (e.g. {bad[0].item()!r}; its values span "
                f"{low.item()!r}..{high.item()!r}; the schema's cardinality is {cardinality})")
    return ""


def categorical_problems(task: Task) -> list[str]:
    """One line per categorical column of a tabular task that is not integer codes in
    0..cardinality-1 (missing from X, strings, NaN, out of range); empty when all are."""
    if not isinstance(task.X, pd.DataFrame):
        return []  # images: no columns
    out = []
    for col, cardinality in task.schema.categorical.items():
        why = "is not a column of X" if col not in task.X.columns else _column_problem(task.X[col], int(cardinality))
        if why:
            out.append(f"{col!r} {why}")
    return out


def check_categorical(task: Task, where: str = "") -> None:
    """Stop before any method sees a task whose categorical columns are not codes 0..n-1, with one
    error naming every bad column and the fix (every method then fails the same clear way)."""
    bad = categorical_problems(task)
    if not bad:
        return
    example = next(c for c in task.schema.categorical if f"{c!r} " in bad[0])
    raise CategoricalCodesError(
        f"{where or 'dataset ' + task.dataset}: categorical column{'s' if len(bad) > 1 else ''} must hold "
        f"integer codes 0..cardinality-1; {len(bad)} do{'es' if len(bad) == 1 else ''} not: "
        + "; ".join(bad) + f". Fix the dataset's load(): code each column, e.g. "
        f"X[{example!r}] = pd.factorize(X[{example!r}], sort=True)[0] (or .astype('category').cat.codes), "
        f"and give its number of codes in Schema(categorical={{{example!r}: n}}).")


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
            check_categorical(t, f"dataset {dataset_cls.name}, split {split!r}")  # every bad column named

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
