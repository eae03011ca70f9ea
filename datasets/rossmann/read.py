"""Rossmann's raw files: reading Kaggle's CSVs as published, checking and joining raw frames (the
real files' and the generator's), and the parquet cache of the joined table."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.data import cache

from .kaggle import REDOWNLOAD

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

CACHE_VERSION = 1  # bump when join_raw's output changes


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

def source_key(folder: Path) -> str:
    """A hash of the source files' contents (and of which optional files are there)."""
    folder = Path(folder)
    return cache.source_key(f"rossmann-table-v{CACHE_VERSION}",
                            [folder / name for name in ("train.csv", "store.csv", "store_states.csv")])


def load_table(folder: Path, cache_dir: Path | None) -> pd.DataFrame:
    """The joined table of the files in ``folder``, converted once and cached as parquet."""
    folder = Path(folder)

    def build() -> pd.DataFrame:
        train, store, states = read_kaggle_csvs(folder)
        return join_raw(train, store, states, sources=(str(folder / "train.csv"), str(folder / "store.csv"),
                                                       str(folder / "store_states.csv")))

    path = None if cache_dir is None else Path(cache_dir) / "rossmann" / f"{source_key(folder)}.parquet"
    return cache.cached_frame(path, build)
