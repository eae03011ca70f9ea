"""Tests of datasets/rossmann/: Kaggle's file format, the cache, the three splits and the generator.

Everything is built here (small CSVs in tmp_path); nothing needs the real data.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench import FilesMissing, LoadContext
from bench.plugins.registry import load_file

ROOT = Path(__file__).resolve().parents[1]


R = load_file(ROOT / "datasets" / "rossmann")  # by path, as the registry loads it

SMALL = dict(n_stores=8, n_days=200, seed=1)
ROWS = dict(train_rows=500, valid_rows=100)


@pytest.fixture(scope="module")
def small_raw():
    return R.generate_raw(**SMALL)


@pytest.fixture
def data(tmp_path, small_raw):
    """A data folder holding the small generated data as Kaggle's CSVs, and a cache folder."""
    R.write_kaggle_csvs(*small_raw, tmp_path / "data" / "rossmann")
    return LoadContext(tmp_path / "data", tmp_path / "cache")


def rows_of(ctx: LoadContext, split: str = "paper") -> pd.DataFrame:
    """The task's rows (the joined table filtered like the split does), for checking dates."""
    table = R.load_table(ctx.data_dir / "rossmann", None)
    keep = table["Sales"].to_numpy() > 0
    if split == "kaggle":
        keep &= table["Open"].fillna(1).to_numpy() != 0
    return table.loc[keep].reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# Kaggle's format
# --------------------------------------------------------------------------------------------

TRAIN_HEADER = '"Store","DayOfWeek","Date","Sales","Customers","Open","Promo","StateHoliday","SchoolHoliday"'
STORE_HEADER = ('"Store","StoreType","Assortment","CompetitionDistance","CompetitionOpenSinceMonth",'
                '"CompetitionOpenSinceYear","Promo2","Promo2SinceWeek","Promo2SinceYear","PromoInterval"')


def write_handmade(folder: Path) -> None:
    """3 stores x 120 days in Kaggle's exact quoting, with the quirks of the real files."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = [TRAIN_HEADER]
    dates = pd.date_range(end="2015-01-30", periods=120)[::-1]
    holidays = {(1, 6): '"a"', (12, 25): '"c"', (12, 26): '"c"'}
    for d in dates:
        for store in (1, 2, 3):
            dow = d.day_of_week + 1
            holiday = holidays.get((d.month, d.day))
            open_ = 0 if (dow == 7 or holiday) else 1
            sales = (1000 * store + 10 * d.day) * open_
            state = holiday or ("0" if store == 2 else '"0"')  # bare 0 and quoted "0"
            open_cell = "" if (store == 3 and d == pd.Timestamp("2015-01-12")) else str(open_)  # blank
            lines.append(f'{store},{dow},{d:%Y-%m-%d},{sales},{sales // 10},{open_cell},'
                         f'{int(d.day % 14 < 5)},{state},"{int(d.day < 4)}"')
    (folder / "train.csv").write_text("\n".join(lines) + "\n")
    (folder / "store.csv").write_text("\n".join([
        STORE_HEADER,
        '1,"c","a",1270,9,2008,0,,,""',
        '2,"a","c",570,11,2007,1,13,2010,"Jan,Apr,Jul,Oct"',
        '3,"d","c",,,,1,22,2012,"Mar,Jun,Sept,Dec"',
    ]) + "\n")
    (folder / "store_states.csv").write_bytes(b'Store,State\r\n1,HE\r\n2,"HB,NI"\r\n3,BY\r\n')


def test_reads_kaggle_quirks(tmp_path):
    folder = tmp_path / "data" / "rossmann"
    write_handmade(folder)
    table = R.load_table(folder, None)
    assert len(table) == 360 and list(table.columns[:9]) == list(R.TRAIN_COLUMNS)
    assert set(table["StateHoliday"]) == {"0", "a", "c"}
    assert (table.loc[table["Date"] == "2015-01-06", "StateHoliday"] == "a").all()
    assert (table.loc[table["Date"] == "2015-01-07", "StateHoliday"] == "0").all()
    assert table["Open"].isna().sum() == 1 and table["SchoolHoliday"].isin([0, 1]).all()
    assert pd.api.types.is_datetime64_any_dtype(table["Date"])
    by_store = table.drop_duplicates("Store").set_index("Store")
    assert by_store.loc[1, "PromoInterval"] == "" and by_store.loc[2, "State"] == "HB,NI"
    assert pd.isna(by_store.loc[3, "CompetitionDistance"]) and by_store.loc[2, "Promo2SinceWeek"] == 13

    ctx = LoadContext(tmp_path / "data", tmp_path / "cache")
    task = R.Rossmann(train_rows=200, valid_rows=20).load("paper", ctx)
    n = int((table["Sales"] > 0).sum())
    assert len(task.X) == n and task.split.sizes() == {"train": 200, "valid": 20, "test": n - (9 * n) // 10}
    assert task.schema.categorical["state"] == 3 and task.schema.categorical["store"] == 3
    # The row with a blank Open cell has sales: it is kept, in both splits.
    blank = table.index[table["Open"].isna()][0]
    assert table.loc[blank, "Sales"] > 0
    kaggle = R.Rossmann().load("kaggle", ctx)
    assert len(kaggle.X) == n
    assert kaggle.schema.categorical["state_holiday"] == 1  # the holiday rows are closed
    assert kaggle.X["competition_distance"].notna().all()


# --------------------------------------------------------------------------------------------
# The paper split
# --------------------------------------------------------------------------------------------

def test_paper_split(data):
    task = R.Rossmann(**ROWS).load("paper", data)
    rows = rows_of(data)
    n = len(rows)
    assert len(task.X) == len(task.y) == n and (task.y > 0).all()
    assert task.metrics[0] == "mape" and tuple(task.metrics) == ("mape", "rmspe")
    assert task.target_transform == "log" and task.kind == "regression" and not task.synthetic
    s = task.split
    assert s.sizes() == {"train": 500, "valid": 100, "test": n - (9 * n) // 10}
    for part in (s.train, s.valid, s.test):
        assert part.dtype == np.int64 and len(np.unique(part)) == len(part)
    assert not set(s.train) & set(s.valid) and not set(s.test) & (set(s.train) | set(s.valid))
    # test = exactly the last rows in (date, store) order; everything else is older or equal
    order = rows.sort_values(["Date", "Store"], kind="stable").index.to_numpy()
    assert set(order[len(order) - len(s.test):]) == set(s.test)
    dates = rows["Date"].to_numpy()
    assert dates[s.test].min() >= max(dates[s.train].max(), dates[s.valid].max())
    assert dates[s.test].max() == dates.max()
    # features: the paper's seven, as codes 0..card-1
    assert list(task.X.columns) == list(R.PAPER_FEATURES) == task.schema.columns
    for col, card in task.schema.categorical.items():
        assert task.X[col].dtype == np.int64
        assert task.X[col].min() == 0 and task.X[col].max() == card - 1
    assert task.schema.categorical["store"] == SMALL["n_stores"]
    np.testing.assert_array_equal(task.y, rows["Sales"].to_numpy(dtype=float))


def test_paper_split_caps_and_nesting(data):
    n_old = (9 * len(rows_of(data))) // 10
    huge = R.Rossmann(train_rows=10**9, valid_rows=100).load("paper", data).split
    assert len(huge.valid) == 100 and len(huge.train) == n_old - 100
    everything = R.Rossmann(train_rows=None, valid_rows=100).load("paper", data).split
    assert everything.fingerprint == huge.fingerprint
    small = R.Rossmann(train_rows=50, valid_rows=100).load("paper", data).split
    assert set(small.train) <= set(huge.train) and np.array_equal(small.valid, huge.valid)
    with pytest.raises(ValueError, match="train_rows"):
        R.Rossmann(train_rows=-1).load("paper", data)


def test_determinism_and_fingerprint(tmp_path, data, small_raw):
    a = R.Rossmann(**ROWS).load("paper", data)
    b = R.Rossmann(**ROWS).load("paper", LoadContext(data.data_dir, tmp_path / "other-cache"))
    assert a.split.fingerprint == b.split.fingerprint
    assert a.X.equals(b.X) and np.array_equal(a.y, b.y)
    # Different data (one more closed day: a row fewer) -> a different split fingerprint.
    train, store, states = small_raw
    changed = train.copy()
    row = changed.index[(changed["Sales"] > 0).to_numpy()][len(changed) // 2]
    changed.loc[row, ["Sales", "Customers", "Open"]] = 0
    R.write_kaggle_csvs(changed, store, states, tmp_path / "data2" / "rossmann")
    c = R.Rossmann(**ROWS).load("paper", LoadContext(tmp_path / "data2", tmp_path / "cache"))
    assert c.split.fingerprint != a.split.fingerprint


def test_parquet_cache_used_then_rebuilt(data, monkeypatch):
    first = R.Rossmann(**ROWS).load("paper", data)
    cached = sorted((data.cache_dir / "rossmann").glob("*.parquet"))
    assert len(cached) == 1 and not list((data.cache_dir / "rossmann").glob("*.tmp"))
    mtime = cached[0].stat().st_mtime_ns

    def no_csv(*args, **kwargs):
        raise AssertionError("read_csv called: the cache was not used")

    with monkeypatch.context() as m:
        m.setattr(pd, "read_csv", no_csv)
        second = R.Rossmann(**ROWS).load("paper", data)
        R.Rossmann().load("kaggle", data)
    assert second.split.fingerprint == first.split.fingerprint
    assert second.X.equals(first.X) and np.array_equal(second.y, first.y)
    assert cached[0].stat().st_mtime_ns == mtime

    # Change one sales figure (same rows, same split): the cache must be rebuilt, y must follow.
    path = data.data_dir / "rossmann" / "train.csv"
    lines = path.read_text().split("\n")
    i = next(i for i, line in enumerate(lines[1:], 1) if line.split(",")[3] not in ("0", ""))
    cells = lines[i].split(",")
    cells[3] = str(int(cells[3]) + 1)
    lines[i] = ",".join(cells)
    path.write_text("\n".join(lines))
    third = R.Rossmann(**ROWS).load("paper", data)
    assert len(list((data.cache_dir / "rossmann").glob("*.parquet"))) == 2
    assert third.y.sum() == first.y.sum() + 1

    # A damaged cache file is rebuilt, with a warning.
    for f in (data.cache_dir / "rossmann").glob("*.parquet"):
        f.write_bytes(b"not parquet")
    with pytest.warns(UserWarning, match="unreadable cache"):
        fourth = R.Rossmann(**ROWS).load("paper", data)
    assert fourth.X.equals(third.X)


def test_files_missing_message(tmp_path):
    ctx = LoadContext(tmp_path / "data", tmp_path / "cache")
    with pytest.raises(FilesMissing) as info:
        R.Rossmann().load("paper", ctx)
    msg = str(info.value)
    assert "train.csv" in msg and "store.csv" in msg and "rossmann-store-sales" in msg
    assert str(tmp_path / "data" / "rossmann") in msg


def test_paper_split_needs_store_states(data):
    (data.data_dir / "rossmann" / "store_states.csv").unlink()
    with pytest.raises(FilesMissing, match="store_states.csv") as info:
        R.Rossmann(**ROWS).load("paper", data)
    assert "rossmann-store-sales" in str(info.value)
    task = R.Rossmann().load("kaggle", data)  # the kaggle split does without
    assert "state" not in task.X.columns and len(task.split.test)


# --------------------------------------------------------------------------------------------
# The shuffled split (the paper's Table 3)
# --------------------------------------------------------------------------------------------

def test_shuffled_split(data):
    task = R.Rossmann(**ROWS).load("shuffled", data)
    paper = R.Rossmann(**ROWS).load("paper", data)
    rows = rows_of(data)
    n = len(rows)
    # the paper split's rows (Sales > 0, as the paper's code keeps them) and features
    assert len(task.X) == n and (task.y > 0).all() and task.X.equals(paper.X)
    assert np.array_equal(task.y, paper.y) and task.schema == paper.schema
    assert tuple(task.metrics) == ("mape", "rmspe") and task.target_transform == "log"
    s = task.split
    assert s.name == "shuffled" and s.sizes() == {"train": 500, "valid": 100, "test": n - (9 * n) // 10}
    for part in (s.train, s.valid, s.test):
        assert part.dtype == np.int64 and len(np.unique(part)) == len(part)
        assert np.array_equal(part, np.sort(part))
    assert not set(s.train) & set(s.valid) and not set(s.test) & (set(s.train) | set(s.valid))
    assert (task.y[s.test] > 0).all()
    # test is a random draw, not the most recent rows: its dates span the whole period
    dates = rows["Date"].to_numpy()
    assert dates[s.test].min() < dates[s.train].max() and dates[s.test].max() == dates.max()
    assert s.fingerprint != paper.split.fingerprint
    assert "shuffled" in task.description and "10 %" in task.description


def test_shuffled_split_caps_nesting_and_seeds(data):
    n = len(rows_of(data))
    n_rest = (9 * n) // 10
    huge = R.Rossmann(train_rows=10**9, valid_rows=100).load("shuffled", data).split
    assert len(huge.valid) == 100 and len(huge.train) == n_rest - 100
    assert sum(huge.sizes().values()) == n  # nothing left out when train takes all
    small = R.Rossmann(train_rows=50, valid_rows=100).load("shuffled", data).split
    assert set(small.train) <= set(huge.train) and np.array_equal(small.valid, huge.valid)
    assert np.array_equal(small.test, huge.test)  # test does not depend on train_rows
    with pytest.raises(ValueError, match="valid_rows"):
        R.Rossmann(valid_rows=-1).load("shuffled", data)
    # a split seed redraws all three parts; the same seed draws the same split
    ctx1 = LoadContext(data.data_dir, data.cache_dir, split_seed=1)
    one, again = (R.Rossmann(**ROWS).load("shuffled", ctx1).split for _ in range(2))
    zero = R.Rossmann(**ROWS).load("shuffled", data).split
    assert one.fingerprint == again.fingerprint != zero.fingerprint
    assert not np.array_equal(one.test, zero.test) and one.sizes() == zero.sizes()


def test_shuffled_split_needs_store_states(data):
    (data.data_dir / "rossmann" / "store_states.csv").unlink()
    with pytest.raises(FilesMissing, match="shuffled split needs .*store_states.csv"):
        R.Rossmann(**ROWS).load("shuffled", data)


# Computed with the code before the shuffled split existed (commit 2fde003): adding it must leave
# the other splits' draws and feature frames bitwise unchanged, or every stored record goes stale.
SIM_BEFORE = {  # (split, split seed): (split fingerprint, digest of X, y, schema and categories)
    ("paper", 0): ("a2ee4aecabe58027", "22997e34a175c2c4"),
    ("paper", 1): ("520a4b07a1100262", "22997e34a175c2c4"),
    ("kaggle", 0): ("f0d99b92c9b77aa7", "0e7b929e57711db7"),
}


def task_digest(task) -> str:
    """A hash of everything a method sees of a task but the split: features (values and dtypes),
    target, cardinalities and category labels."""
    import hashlib

    h = hashlib.sha256()
    h.update(pd.util.hash_pandas_object(task.X, index=True).to_numpy().tobytes())
    h.update(",".join(f"{c}:{task.X[c].dtype}" for c in task.X.columns).encode())
    h.update(np.ascontiguousarray(task.y).tobytes())
    h.update(repr(sorted(task.schema.categorical.items())).encode())
    h.update(repr(task.categories).encode())
    return h.hexdigest()[:16]


@pytest.mark.parametrize("split,split_seed", list(SIM_BEFORE))
def test_sim_other_splits_unchanged_by_the_shuffled_one(split, split_seed, tmp_path):
    task = R.RossmannSim().load(split, LoadContext(tmp_path, tmp_path, split_seed=split_seed))
    assert (task.split.fingerprint, task_digest(task)) == SIM_BEFORE[split, split_seed]


def test_sim_shuffled_split(tmp_path):
    ds = R.RossmannSim()
    zero = ds.load("shuffled", None)
    assert zero.split.fingerprint == ds.load("shuffled", LoadContext(tmp_path, tmp_path)).split.fingerprint
    assert zero.split.fingerprint == "bac06c02961aa33f"  # recorded: a change here re-runs every record
    assert task_digest(zero) == SIM_BEFORE["paper", 0][1]  # the paper split's features, exactly
    n = len(zero.X)
    assert zero.split.sizes() == {"train": 10_000, "valid": 2_000, "test": n - (9 * n) // 10}
    one = ds.load("shuffled", LoadContext(tmp_path, tmp_path, split_seed=1)).split
    assert one.fingerprint not in (zero.split.fingerprint, "bac06c02961aa33f") and one.sizes() == zero.split.sizes()
    parts = [zero.split.train, zero.split.valid, zero.split.test]
    assert len(np.unique(np.concatenate(parts))) == sum(map(len, parts))
    assert (zero.y[zero.split.test] > 0).all() and (zero.y[one.test] > 0).all()


# --------------------------------------------------------------------------------------------
# The kaggle split
# --------------------------------------------------------------------------------------------

def test_kaggle_split(data):
    task = R.Rossmann().load("kaggle", data)
    rows = rows_of(data, "kaggle")
    assert tuple(task.metrics) == ("rmspe", "mape") and task.target_transform == "log"
    days = rows["Date"].to_numpy().astype("datetime64[D]")
    last = days.max()
    s = task.split
    assert set(np.unique(days[s.test])) == set(last - np.arange(48))
    assert set(np.unique(days[s.valid])) == set(last - 48 - np.arange(48))
    assert days[s.train].max() == last - 96
    assert len(s.train) + len(s.valid) + len(s.test) == len(rows)
    assert list(task.X.columns) == task.schema.columns
    for col in task.schema.categorical:
        assert task.X[col].dtype == np.int64 and task.X[col].max() < task.schema.categorical[col]
    for col in task.schema.continuous:
        assert task.X[col].dtype == np.float64 and np.isfinite(task.X[col]).all()
    assert {"store_type", "assortment", "promo_interval", "state"} <= set(task.schema.categorical)
    assert task.schema.categorical["store_type"] == 4 and task.schema.categorical["assortment"] == 3


def test_unknown_split(data):
    with pytest.raises(KeyError, match="paper"):
        R.Rossmann().load("papr", data)


# --------------------------------------------------------------------------------------------
# Broken files
# --------------------------------------------------------------------------------------------

def test_truncated_train_csv_names_the_file(data):
    path = data.data_dir / "rossmann" / "train.csv"
    text = path.read_text()
    body, last = text.rstrip("\n").rsplit("\n", 1)
    for k in range(1, len(last)):  # every cut inside the last line
        path.write_text(body + "\n" + last[:k])
        with pytest.raises(ValueError, match="rossmann-store-sales") as info:
            R.load_table(path.parent, None)
        assert str(path) in str(info.value), last[:k]
    path.write_text(body + "\n" + last)  # the last line without its newline is complete
    assert len(R.load_table(path.parent, None)) == text.count("\n") - 1


@pytest.mark.parametrize("damage, words", [
    (lambda t: t.replace(',"Sales"', ',"Sale"', 1), ["Sales", "missing column"]),
    (lambda t: t.replace("\n1,", "\nabc,", 1), ["Store", "abc"]),
    (lambda t: t.replace("-0", "-x", 1), ["Date"]),
    (lambda t: t.replace('"0"', '"z"', 1), ["StateHoliday"]),
    (lambda t: t[: len(t) // 2] + '"unterminated' + t[len(t) // 2:], []),
    (lambda t: "", ["empty"]),
])
def test_corrupt_train_csv(data, damage, words):
    path = data.data_dir / "rossmann" / "train.csv"
    path.write_text(damage(path.read_text()))
    with pytest.raises(ValueError) as info:
        R.Rossmann(**ROWS).load("paper", data)
    msg = str(info.value)
    assert str(path) in msg and "rossmann-store-sales" in msg
    for w in words:
        assert w in msg


def test_corrupt_store_csv(data):
    path = data.data_dir / "rossmann" / "store.csv"
    path.write_text(path.read_text().replace(',"Assortment"', "", 1))
    with pytest.raises(ValueError, match="Assortment") as info:
        R.Rossmann(**ROWS).load("paper", data)
    assert str(path) in str(info.value)
    path.write_text(STORE_HEADER + "\n" + '1,"c","a",1270,9,2008,0,,,""\n')  # stores 2.. missing
    with pytest.raises(ValueError, match="no row for store") as info:
        R.Rossmann(**ROWS).load("paper", data)
    assert str(path) in str(info.value)


# --------------------------------------------------------------------------------------------
# rossmann-sim
# --------------------------------------------------------------------------------------------

def test_sim_card():
    ds = R.RossmannSim()
    assert ds.synthetic and ds.embedded and ds.folder is None and ds.name == "rossmann-sim"
    assert ds.splits[0] == "paper" and ds.metrics[0] == "mape"
    assert R.Rossmann.metrics == ("mape", "rmspe") and not R.Rossmann.synthetic


def test_sim_default_size_and_determinism():
    a = R.RossmannSim().load("paper", None)
    b = R.RossmannSim().load("paper", None)
    assert 30_000 <= len(a.X) <= 40_000 and a.synthetic and a.dataset == "rossmann-sim"
    assert a.split.fingerprint == b.split.fingerprint and a.X.equals(b.X) and np.array_equal(a.y, b.y)
    assert len(a.split.train) == 10_000 and len(a.split.valid) == 2_000
    other = R.RossmannSim(seed=1).load("paper", None)
    assert not np.array_equal(other.y[:1000], a.y[:1000])


def test_sim_raw_schema(small_raw):
    train, store, states = small_raw
    assert tuple(train.columns) == R.TRAIN_COLUMNS and tuple(store.columns) == R.STORE_COLUMNS
    assert tuple(states.columns) == R.STATE_COLUMNS
    assert sorted(store["Store"]) == list(range(1, SMALL["n_stores"] + 1))
    assert set(store["StoreType"]) == set("abcd") and set(store["Assortment"]) == set("abc")
    assert set(states["State"]) <= set(R.STATE_CODES)
    assert set(train["StateHoliday"]) <= set(R.STATE_HOLIDAYS) and {"0", "a"} <= set(train["StateHoliday"])
    assert len(train) == SMALL["n_stores"] * SMALL["n_days"]
    # train.csv's order: date descending, store ascending
    assert train["Date"].iloc[0] > train["Date"].iloc[-1]
    assert list(train["Store"].iloc[: SMALL["n_stores"]]) == list(range(1, SMALL["n_stores"] + 1))
    assert ((train["Sales"] == 0) | (train["Open"] == 1)).all()
    assert (train.loc[train["DayOfWeek"] == 7, "Open"].mean() < 0.5)
    assert store["CompetitionDistance"].isna().any()
    assert store.loc[store["Promo2"] == 0, "PromoInterval"].isna().all()
    joined = R.join_raw(train, store, states)
    assert list(joined.columns) == list(R.TRAIN_COLUMNS) + list(R.STORE_COLUMNS[1:]) + ["State"]


def test_sim_equals_its_kaggle_csvs(tmp_path, small_raw):
    """The generator's frames, written as Kaggle's CSVs and read back, give the same task."""
    R.write_kaggle_csvs(*small_raw, tmp_path / "rossmann")
    ctx = LoadContext(tmp_path, tmp_path / "cache")
    for split in ("paper", "shuffled", "kaggle"):
        real_path = R.Rossmann(**ROWS).load(split, ctx)
        sim = R.RossmannSim(**SMALL, **ROWS).load(split, None)
        assert real_path.split.fingerprint == sim.split.fingerprint
        assert real_path.X.equals(sim.X) and np.array_equal(real_path.y, sim.y)
        assert real_path.schema == sim.schema and sim.synthetic and not real_path.synthetic
    table_csv = R.load_table(tmp_path / "rossmann", None)
    table_sim = R.join_raw(*small_raw)
    pd.testing.assert_frame_equal(table_csv, table_sim)


def test_written_csvs_use_kaggle_quoting(tmp_path, small_raw):
    train, store, _ = small_raw
    states = pd.DataFrame({"Store": store["Store"], "State": ["HB,NI"] + ["BY"] * (len(store) - 1)})
    folder = R.write_kaggle_csvs(train, store, states, tmp_path / "rossmann")
    lines = (folder / "train.csv").read_text().split("\n")
    assert lines[0] == TRAIN_HEADER
    assert lines[1].startswith("1,") and lines[1].count('"') == 4  # "StateHoliday","SchoolHoliday"
    assert '2013-01-01' in lines[-2] and lines[-1] == ""
    store_lines = (folder / "store.csv").read_text().split("\n")
    assert store_lines[0] == STORE_HEADER
    no_promo2 = store.index[store["Promo2"] == 0][0]
    assert store_lines[no_promo2 + 1].endswith(',0,,,""')
    raw = (folder / "store_states.csv").read_bytes()
    assert raw.startswith(b"Store,State\r\n1,\"HB,NI\"\r\n2,BY\r\n")


def test_sim_learnable():
    """Store, promo and day of week carry the signal; the sim is neither trivial nor noise."""
    task = R.RossmannSim().load("paper", None)
    train, test = task.part("train"), task.part("test")
    logy = np.log(train.y)
    # Per-store mean in logs already beats the global mean by far.
    store_mean = pd.Series(logy).groupby(train.X["store"].to_numpy()).mean()
    pred = np.exp(store_mean.reindex(test.X["store"].to_numpy()).fillna(logy.mean()).to_numpy())
    mape_store = np.mean(np.abs(test.y - pred) / test.y)
    mape_global = np.mean(np.abs(test.y - np.exp(logy.mean())) / test.y)
    assert mape_store < 0.7 * mape_global
    # Adding promo and day of week helps more.
    key_tr = train.X["store"] * 100 + train.X["promo"] * 10 + train.X["day_of_week"]
    key_te = test.X["store"] * 100 + test.X["promo"] * 10 + test.X["day_of_week"]
    cell = pd.Series(logy).groupby(key_tr.to_numpy()).mean()
    pred2 = np.exp(cell.reindex(key_te.to_numpy()).to_numpy())
    pred2 = np.where(np.isnan(pred2), pred, pred2)
    mape_cell = np.mean(np.abs(test.y - pred2) / test.y)
    assert 0.08 < mape_cell < 0.8 * mape_store
