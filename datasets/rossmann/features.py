"""The rossmann task of a joined table: the rows kept, the features of each split (paper,
shuffled, kaggle) and the split itself."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from bench import FilesMissing, Schema, Split, Task

from .read import MONTH_ABBR

SPLIT_SEED = 0  # the paper / shuffled splits' default split seed; never a run's (model) seed
KAGGLE_TEST_DAYS = 48

PAPER_FEATURES = ("store", "day_of_week", "promo", "year", "month", "day", "state")


def _code(values: Any) -> tuple[np.ndarray, list]:
    """Integer codes 0..k-1 of the sorted unique values (a Series of text, or integers), and
    those values in code order."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "iu" and len(values):
        lo, hi = int(values.min()), int(values.max())
        if hi - lo < 1 << 22:  # small integer range: a lookup table is much faster than a hash
            present = np.zeros(hi - lo + 1, dtype=bool)
            present[values - lo] = True
            lookup = np.cumsum(present, dtype=np.int64) - 1
            return lookup[values - lo], (np.flatnonzero(present) + lo).tolist()
    codes, uniques = pd.factorize(values, sort=True)
    if (codes < 0).any():
        raise ValueError("missing values in a categorical column")
    return np.asarray(codes, dtype=np.int64), list(uniques)


def _int_or(values: pd.Series, fill: int) -> np.ndarray:
    """A nullable integer column as float64 with missing values replaced by ``fill``."""
    return np.nan_to_num(values.to_numpy(dtype=np.float64, na_value=np.nan), nan=fill)


def _paper_features(rows: pd.DataFrame) -> dict[str, np.ndarray]:
    dt = rows["Date"].dt
    return {
        "store": rows["Store"].to_numpy(),
        "day_of_week": rows["DayOfWeek"].to_numpy(),
        "promo": rows["Promo"].to_numpy(),
        "year": dt.year.to_numpy(),
        "month": dt.month.to_numpy(),
        "day": dt.day.to_numpy(),
        "state": rows["State"],
    }


def _kaggle_features(rows: pd.DataFrame) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    dt = rows["Date"].dt
    year = dt.year.to_numpy().astype(np.int64)
    month = dt.month.to_numpy().astype(np.int64)
    week = dt.isocalendar()["week"].to_numpy().astype(np.int64)
    promo2 = rows["Promo2"].to_numpy()
    interval = rows["PromoInterval"]
    comp_year = _int_or(rows["CompetitionOpenSinceYear"], 0)
    comp_month = _int_or(rows["CompetitionOpenSinceMonth"], 0)
    p2_year = _int_or(rows["Promo2SinceYear"], 0)
    p2_week = _int_or(rows["Promo2SinceWeek"], 0)

    comp_months = np.where(comp_year > 0, 12 * (year - comp_year) + (month - comp_month), 0)
    p2_weeks_raw = np.where((promo2 == 1) & (p2_year > 0), 52 * (year - p2_year) + (week - p2_week), -1)
    # Is this month one of the store's Promo2 restart months? (one lookup per distinct interval)
    icodes, iuniques = pd.factorize(interval)
    table = np.array([[m in str(u).split(",") for m in MONTH_ABBR] for u in iuniques], dtype=bool)
    in_interval = table[icodes, month - 1] if len(iuniques) else np.zeros(len(rows), bool)
    dist = rows["CompetitionDistance"].to_numpy(dtype=np.float64)
    median = np.nanmedian(dist) if np.isfinite(dist).any() else 0.0

    cat = {
        "store": rows["Store"].to_numpy(),
        "day_of_week": rows["DayOfWeek"].to_numpy(),
        "promo": rows["Promo"].to_numpy(),
        "state_holiday": rows["StateHoliday"],
        "school_holiday": rows["SchoolHoliday"].to_numpy(),
        "year": year,
        "month": month,
        "day": dt.day.to_numpy(),
        "week_of_year": week,
        "store_type": rows["StoreType"],
        "assortment": rows["Assortment"],
        "promo2": promo2,
        "promo_interval": rows["PromoInterval"],
        "promo2_month": ((p2_weeks_raw >= 0) & in_interval).astype(np.int64),
        "competition_open_since_year": comp_year.astype(np.int64),
        "promo2_since_year": p2_year.astype(np.int64),
    }
    if "State" in rows:
        cat["state"] = rows["State"]
    cont = {
        "competition_distance": np.log1p(np.where(np.isnan(dist), median, dist)),
        "competition_open_months": np.clip(comp_months, 0, 240).astype(np.float64),
        "promo2_weeks": np.clip(p2_weeks_raw, 0, 260).astype(np.float64),
    }
    return cat, cont


def _check_rows(train_rows: int | None, valid_rows: int) -> None:
    for name, value in (("train_rows", train_rows), ("valid_rows", valid_rows)):
        if (value is not None or name == "valid_rows") and not (
                isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= 0):
            raise ValueError(f"{name} must be a non-negative integer"
                             f"{' or None' if name == 'train_rows' else ''}, got {value!r}")


def _valid_then_train(drawn: np.ndarray, train_rows: int | None, valid_rows: int
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Valid = the first ``valid_rows`` of rows already in random order, train = the next
    ``train_rows`` (None: all the rest); valid is served first, train gets what is left."""
    n_valid = min(int(valid_rows), len(drawn))
    n_train = len(drawn) - n_valid if train_rows is None else min(int(train_rows), len(drawn) - n_valid)
    return drawn[:n_valid], drawn[n_valid:n_valid + n_train]


def _make_split(name: str, train: np.ndarray, valid: np.ndarray, test: np.ndarray) -> Split:
    return Split(name, np.sort(train).astype(np.int64), np.sort(valid).astype(np.int64),
                 np.sort(test).astype(np.int64))


def _paper_split(rows: pd.DataFrame, train_rows: int | None, valid_rows: int,
                 split_seed: int = SPLIT_SEED) -> Split:
    _check_rows(train_rows, valid_rows)
    n = len(rows)
    order = np.lexsort((rows["Store"].to_numpy(), rows["Date"].to_numpy().astype("datetime64[ns]")
                        .astype(np.int64)))  # stable: by date, then store, then position
    n_old = (9 * n) // 10  # floor(0.9 n): test is the last n - floor(0.9 n) rows
    old, test = order[:n_old], order[n_old:]
    perm = np.random.default_rng(split_seed).permutation(n_old)
    valid, train = _valid_then_train(old[perm], train_rows, valid_rows)
    return _make_split("paper", train, valid, test)


def _shuffled_split(n: int, train_rows: int | None, valid_rows: int,
                    split_seed: int = SPLIT_SEED) -> Split:
    """The paper's Table 3 protocol (its code's ``shuffle_data``): one seeded permutation of all
    the rows; test = its last ``n - floor(0.9 n)`` rows, valid then train from the first ones."""
    _check_rows(train_rows, valid_rows)
    perm = np.random.default_rng(split_seed).permutation(n)
    n_rest = (9 * n) // 10
    valid, train = _valid_then_train(perm[:n_rest], train_rows, valid_rows)
    return _make_split("shuffled", train, valid, perm[n_rest:])


def _kaggle_split(rows: pd.DataFrame) -> Split:
    days = rows["Date"].to_numpy().astype("datetime64[D]")
    last = days.max()
    test_from = last - np.timedelta64(KAGGLE_TEST_DAYS - 1, "D")
    valid_from = test_from - np.timedelta64(KAGGLE_TEST_DAYS, "D")
    test = np.flatnonzero(days >= test_from)
    valid = np.flatnonzero((days >= valid_from) & (days < test_from))
    train = np.flatnonzero(days < valid_from)
    if len(train) == 0:
        raise ValueError(f"the kaggle split needs more than {2 * KAGGLE_TEST_DAYS} days of data; "
                         f"got {(last - days.min()).astype(int) + 1}")
    return Split("kaggle", train.astype(np.int64), valid.astype(np.int64), test.astype(np.int64))


def build_task(table: pd.DataFrame, split: str, *, dataset: str, train_rows: int | None = 200_000,
               valid_rows: int = 20_000, synthetic: bool = False, states_hint: str = "",
               split_seed: int = SPLIT_SEED) -> Task:
    """The task of one named split from a table made by :func:`join_raw`; ``split_seed`` seeds
    the paper and shuffled splits' draws (the kaggle split draws nothing)."""
    if split in ("paper", "shuffled") and "State" not in table:
        raise FilesMissing(f"dataset {dataset}: the {split} split needs store_states.csv (columns "
                           f"Store,State: each store's German state) for its state feature. "
                           f"{states_hint}".strip())
    sales = table["Sales"].to_numpy()
    keep = sales > 0
    if split == "kaggle":
        keep &= table["Open"].to_numpy(dtype=np.float64, na_value=1.0) != 0
    if not keep.any():
        raise ValueError(f"dataset {dataset}: no rows with Sales > 0")
    rows = table.loc[keep].reset_index(drop=True)

    if split == "paper":
        cat, cont = _paper_features(rows), {}
        parts = _paper_split(rows, train_rows, valid_rows, split_seed)
        metrics: tuple[str, ...] = ("mape", "rmspe")
        what = (f"Rossmann paper split (Guo & Berkhahn 2016): rows with Sales > 0; test = the most "
                f"recent {len(parts.test):,} rows; train {len(parts.train):,} and valid "
                f"{len(parts.valid):,} rows drawn (split seed {split_seed}) from the older 90 %")
    elif split == "shuffled":
        cat, cont = _paper_features(rows), {}
        parts = _shuffled_split(len(rows), train_rows, valid_rows, split_seed)
        metrics = ("mape", "rmspe")
        what = (f"Rossmann shuffled split (Guo & Berkhahn 2016, Table 3): rows with Sales > 0; test = "
                f"{len(parts.test):,} rows (10 %) drawn at random, train {len(parts.train):,} and valid "
                f"{len(parts.valid):,} rows drawn from the rest (split seed {split_seed})")
    elif split == "kaggle":
        cat, cont = _kaggle_features(rows)
        parts = _kaggle_split(rows)
        metrics = ("rmspe", "mape")
        what = (f"Rossmann time split: open days with Sales > 0; test = the last {KAGGLE_TEST_DAYS} "
                f"days, valid = the {KAGGLE_TEST_DAYS} days before, train = everything earlier")
    else:  # pragma: no cover - check_split guards this
        raise KeyError(split)

    # One int64 block (rows of a C-contiguous (k, n) array: no copy into the frame), then floats.
    codes = np.empty((len(cat), len(rows)), dtype=np.int64)
    cards: dict[str, int] = {}
    labels: dict[str, list] = {}
    for i, (name, values) in enumerate(cat.items()):
        codes[i], labels[name] = _code(values)
        cards[name] = len(labels[name])
    X = pd.DataFrame(codes.T, columns=list(cat), copy=False)
    for name, values in cont.items():
        X[name] = np.asarray(values, dtype=np.float64)
    return Task(dataset=dataset, kind="regression", target="Sales", metrics=metrics,
                schema=Schema(categorical=cards, continuous=tuple(cont)), X=X,
                y=rows["Sales"].to_numpy(dtype=np.float64), split=parts, synthetic=synthetic,
                target_transform="log", description=what, categories=labels)

