"""``rossmann-sim``'s generator: raw train / store / store_states frames in Kaggle's exact schema,
and a writer of Kaggle's CSV files (for tests, and to look at the data as the real files)."""
from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .read import STATE_CODES, STATE_COLUMNS, STATE_HOLIDAYS, STORE_COLUMNS, TRAIN_COLUMNS

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

