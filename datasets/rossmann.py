"""Rossmann Store Sales (Kaggle) and ``rossmann-sim``, a seeded generator with its exact raw schema.

Both datasets go through the same two functions:

* :func:`join_raw` turns raw frames in Kaggle's schema (``train.csv``, ``store.csv`` and the
  optional ``store_states.csv``, as ``pandas.read_csv`` returns them) into one validated table:
  the train rows, in their file order, joined with their store's attributes and state.
  ``rossmann`` caches this table as parquet (keyed by the source files' sha256);
  ``rossmann-sim`` generates the raw frames with :func:`generate_raw` instead of reading CSVs.
* :func:`build_task` turns that table into a :class:`bench.Task` for one named split.

Splits (the rows kept are the task's rows; ``Split`` holds positions into them, in the table's
own order, which for Kaggle's file is date descending, store ascending):

``paper`` (default) -- Guo & Berkhahn (2016), "Entity Embeddings of Categorical Variables":
    keep rows with Sales > 0; order them chronologically (stable sort by Date, then Store);
    the *older* part is the first ``floor(0.9 * n)`` rows in that order and test is the rest
    (the last ``n - floor(0.9 * n)`` rows, i.e. ceil of 10 %, as in the paper's code, which
    uses ``train_size = int(0.9 * n)``). train = ``train_rows`` rows (default 200,000) drawn
    at random *without* replacement from the older part (the paper's code draws with
    replacement) and valid = ``valid_rows`` further rows (default 20,000) from the rest of the
    older part, disjoint from train, for early stopping (when the older part is too small,
    valid is served first and train gets what is left; ``train_rows=None`` = all of it).
    One seeded permutation of the older part gives valid (its first rows) and then train, so
    valid does not depend on ``train_rows`` and a smaller train is a subset of a larger one.
    The draw is seeded by the split seed
    (``SPLIT_SEED`` = 0 unless a suite's ``split_seeds`` asks for others; another split seed
    redraws train and valid, test stays the most recent rows), so the split is a pure function
    of the data and that seed.
    Features, all categorical: store, day_of_week, promo, year, month, day, state.
    Needs ``store_states.csv``. Metrics: MAPE (headline), RMSPE.

``kaggle`` -- a time split like the competition's: keep rows with Sales > 0 and Open != 0;
    test = the last 48 days of the data (computed from the latest date: 2015-06-14 ..
    2015-07-31 on the real file), valid = the 48 days before, train = everything earlier.
    ``train_rows`` / ``valid_rows`` do not apply; nothing is drawn, so it takes no split seed.
    Metrics: RMSPE (headline), MAPE.
    Categorical: store, day_of_week, promo, state_holiday, school_holiday, year, month, day,
    week_of_year, store_type, assortment, promo2, promo_interval, promo2_month (this month is
    one of the store's Promo2 restart months and Promo2 has started), competition_open_since_year
    and promo2_since_year (0 = unknown / none), state (when store_states.csv is there).
    Continuous: competition_distance (log1p; blanks filled with the median),
    competition_open_months (months since the competitor opened, clipped to 0..240, 0 when
    unknown), promo2_weeks (weeks since Promo2 started, clipped to 0..260, 0 without Promo2).

Categorical columns hold codes 0..cardinality-1: each column's sorted unique values over the
task's rows. The target is Sales (float64); ``target_transform = "log"``.
"""
from __future__ import annotations

import csv
import hashlib
import io
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench import Dataset, FilesMissing, LoadContext, Schema, Split, Task
from bench.data.paths import atomic_write, open_nofollow, private_dir

KAGGLE_URL = "https://www.kaggle.com/c/rossmann-store-sales/data"
REDOWNLOAD = f"re-download it from the Kaggle competition rossmann-store-sales ({KAGGLE_URL})"

TRAIN_COLUMNS = ("Store", "DayOfWeek", "Date", "Sales", "Customers", "Open", "Promo",
                 "StateHoliday", "SchoolHoliday")
STORE_COLUMNS = ("Store", "StoreType", "Assortment", "CompetitionDistance",
                 "CompetitionOpenSinceMonth", "CompetitionOpenSinceYear", "Promo2",
                 "Promo2SinceWeek", "Promo2SinceYear", "PromoInterval")
STATE_COLUMNS = ("Store", "State")
# The codes of the real store_states.csv (Bremen and Lower Saxony share one code).
STATE_CODES = ("BE", "BW", "BY", "HB,NI", "HE", "HH", "NW", "RP", "SH", "SN", "ST", "TH")
STATE_HOLIDAYS = ("0", "a", "b", "c")  # none, public holiday, Easter, Christmas
MONTH_ABBR = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sept", "Oct", "Nov", "Dec")

SPLIT_SEED = 0  # the paper split's default split seed; never a run's (model) seed
CACHE_VERSION = 1  # bump when join_raw's output changes
KAGGLE_TEST_DAYS = 48

PAPER_FEATURES = ("store", "day_of_week", "promo", "year", "month", "day", "state")


# ----------------------------------------------------------------------------------------------
# Reading Kaggle's files
# ----------------------------------------------------------------------------------------------

def _read_csv(path: Path, dtype: dict[str, Any]) -> pd.DataFrame:
    """Read one CSV as published; parse failures become a ValueError that names the file."""
    try:
        header = pd.read_csv(path, nrows=0)
        dtype = {k: v for k, v in dtype.items() if k in header.columns}
        return pd.read_csv(path, dtype=dtype)
    except pd.errors.EmptyDataError as e:
        raise ValueError(f"{path}: the file is empty ({e}); {REDOWNLOAD}") from e
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OverflowError) as e:
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(f"{path}: cannot parse it as CSV ({msg}); the file looks truncated "
                         f"or corrupt; {REDOWNLOAD}") from e


def read_kaggle_csvs(folder: str | os.PathLike) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame | None]:
    """Read train.csv, store.csv and (if present) store_states.csv from ``folder``, unvalidated.

    StateHoliday is read as text (the file mixes quoted "0" and "a"/"b"/"c"; other copies
    have a bare 0). Pass the result to :func:`join_raw`, which checks and converts it.
    """
    folder = Path(folder)
    train = _read_csv(folder / "train.csv", {"StateHoliday": str, "Date": str})
    store = _read_csv(folder / "store.csv", {"StoreType": str, "Assortment": str,
                                            "PromoInterval": str})
    states_path = folder / "store_states.csv"
    states = _read_csv(states_path, {"State": str}) if states_path.exists() else None
    return train, store, states


# ----------------------------------------------------------------------------------------------
# Validating and joining raw frames (shared by the real files and the generator)
# ----------------------------------------------------------------------------------------------

def _fail(source: str, what: str) -> ValueError:
    return ValueError(f"{source}: {what}; the file looks truncated or corrupt; {REDOWNLOAD}")


def _first_bad(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def _numeric(df: pd.DataFrame, col: str, source: str, *, nullable: bool = False,
             integer: bool = True) -> pd.Series:
    """Column ``col`` as int64 (or Int64 when ``nullable``), or float64 when not ``integer``."""
    s = df[col]
    if not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
        num = pd.to_numeric(s, errors="coerce")
        bad = (num.isna() & s.notna()).to_numpy()
        if bad.any():
            i = _first_bad(bad)
            raise _fail(source, f"data row {i + 1}: column {col} holds {s.iloc[i]!r}, not a number")
        s = num
    values = s.to_numpy(dtype=np.float64, na_value=np.nan)
    missing = np.isnan(values)
    if not nullable and missing.any():
        raise _fail(source, f"data row {_first_bad(missing) + 1}: column {col} is empty")
    if not integer:
        return pd.Series(values, name=col)
    frac = ~missing & (values != np.round(values))
    if frac.any():
        i = _first_bad(frac)
        raise _fail(source, f"data row {i + 1}: column {col} holds {values[i]!r}, not an integer")
    if nullable:
        ints = np.where(missing, 0, values).astype(np.int64)
        return pd.Series(pd.arrays.IntegerArray(ints, missing), name=col)
    return pd.Series(values.astype(np.int64), name=col)


def _text(df: pd.DataFrame, col: str, source: str, *, nullable: bool = False,
          allowed: tuple[str, ...] | None = None) -> pd.Series:
    s = df[col]
    missing = s.isna().to_numpy()
    if not nullable and missing.any():
        raise _fail(source, f"data row {_first_bad(missing) + 1}: column {col} is empty")
    if pd.api.types.is_float_dtype(s):  # a bare 0 read as a number: 0.0 -> "0"
        s = s.map(lambda v: v if pd.isna(v) else (str(int(v)) if float(v).is_integer() else str(v)))
    out = s.astype(object).where(~missing, "").astype(str).str.strip().astype("str")
    if allowed is not None:
        bad = ~out.isin(allowed).to_numpy()
        if bad.any():
            i = _first_bad(bad)
            raise _fail(source, f"data row {i + 1}: column {col} holds {s.iloc[i]!r}; "
                                f"expected one of {', '.join(allowed)}")
    return out.rename(col)


def _check_columns(df: pd.DataFrame, expected: tuple[str, ...], source: str) -> None:
    missing = [c for c in expected if c not in df.columns]
    if missing:
        raise ValueError(f"{source}: missing column(s) {', '.join(missing)}; found "
                         f"{', '.join(map(str, df.columns)) or 'none'}; expected Kaggle's header "
                         f"{','.join(expected)}; {REDOWNLOAD}")


def join_raw(train: pd.DataFrame, store: pd.DataFrame, states: pd.DataFrame | None = None, *,
             sources: tuple[str, str, str] = ("train.csv", "store.csv", "store_states.csv")
             ) -> pd.DataFrame:
    """Check raw frames in Kaggle's schema and join them: one row per train row, file order.

    Columns: Kaggle's train columns (Date as datetime, StateHoliday as text "0"/"a"/"b"/"c",
    Open and Customers nullable), then store.csv's (nullable ints for the *Since* columns,
    PromoInterval "" when none), then State when ``states`` is given. Errors name the source.
    """
    src_train, src_store, src_states = sources
    _check_columns(train, TRAIN_COLUMNS, src_train)
    _check_columns(store, STORE_COLUMNS, src_store)
    if len(train) == 0:
        raise _fail(src_train, "no data rows")

    out: dict[str, pd.Series] = {}
    out["Store"] = _numeric(train, "Store", src_train)
    out["DayOfWeek"] = _numeric(train, "DayOfWeek", src_train)
    date = train["Date"]
    if not pd.api.types.is_datetime64_any_dtype(date):
        text = date.astype(object).where(date.notna(), "").astype(str)
        parsed = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
        bad = parsed.isna().to_numpy()
        if bad.any():
            i = _first_bad(bad)
            raise _fail(src_train, f"data row {i + 1}: column Date holds {date.iloc[i]!r}, "
                                   f"not a date like 2015-07-31")
        date = parsed
    elif date.isna().any():
        raise _fail(src_train, f"data row {_first_bad(date.isna().to_numpy()) + 1}: column Date is empty")
    out["Date"] = pd.Series(date.to_numpy().astype("datetime64[ns]"), name="Date")
    out["Sales"] = _numeric(train, "Sales", src_train)
    out["Customers"] = _numeric(train, "Customers", src_train, nullable=True)
    out["Open"] = _numeric(train, "Open", src_train, nullable=True)
    out["Promo"] = _numeric(train, "Promo", src_train)
    out["StateHoliday"] = _text(train, "StateHoliday", src_train, allowed=STATE_HOLIDAYS)
    out["SchoolHoliday"] = _numeric(train, "SchoolHoliday", src_train)
    dow = out["DayOfWeek"].to_numpy()
    if ((dow < 1) | (dow > 7)).any():
        i = _first_bad((dow < 1) | (dow > 7))
        raise _fail(src_train, f"data row {i + 1}: DayOfWeek {dow[i]} is not 1..7")
    if (out["Sales"].to_numpy() < 0).any():
        raise _fail(src_train, f"data row {_first_bad(out['Sales'].to_numpy() < 0) + 1}: negative Sales")

    st: dict[str, pd.Series] = {
        "Store": _numeric(store, "Store", src_store),
        "StoreType": _text(store, "StoreType", src_store),
        "Assortment": _text(store, "Assortment", src_store),
        "CompetitionDistance": _numeric(store, "CompetitionDistance", src_store, nullable=True,
                                        integer=False),
        "CompetitionOpenSinceMonth": _numeric(store, "CompetitionOpenSinceMonth", src_store, nullable=True),
        "CompetitionOpenSinceYear": _numeric(store, "CompetitionOpenSinceYear", src_store, nullable=True),
        "Promo2": _numeric(store, "Promo2", src_store),
        "Promo2SinceWeek": _numeric(store, "Promo2SinceWeek", src_store, nullable=True),
        "Promo2SinceYear": _numeric(store, "Promo2SinceYear", src_store, nullable=True),
        "PromoInterval": _text(store, "PromoInterval", src_store, nullable=True),
    }
    store_ids = pd.Index(st["Store"].to_numpy())
    if store_ids.has_duplicates:
        raise _fail(src_store, f"store {store_ids[store_ids.duplicated()][0]} is listed twice")
    pos = store_ids.get_indexer(out["Store"].to_numpy())
    if (pos < 0).any():
        missing = np.unique(out["Store"].to_numpy()[pos < 0])
        raise _fail(src_store, f"no row for store(s) {', '.join(map(str, missing[:10]))}"
                               f"{' ...' if len(missing) > 10 else ''} of {src_train}")
    for col in STORE_COLUMNS[1:]:
        out[col] = st[col].take(pos).reset_index(drop=True)

    if states is not None:
        _check_columns(states, STATE_COLUMNS, src_states)
        state_store = pd.Index(_numeric(states, "Store", src_states).to_numpy())
        state = _text(states, "State", src_states)
        if state_store.has_duplicates:
            raise _fail(src_states, f"store {state_store[state_store.duplicated()][0]} is listed twice")
        spos = state_store.get_indexer(out["Store"].to_numpy())
        if (spos < 0).any():
            missing = np.unique(out["Store"].to_numpy()[spos < 0])
            raise _fail(src_states, f"no state for store(s) {', '.join(map(str, missing[:10]))}"
                                    f"{' ...' if len(missing) > 10 else ''}")
        out["State"] = state.take(spos).reset_index(drop=True)
    return pd.DataFrame(out)


# ----------------------------------------------------------------------------------------------
# Parquet cache of the joined table
# ----------------------------------------------------------------------------------------------

def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def source_key(folder: Path) -> str:
    """A hash of the source files' contents (and of which optional files are there)."""
    h = hashlib.sha256(f"rossmann-table-v{CACHE_VERSION}".encode())
    for name in ("train.csv", "store.csv", "store_states.csv"):
        path = folder / name
        h.update(name.encode())
        h.update(_file_sha256(path).encode() if path.exists() else b"absent")
    return h.hexdigest()[:24]


def load_table(folder: Path, cache_dir: Path | None) -> pd.DataFrame:
    """The joined table of the files in ``folder``, converted once and cached as parquet."""
    folder = Path(folder)
    path = None
    if cache_dir is not None:
        path = Path(cache_dir) / "rossmann" / f"{source_key(folder)}.parquet"
        if os.path.lexists(path):
            try:  # never through a planted link; pyarrow>=14.0.1 runs no code from parquet metadata
                with open_nofollow(path) as f:
                    return pd.read_parquet(f)
            except Exception as e:  # a damaged cache file: rebuild it
                warnings.warn(f"{path}: unreadable cache ({e}); rebuilding it", stacklevel=2)
    train, store, states = read_kaggle_csvs(folder)
    table = join_raw(train, store, states, sources=(str(folder / "train.csv"), str(folder / "store.csv"),
                                                    str(folder / "store_states.csv")))
    if path is not None:
        try:
            private_dir(path.parent)
            with atomic_write(path) as f:
                table.to_parquet(f, index=False)
        except OSError as e:
            warnings.warn(f"cannot write the cache file {path} ({e}); going on without it", stacklevel=2)
    return table


# ----------------------------------------------------------------------------------------------
# Features and splits
# ----------------------------------------------------------------------------------------------

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


def _paper_split(rows: pd.DataFrame, train_rows: int | None, valid_rows: int,
                 split_seed: int = SPLIT_SEED) -> Split:
    for name, value in (("train_rows", train_rows), ("valid_rows", valid_rows)):
        if (value is not None or name == "valid_rows") and not (
                isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= 0):
            raise ValueError(f"{name} must be a non-negative integer"
                             f"{' or None' if name == 'train_rows' else ''}, got {value!r}")
    n = len(rows)
    order = np.lexsort((rows["Store"].to_numpy(), rows["Date"].to_numpy().astype("datetime64[ns]")
                        .astype(np.int64)))  # stable: by date, then store, then position
    n_old = (9 * n) // 10  # floor(0.9 n): test is the last n - floor(0.9 n) rows
    old, test = order[:n_old], order[n_old:]
    perm = np.random.default_rng(split_seed).permutation(n_old)
    n_valid = min(int(valid_rows), n_old)  # valid is reserved first, train capped by what is left
    n_train = n_old - n_valid if train_rows is None else min(int(train_rows), n_old - n_valid)
    valid = old[perm[:n_valid]]
    train = old[perm[n_valid:n_valid + n_train]]
    return Split("paper", np.sort(train).astype(np.int64), np.sort(valid).astype(np.int64),
                 np.sort(test).astype(np.int64))


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
    the paper split's train / valid draw (the kaggle split draws nothing)."""
    if split == "paper" and "State" not in table:
        raise FilesMissing(f"dataset {dataset}: the paper split needs store_states.csv (columns "
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


# ----------------------------------------------------------------------------------------------
# The seeded generator (rossmann-sim)
# ----------------------------------------------------------------------------------------------

# Shares of the real store.csv / store_states.csv.
_TYPE_P = {"a": 602, "b": 17, "c": 148, "d": 348}
_STATE_P = {"BE": 92, "BW": 73, "BY": 180, "HB,NI": 22, "HE": 112, "HH": 28, "NW": 286, "RP": 40,
            "SH": 115, "SN": 75, "ST": 56, "TH": 36}
_INTERVALS = ("Jan,Apr,Jul,Oct", "Feb,May,Aug,Nov", "Mar,Jun,Sept,Dec")


def _easter(year: int) -> pd.Timestamp:
    """Gregorian Easter Sunday (anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l_) // 451
    month = (h + l_ - 7 * m + 114) // 31
    day = (h + l_ - 7 * m + 114) % 31 + 1
    return pd.Timestamp(year=year, month=month, day=day)


def _calendar(dates: pd.DatetimeIndex, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """State holidays (codes into STATE_HOLIDAYS) and school holidays, shape (n_states, n_days)."""
    n_states, n_days = len(STATE_CODES), len(dates)
    hol = np.zeros((n_states, n_days), dtype=np.int64)
    school = np.zeros((n_states, n_days), dtype=bool)
    index = {d: i for i, d in enumerate(dates)}
    all_states = list(range(n_states))

    def states(*codes: str) -> list[int]:
        return [STATE_CODES.index(c) for c in codes]

    def mark(day: pd.Timestamp, code: int, who: list[int]) -> None:
        if day in index:
            hol[who, index[day]] = code

    def school_range(start: pd.Timestamp, days: int, who: int) -> None:
        lo = (start - dates[0]).days
        lo, hi = max(lo, 0), min(lo + days, n_days)
        if lo < hi:
            school[who, lo:hi] = True

    for year in range(dates[0].year, dates[-1].year + 1):
        e = _easter(year)
        ts = lambda m, d: pd.Timestamp(year=year, month=m, day=d)  # noqa: E731
        for day in (ts(1, 1), ts(5, 1), e + pd.Timedelta(days=39), e + pd.Timedelta(days=50), ts(10, 3)):
            mark(day, 1, all_states)
        mark(ts(1, 6), 1, states("BW", "BY", "ST"))
        mark(e + pd.Timedelta(days=60), 1, states("BW", "BY", "HE", "NW", "RP"))  # Corpus Christi
        mark(ts(10, 31), 1, states("SN", "ST", "TH"))
        mark(ts(11, 1), 1, states("BW", "BY", "NW", "RP"))
        for off in (-2, 0, 1):  # Good Friday, Easter Sunday, Easter Monday
            mark(e + pd.Timedelta(days=off), 2, all_states)
        mark(ts(12, 25), 3, all_states)
        mark(ts(12, 26), 3, all_states)
        # School holidays: Christmas, Easter, a staggered summer break, autumn.
        summer_start = rng.integers(0, 6, size=n_states)
        autumn_start = rng.integers(0, 3, size=n_states)
        for s in all_states:
            school_range(ts(12, 22), 14, s)
            school_range(e - pd.Timedelta(days=8 + 7 * (s % 2)), 15, s)
            school_range(ts(6, 22) + pd.Timedelta(weeks=int(summer_start[s])), 44, s)
            school_range(ts(10, 5) + pd.Timedelta(weeks=int(autumn_start[s])), 12, s)
    return hol, school


def generate_raw(n_stores: int = 50, n_days: int = 942, seed: int = 0
                 ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Raw train / store / store_states frames in Kaggle's schema (as ``pandas.read_csv`` reads
    the real files), from 2013-01-01 for ``n_days`` days, rows ordered like train.csv
    (date descending, store ascending). Deterministic in (n_stores, n_days, seed).

    Log sales = store level (lognormal: store type, assortment, a store effect) + store-specific
    yearly trend + day-of-week pattern (by store type, jittered per store) + promo lift (per store,
    larger on Mondays) + month / pre-Christmas / day-of-month seasonality + school-holiday and
    before-holiday effects + the effect of a competitor opening nearby + lognormal noise.
    Closed (Sales 0): Sundays (except Sunday stores), state holidays (type b stores stay open on
    public holidays), refurbishment gaps, rare single days.
    """
    n_stores, n_days = int(n_stores), int(n_days)
    if n_stores < 4:
        raise ValueError(f"rossmann-sim: n_stores must be at least 4 (one per store type), got {n_stores}")
    if n_days < 1:
        raise ValueError(f"rossmann-sim: n_days must be positive, got {n_days}")
    rng = np.random.default_rng(seed)
    S, D = n_stores, n_days
    dates = pd.date_range("2013-01-01", periods=D, freq="D")

    # --- stores ---------------------------------------------------------------------------
    p = np.array(list(_TYPE_P.values()), float)
    stype = rng.choice(np.array(list(_TYPE_P)), size=S, p=p / p.sum())
    forced = rng.choice(S, size=4, replace=False)
    stype[forced] = ["a", "b", "c", "d"]
    assort = np.where(rng.random(S) < 0.53, "a", "c")
    assort[stype == "b"] = np.where(rng.random((stype == "b").sum()) < 0.6, "b", "a")
    assort[forced] = ["a", "b", "c", "a"]
    dist = np.round(np.clip(np.exp(rng.normal(np.log(2300), 1.2, S)), 20, 75860), -1)
    no_comp = rng.random(S) < 0.003
    no_comp[forced[3]] = True  # the real file has a few blanks: keep at least one
    dist[no_comp] = np.nan
    known = (rng.random(S) < 0.68) & ~no_comp
    comp_year = rng.choice(np.arange(1995, 2016), size=S,
                           p=np.linspace(0.2, 1.0, 21) / np.linspace(0.2, 1.0, 21).sum()).astype(float)
    comp_month = rng.integers(1, 13, S).astype(float)
    comp_year[~known], comp_month[~known] = np.nan, np.nan
    promo2 = (rng.random(S) < 0.51).astype(np.int64)
    p2_week = rng.integers(1, 51, S).astype(float)
    p2_year = rng.integers(2009, 2016, S).astype(float)
    interval = rng.choice(np.array(_INTERVALS, dtype=object), size=S, p=[0.58, 0.23, 0.19])
    p2_week[promo2 == 0], p2_year[promo2 == 0] = np.nan, np.nan
    interval = np.where(promo2 == 1, interval, np.nan).astype(object)
    sp = np.array(list(_STATE_P.values()), float)
    state_idx = rng.choice(len(STATE_CODES), size=S, p=sp / sp.sum())

    # --- calendar -------------------------------------------------------------------------
    hol, school = _calendar(dates, rng)
    dow = np.asarray(dates.day_of_week) + 1  # Monday = 1, as in train.csv
    month = np.asarray(dates.month)
    dom = np.asarray(dates.day)
    years = (np.asarray(dates - dates[0]).astype("timedelta64[D]").astype(float)) / 365.25
    # Chain-wide promo: Monday-Friday of alternating weeks, the rhythm occasionally broken.
    week_idx = (np.arange(D) + dates[0].day_of_week) // 7
    n_weeks = week_idx.max() + 1
    on = np.zeros(n_weeks, bool)
    state_on = True
    for w in range(n_weeks):
        on[w] = state_on
        state_on = (not state_on) if rng.random() > 0.08 else state_on
    promo = (on[week_idx] & (dow <= 5)).astype(np.int64)

    # --- sales model (log scale), shape (D, S) ----------------------------------------------
    type_eff = {"a": 0.0, "b": 0.45, "c": 0.02, "d": -0.02}
    assort_eff = {"a": 0.0, "b": -0.1, "c": 0.08}
    base = (np.log(5600) + np.array([type_eff[t] for t in stype]) + np.array([assort_eff[a] for a in assort])
            + rng.normal(0, 0.32, S))
    dow_base = np.array([0.14, 0.0, -0.05, -0.05, 0.0, -0.15, 0.12])
    dow_type = {"a": np.zeros(7), "b": np.array([0, 0, 0, 0, 0, 0.1, 0.05]),
                "c": np.array([0.02, 0, 0, 0, 0.02, -0.1, 0]), "d": np.array([-0.04, 0, 0, 0, 0, 0.08, 0])}
    dow_eff = (dow_base[None, :] + np.stack([dow_type[t] for t in stype])
               + rng.normal(0, 0.04, (S, 7)))  # (S, 7)
    promo_lift = rng.normal(0.28, 0.08, S) * np.where(stype == "b", 0.4, 1.0)
    growth = rng.normal(0.03, 0.04, S)
    month_eff = np.array([-0.05, -0.05, 0.0, 0.01, 0.02, 0.0, 0.0, -0.04, -0.05, -0.05, 0.03, 0.12])
    xmas = np.where((month == 12) & (dom <= 24), 0.25 * dom / 24, 0.0)
    dom_eff = 0.05 * np.cos(2 * np.pi * (dom - 2) / 30.5)
    school_eff = rng.normal(0.02, 0.03, S)
    noise_sd = 0.09 + 0.06 * rng.random(S)

    hol_s = hol[state_idx].T  # (D, S)
    school_s = school[state_idx].T
    before_hol = np.zeros_like(hol_s, dtype=bool)
    before_hol[:-1] = (hol_s[1:] > 0) & (hol_s[:-1] == 0)
    # A competitor opening during the data period lowers sales from then on, more if it is close.
    comp_start = np.where(known, (comp_year - 2013) * 12 + comp_month - 1, -np.inf)
    months_since_2013 = (np.asarray(dates.year) - 2013) * 12 + month - 1
    comp_hit = -0.08 * np.clip(np.log(20000 / np.nan_to_num(dist, nan=20000)), 0, 3) / 3
    comp_eff = np.where(months_since_2013[:, None] >= comp_start[None, :], comp_hit[None, :], 0.0)
    comp_eff = np.where(np.isfinite(comp_start)[None, :] & (comp_start[None, :] > 0), comp_eff, 0.0)

    log_sales = (base[None, :] + growth[None, :] * years[:, None] + dow_eff[:, dow - 1].T
                 + promo[:, None] * promo_lift[None, :] * np.where(dow == 1, 1.2, 1.0)[:, None]
                 + (month_eff[month - 1] + xmas + dom_eff)[:, None]
                 + school_s * school_eff[None, :] + before_hol * 0.10 + comp_eff
                 + rng.normal(0, 1, (D, S)) * noise_sd[None, :])
    sales = np.round(np.exp(log_sales)).astype(np.int64)

    # --- closures ---------------------------------------------------------------------------
    sunday_store = (stype == "b") | (rng.random(S) < 0.02)
    open_ = np.ones((D, S), dtype=bool)
    open_[dow == 7, :] = sunday_store[None, :]
    open_ &= ~((hol_s > 0) & ~((hol_s == 1) & (stype == "b")[None, :]))
    for s in np.flatnonzero(rng.random(S) < 0.12):  # refurbishment gaps
        length = int(rng.integers(20, 150))
        start = int(rng.integers(0, max(D - length, 1)))
        open_[start:start + length, s] = False
    open_ &= rng.random((D, S)) > 0.001
    zero_open = open_ & (rng.random((D, S)) < 0.00005)  # open but no sales: rare, as in the real file
    sales = np.where(open_ & ~zero_open, sales, 0)
    basket = np.exp(rng.normal(np.log(9.5), 0.15, S))
    customers = np.where(sales > 0, np.round(sales / basket[None, :] * np.exp(rng.normal(0, 0.05, (D, S)))), 0)

    # --- frames in train.csv's order: date descending, store ascending -----------------------
    rev = slice(None, None, -1)
    date_text = np.asarray(dates.strftime("%Y-%m-%d"), dtype=object)
    train = pd.DataFrame({
        "Store": np.tile(np.arange(1, S + 1, dtype=np.int64), D),
        "DayOfWeek": np.repeat(dow[rev], S).astype(np.int64),
        "Date": pd.array(np.repeat(date_text[rev], S), dtype="str"),
        "Sales": sales[rev].ravel().astype(np.int64),
        "Customers": customers[rev].ravel().astype(np.int64),
        "Open": open_[rev].ravel().astype(np.int64),
        "Promo": np.repeat(promo[rev], S).astype(np.int64),
        "StateHoliday": pd.array(np.asarray(STATE_HOLIDAYS, dtype=object)[hol_s[rev].ravel()], dtype="str"),
        "SchoolHoliday": school_s[rev].ravel().astype(np.int64),
    })
    store = pd.DataFrame({
        "Store": np.arange(1, S + 1, dtype=np.int64),
        "StoreType": pd.array(stype.astype(object), dtype="str"),
        "Assortment": pd.array(assort.astype(object), dtype="str"),
        "CompetitionDistance": dist,
        "CompetitionOpenSinceMonth": comp_month,
        "CompetitionOpenSinceYear": comp_year,
        "Promo2": promo2,
        "Promo2SinceWeek": p2_week,
        "Promo2SinceYear": p2_year,
        "PromoInterval": pd.array(interval, dtype="str"),
    })
    states = pd.DataFrame({"Store": np.arange(1, S + 1, dtype=np.int64),
                           "State": pd.array(np.asarray(STATE_CODES, dtype=object)[state_idx], dtype="str")})
    return train, store, states


def _cell(v: Any, quote: bool = False) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
        text = ""
    elif isinstance(v, (float, np.floating)) and float(v).is_integer():
        text = str(int(v))
    else:
        text = str(v)
    return f'"{text}"' if quote else text


def write_kaggle_csvs(raw_train: pd.DataFrame, raw_store: pd.DataFrame, raw_states: pd.DataFrame | None,
                      folder: str | os.PathLike) -> Path:
    """Write raw frames as Kaggle's files: train.csv and store.csv with a quoted header and quoted
    text fields (StateHoliday, SchoolHoliday; StoreType, Assortment, PromoInterval), "\\n" line
    ends; store_states.csv as the forum's file: plain header, CRLF, quotes only where needed."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)

    def write(name: str, df: pd.DataFrame, columns: tuple[str, ...], quoted: set[str]) -> None:
        lines = [",".join(f'"{c}"' for c in columns)]
        cols = [df[c].astype(object).to_numpy() for c in columns]
        flags = [c in quoted for c in columns]
        for row in zip(*cols):
            lines.append(",".join(_cell(v, q) for v, q in zip(row, flags)))
        (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8", newline="")

    write("train.csv", raw_train, TRAIN_COLUMNS, {"StateHoliday", "SchoolHoliday"})
    write("store.csv", raw_store, STORE_COLUMNS, {"StoreType", "Assortment", "PromoInterval"})
    if raw_states is not None:
        buf = io.StringIO(newline="")
        w = csv.writer(buf, lineterminator="\r\n")
        w.writerow(STATE_COLUMNS)
        for store_id, state in zip(raw_states["Store"], raw_states["State"]):
            w.writerow([int(store_id), state])
        (folder / "store_states.csv").write_text(buf.getvalue(), encoding="utf-8", newline="")
    return folder


# ----------------------------------------------------------------------------------------------
# The dataset plugins
# ----------------------------------------------------------------------------------------------

class Rossmann(Dataset):
    name = "rossmann"
    kind = "regression"
    target = "Sales"
    metrics = ("mape", "rmspe")
    splits = ("paper", "kaggle")
    seeded_splits = ("paper",)  # its train / valid draw; kaggle is a fixed time split
    folder = "rossmann"
    files = ("train.csv", "store.csv")
    synthetic = False
    embedded = False
    defaults = {"train_rows": 200_000, "valid_rows": 20_000}
    description = ("Rossmann Store Sales (Kaggle, 2015): daily sales of 1,115 German drugstores, "
                   "2013-01-01 .. 2015-07-31. Split 'paper' follows Guo & Berkhahn (2016): test = the "
                   "most recent 10 % of the rows with sales, train = 200,000 rows drawn from the rest; "
                   "features store, day of week, promo, year, month, day, state. Split 'kaggle': the "
                   "last 48 days as test, many more features.")
    how_to_get = (
        "Rossmann Store Sales is a Kaggle competition: sign in at Kaggle, accept the rules of the "
        f"competition rossmann-store-sales ({KAGGLE_URL}) and download train.csv and store.csv "
        "(or `kaggle competitions download -c rossmann-store-sales` and unzip). The paper split also "
        "needs store_states.csv (columns Store,State), the external data shared on the competition's "
        "forum (it is also in the entity-embedding paper's repository, entron/entity-embedding-rossmann). "
        "Put the files in <data dir>/rossmann/. There is no automatic download."
    )

    def load(self, split: str, ctx: LoadContext) -> Task:
        split = self.check_split(split)
        folder = self.require_files(ctx.data_dir)
        if split == "paper" and not (folder / "store_states.csv").exists():
            raise FilesMissing(
                f"dataset {self.name}: the paper split needs {folder / 'store_states.csv'} (Store,State) "
                f"for its state feature; the split 'kaggle' works without it.\n{self.how_to_get}")
        table = load_table(folder, ctx.cache_dir)
        return build_task(table, split, dataset=self.name, train_rows=self.params["train_rows"],
                          valid_rows=self.params["valid_rows"], synthetic=False,
                          states_hint=self.how_to_get, split_seed=self.split_seed_for(split, ctx))


class RossmannSim(Dataset):
    name = "rossmann-sim"
    kind = "regression"
    target = "Sales"
    metrics = ("mape", "rmspe")
    splits = ("paper", "kaggle")
    seeded_splits = ("paper",)  # its train / valid draw; kaggle is a fixed time split
    folder = None
    files = ()
    synthetic = True
    embedded = True
    defaults = {"n_stores": 50, "n_days": 942, "seed": 0, "train_rows": 10_000, "valid_rows": 2_000}
    description = ("Synthetic store sales with Rossmann's exact raw schema (train.csv, store.csv, "
                   "store_states.csv), generated from a seed: store effects by type and assortment, "
                   "day-of-week, promo, seasonality, holidays, closures, competition, lognormal noise. "
                   "Same splits and features as 'rossmann'. Defaults: 50 stores over the real 942 days "
                   "(about 39,000 rows with sales); the paper split draws 10,000 train rows "
                   "(about 200 per store, like the real split's 180).")
    how_to_get = "Generated in code; nothing to download."

    def raw_frames(self) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """The raw train / store / store_states frames in Kaggle's schema."""
        return generate_raw(self.params["n_stores"], self.params["n_days"], self.params["seed"])

    def load(self, split: str, ctx: LoadContext | None = None) -> Task:
        split = self.check_split(split)
        train, store, states = self.raw_frames()
        table = join_raw(train, store, states, sources=("rossmann-sim train", "rossmann-sim store",
                                                        "rossmann-sim store_states"))
        return build_task(table, split, dataset=self.name, train_rows=self.params["train_rows"],
                          valid_rows=self.params["valid_rows"], synthetic=True,
                          split_seed=self.split_seed_for(split, ctx))
