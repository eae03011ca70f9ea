"""Tests of datasets/movielens/: the published file formats, the splits, the verified download
and the generator.

Everything is built here (small files in the exact published formats, in tmp_path); nothing
needs the real data or the network: downloads only ever go to a local server on 127.0.0.1.
"""
from __future__ import annotations

import hashlib
import io
import socket
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bench.data.download
from bench import FilesMissing, LoadContext
from bench.plugins.registry import load_file

ROOT = Path(__file__).resolve().parents[1]


M = load_file(ROOT / "datasets" / "movielens")  # by path, as the registry loads it
COLS = list(M.COLUMNS)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """No test ever reaches GroupLens: the download URL is a closed local port unless a test
    points it at its own local server."""
    monkeypatch.setenv("BENCH_MOVIELENS_URL", f"http://127.0.0.1:{_closed_port()}")
    monkeypatch.delenv("BENCH_MOVIELENS_DOWNLOAD", raising=False)


# --------------------------------------------------------------------------------------------
# Small data in the exact published formats
# --------------------------------------------------------------------------------------------

def small_ratings(n_users: int = 10, n_items: int = 14, seed: int = 3) -> pd.DataFrame:
    """~80 ratings in u.data's order (random), unique (user, item), with timestamp ties."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(1, n_users + 1):
        items = rng.choice(np.arange(1, n_items + 1), size=rng.integers(5, 11), replace=False)
        times = 880_000_000 + rng.integers(0, 40, size=len(items)) * 1000  # ties happen
        rows += [(u, int(i), int(rng.integers(1, 6)), int(t)) for i, t in zip(items, times)]
    df = pd.DataFrame(rows, columns=COLS)
    return df.iloc[rng.permutation(len(df))].reset_index(drop=True)


def _tab_lines(df: pd.DataFrame) -> str:
    return "".join(f"{u}\t{i}\t{r}\t{t}\n" for u, i, r, t in df[COLS].itertuples(index=False))


U_ITEM = ["1|Toy Story (1995)|01-Jan-1995||http://us.imdb.com/M/title-exact?Toy%20Story%20(1995)|"
          "0|0|0|1|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0",
          "2|Café au Lait (1993)|01-Jan-1993||http://us.imdb.com/|0|0|0|0|0|1|0|0|0|0|0|0|0|0|1|0|0|0|0",
          "3|unknown|||http://us.imdb.com/|1|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0"]


def write_100k(folder: Path, df: pd.DataFrame | None = None, seed: int = 3) -> pd.DataFrame:
    """u.data, the folds u1..u5 (5 disjoint test parts) and ua/ub (2 test ratings per user),
    u.item and u.user, as GroupLens publishes them (fold files sorted by user, item)."""
    df = small_ratings(seed=seed) if df is None else df
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "u.data").write_text(_tab_lines(df))
    rng = np.random.default_rng(seed + 1)
    chunks = np.array_split(rng.permutation(len(df)), 5)

    def write_fold(name: str, test_pos: np.ndarray) -> None:
        is_test = np.zeros(len(df), bool)
        is_test[test_pos] = True
        for suffix, mask in (("base", ~is_test), ("test", is_test)):
            part = df[mask].sort_values(["user", "item"])
            (folder / f"{name}.{suffix}").write_text(_tab_lines(part))

    for k, chunk in enumerate(chunks, 1):
        write_fold(f"u{k}", chunk)
    order = rng.permutation(len(df))
    per_user = df["user"].to_numpy()[order]
    rank = pd.Series(per_user).groupby(per_user).cumcount().to_numpy()
    write_fold("ua", order[rank < 2])
    write_fold("ub", order[(rank >= 2) & (rank < 4)])
    (folder / "u.item").write_bytes(("\n".join(U_ITEM) + "\n").encode("latin-1"))
    (folder / "u.user").write_text("1|24|M|technician|85711\n2|53|F|other|94043\n")
    return df


def write_1m(folder: Path, df: pd.DataFrame) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ratings.dat").write_text(
        "".join(f"{u}::{i}::{r}::{t}\n" for u, i, r, t in df[COLS].itertuples(index=False)))
    (folder / "movies.dat").write_bytes(
        "1::Toy Story (1995)::Animation|Children's|Comedy\n"
        "2::Jumanji (1995)::Adventure|Children's|Fantasy\n"
        "3::Misérables, Les (1995)::Drama|Musical\n".encode("latin-1"))
    (folder / "users.dat").write_text("1::F::1::10::48067\n2::M::56::16::70072\n")


MOVIES_CSV = ('movieId,title,genres\n'
              '1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy\n'
              '11,"American President, The (1995)",Comedy|Drama|Romance\n'
              '4973,"Amélie (Fabuleux destin d\'Amélie Poulain, Le) (2001)",Comedy|Romance\n')


def write_csv_release(folder: Path, df: pd.DataFrame) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["userId,movieId,rating,timestamp"]
    lines += [f"{u},{i},{r:.1f},{t}" for u, i, r, t in df[COLS].itertuples(index=False)]
    (folder / "ratings.csv").write_text("\n".join(lines) + "\n")
    (folder / "movies.csv").write_text(MOVIES_CSV, encoding="utf-8")


def half_stars(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    out["rating"] = np.clip(out["rating"] - 0.5 * (np.arange(len(out)) % 2), 0.5, 5.0)
    return out


@pytest.fixture(scope="module")
def ratings() -> pd.DataFrame:
    return small_ratings()


@pytest.fixture
def data(tmp_path, ratings) -> LoadContext:
    write_100k(tmp_path / "data" / "ml-100k", ratings)
    return LoadContext(tmp_path / "data", tmp_path / "cache")


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    return df[COLS].sort_values(COLS).reset_index(drop=True)


def assert_disjoint_cover(split, n: int | None = None) -> None:
    parts = [np.asarray(split.train), np.asarray(split.valid), np.asarray(split.test)]
    for p in parts:
        assert p.dtype == np.int64 and len(np.unique(p)) == len(p) and np.all(np.diff(p) > 0)
    allp = np.concatenate(parts)
    assert len(np.unique(allp)) == len(allp), "train, valid and test overlap"
    if n is not None:
        assert len(allp) == n and allp.min() >= 0 and allp.max() < n


# --------------------------------------------------------------------------------------------
# File formats
# --------------------------------------------------------------------------------------------

def test_u_data_and_side_tables(data, ratings):
    folder = data.data_dir / "ml-100k"
    assert (folder / "u.data").read_text().split("\n")[0].count("\t") == 3
    table = M.read_ratings_file(folder / "u.data")
    pd.testing.assert_frame_equal(table, ratings.astype({"rating": np.float64}))
    assert list(table.dtypes) == [np.int64, np.int64, np.float64, np.int64]
    items = M.read_items(folder, "ml-100k")
    assert items["title"].tolist() == ["Toy Story (1995)", "Café au Lait (1993)", "unknown"]
    assert items["genres"].tolist() == ["Animation|Children's|Comedy", "Comedy|Romance", "unknown"]
    assert M.item_titles(data.data_dir, "ml-100k") == {1: "Toy Story (1995)", 2: "Café au Lait (1993)",
                                                      3: "unknown"}
    users = M.read_users(folder, "ml-100k")
    assert users.to_dict("list") == {"user": [1, 2], "age": [24, 53], "gender": ["M", "F"],
                                     "occupation": ["technician", "other"], "zip": ["85711", "94043"]}


def test_task(data, ratings):
    task = M.MovieLens(side_features=False).load("random", data)
    assert task.kind == "rating" and task.target == "rating" and tuple(task.metrics) == ("rmse", "mae")
    assert task.dataset == "movielens" and not task.synthetic
    assert list(task.X.columns) == ["user", "item"] == task.schema.columns
    assert task.schema.continuous == ()
    assert task.categories["user"] == sorted(ratings["user"].unique().tolist())
    assert task.categories["item"] == sorted(ratings["item"].unique().tolist())
    for col, raw in (("user", "user"), ("item", "item")):
        codes = task.X[col].to_numpy()
        assert codes.dtype == np.int64 and codes.min() == 0
        assert codes.max() == task.schema.categorical[col] - 1 == len(task.categories[col]) - 1
        back = np.asarray(task.categories[col])[codes]
        np.testing.assert_array_equal(back, ratings[raw].to_numpy())  # file order kept
    assert task.y.dtype == np.float64
    np.testing.assert_array_equal(task.y, ratings["rating"].to_numpy(dtype=float))
    part = task.part("test")
    assert len(part) == len(task.split.test) and part.kind == "rating"


def test_side_features_join_each_rating(data, ratings):
    """u.user and u.item become continuous columns of each rating row, by the raw ids."""
    task = M.MovieLens().load("random", data)
    X = task.X
    assert list(X.columns[:2]) == ["user", "item"]
    assert task.schema.continuous == tuple(X.columns[2:])
    assert {"user_age", "user_female", "user_occupation", "item_year", "genre_animation"} <= set(X.columns)
    raw_user = np.asarray(task.categories["user"])[X["user"].to_numpy()]
    raw_item = np.asarray(task.categories["item"])[X["item"].to_numpy()]
    np.testing.assert_array_equal(raw_user, ratings["user"].to_numpy())
    for uid, age, female in ((1, 24, 0.0), (2, 53, 1.0)):
        rows = raw_user == uid
        assert rows.any()
        assert (X.loc[rows, "user_age"] == age).all() and (X.loc[rows, "user_female"] == female).all()
    assert X.loc[~np.isin(raw_user, [1, 2]), "user_age"].isna().all()  # users u.user lacks
    toy = raw_item == 1
    if toy.any():
        assert (X.loc[toy, "item_year"] == 1995).all() and (X.loc[toy, "genre_animation"] == 1).all()
        assert (X.loc[toy, "genre_romance"] == 0).all()


def test_ratings_dat(tmp_path, ratings):
    write_1m(tmp_path / "data" / "ml-1m", ratings)
    ctx = LoadContext(tmp_path / "data", tmp_path / "cache")
    assert (tmp_path / "data" / "ml-1m" / "ratings.dat").read_text().split("\n")[0].count("::") == 3
    task = M.MovieLens(release="ml-1m").load(None, ctx)  # default: random
    assert task.split.name == "random" and len(task.y) == len(ratings)
    np.testing.assert_array_equal(task.y, ratings["rating"].to_numpy(dtype=float))
    np.testing.assert_array_equal(np.asarray(task.categories["item"])[task.X["item"]], ratings["item"])
    assert M.item_titles(tmp_path / "data", "ml-1m")[3] == "Misérables, Les (1995)"
    assert M.read_items(tmp_path / "data" / "ml-1m", "ml-1m")["genres"][0] == "Animation|Children's|Comedy"
    users = M.read_users(tmp_path / "data" / "ml-1m", "ml-1m")
    assert users["age"].tolist() == [1, 56] and users["occupation"].tolist() == [10, 16]


@pytest.mark.parametrize("release", ["ml-latest-small", "ml-latest", "ml-25m"])
def test_ratings_csv_half_stars(tmp_path, ratings, release):
    df = half_stars(ratings)
    write_csv_release(tmp_path / "data" / release, df)
    text = (tmp_path / "data" / release / "ratings.csv").read_text()
    assert text.startswith("userId,movieId,rating,timestamp\n") and (",3.5," in text or ",4.5," in text)
    task = M.MovieLens(release=release).load("random", LoadContext(tmp_path / "data", tmp_path / "cache"))
    np.testing.assert_array_equal(task.y, df["rating"].to_numpy())
    assert (task.y % 1 == 0.5).any() and task.y.min() >= 0.5
    titles = M.item_titles(tmp_path / "data", release)
    assert titles == {1: "Toy Story (1995)", 11: "American President, The (1995)",
                      4973: "Amélie (Fabuleux destin d'Amélie Poulain, Le) (2001)"}
    assert M.read_users(tmp_path / "data" / release, release) is None


@pytest.mark.parametrize("damage, words", [
    (lambda t: t.rsplit("\t", 1)[0], ["u.data"]),            # last line cut inside
    (lambda t: t.replace("\t", "\tx", 1), ["u.data"]),        # not a number
    (lambda t: t.replace("\n", "\n1\t1\t7\t880000000\n", 1), ["rating", "7"]),
    (lambda t: "", ["empty"]),
])
def test_corrupt_u_data(data, damage, words):
    path = data.data_dir / "ml-100k" / "u.data"
    path.write_text(damage(path.read_text()))
    with pytest.raises(ValueError) as info:
        M.MovieLens().load("random", data)
    msg = str(info.value)
    assert str(path) in msg and "ml-100k.zip" in msg
    for w in words:
        assert w in msg


def test_wrong_csv_header_and_separator(tmp_path, ratings):
    folder = tmp_path / "ml-latest-small"
    write_csv_release(folder, ratings)
    path = folder / "ratings.csv"
    path.write_text(path.read_text().replace("userId,movieId", "user,movie", 1))
    with pytest.raises(ValueError, match="userId,movieId,rating,timestamp") as info:
        M.read_ratings_file(path, "ml-latest-small")
    assert str(path) in str(info.value)
    dat = tmp_path / "ratings.dat"
    dat.write_text("1,2,3,4\n")
    with pytest.raises(ValueError, match="::"):
        M.read_ratings_file(dat, "ml-1m")


# --------------------------------------------------------------------------------------------
# Splits
# --------------------------------------------------------------------------------------------

def test_official_folds(data, ratings):
    folder = data.data_dir / "ml-100k"
    prints = set()
    tests = []
    for fold in M.FOLDS:
        task = M.MovieLens().load(fold, data)
        s = task.split
        assert s.name == fold
        assert_disjoint_cover(s, len(ratings))  # every u.data row in exactly one part
        base = M.read_ratings_file(folder / f"{fold}.base")
        test = M.read_ratings_file(folder / f"{fold}.test")
        # test = exactly the .test file's rows; train + valid = exactly the .base file's rows
        pd.testing.assert_frame_equal(_sorted(ratings.iloc[s.test]), _sorted(test), check_dtype=False)
        pd.testing.assert_frame_equal(_sorted(ratings.iloc[np.r_[s.train, s.valid]]), _sorted(base),
                                      check_dtype=False)
        assert len(s.valid) == len(base) // 20
        again = M.MovieLens().load(fold, LoadContext(data.data_dir, data.cache_dir.parent / "other"))
        assert again.split.fingerprint == s.fingerprint
        prints.add(s.fingerprint)
        tests.append(set(s.test))
    assert len(prints) == len(M.FOLDS)
    u_tests = tests[:5]  # u1..u5: disjoint test parts covering all the data
    assert sum(map(len, u_tests)) == len(ratings) and len(set().union(*u_tests)) == len(ratings)
    assert not tests[5] & tests[6]


def test_u1_is_the_ml_100k_default(data):
    assert M.MovieLens().check_split(None) == "u1"
    assert M.MovieLens().load(None, data).split.fingerprint == M.MovieLens().load("u1", data).split.fingerprint
    assert M.MovieLens.splits[0] == "u1" and {"random", "temporal"} <= set(M.MovieLens.splits)


def test_fold_rows_must_come_from_u_data(data):
    path = data.data_dir / "ml-100k" / "u1.test"
    path.write_text(path.read_text() + "999\t999\t5\t880000000\n")
    with pytest.raises(ValueError, match="999 999 5") as info:
        M.MovieLens().load("u1", data)
    assert str(path) in str(info.value)


def test_match_rows_repeated_rows():
    table = pd.DataFrame([(1, 2, 3.0, 10), (1, 2, 3.0, 10), (4, 5, 1.0, 11)], columns=COLS)
    rows = pd.DataFrame([(4, 5, 1.0, 11), (1, 2, 3.0, 10), (1, 2, 3.0, 10)], columns=COLS)
    assert M.match_rows(table, rows, "x").tolist() == [2, 0, 1]


def test_random_split(data, ratings):
    s = M.MovieLens().load("random", data).split
    n = len(ratings)
    assert_disjoint_cover(s, n)
    assert s.sizes() == {"train": n - 2 * (n // 10), "valid": n // 10, "test": n // 10}
    assert M.random_split(n).fingerprint == s.fingerprint
    big = M.random_split(100_000)
    assert big.sizes() == {"train": 80_000, "valid": 10_000, "test": 10_000}
    assert big.fingerprint == M.random_split(100_000).fingerprint


def test_temporal_split(data, ratings):
    s = M.MovieLens().load("temporal", data).split
    assert s.name == "temporal"
    assert_disjoint_cover(s, len(ratings))
    assert M.MovieLens().load("temporal", data).split.fingerprint == s.fingerprint
    part = np.full(len(ratings), "train", dtype=object)
    part[s.valid], part[s.test] = "valid", "test"
    df = ratings.assign(part=part, pos=np.arange(len(ratings)))
    for user, g in df.groupby("user"):
        g = g.sort_values(["timestamp", "pos"])
        k = max(1, len(g) // 10)
        assert (g["part"].iloc[-k:] == "test").all() and (g["part"].iloc[:-k] != "test").all()
        assert g["part"].iloc[-1] == "test"  # the user's latest rating
        order = {"train": 0, "valid": 1, "test": 2}
        assert np.all(np.diff(g["part"].map(order).to_numpy()) >= 0)  # train, then valid, then test


def test_temporal_ties_and_tiny_users():
    # user 1: 3 ratings at the same time -> the last by position is test, the one before valid
    # user 2: one rating -> test; user 3: two ratings -> one test, one train
    users = np.array([1, 2, 1, 3, 1, 3])
    times = np.array([5, 9, 5, 1, 5, 2])
    s = M.temporal_split(users, times)
    assert s.test.tolist() == [1, 4, 5] and s.valid.tolist() == [2] and s.train.tolist() == [0, 3]
    many = M.temporal_split(np.zeros(25, int), np.arange(25))  # 25 // 10 = 2 each
    assert many.test.tolist() == [23, 24] and many.valid.tolist() == [21, 22]
    assert len(many.train) == 21


def test_split_not_available_for_release(tmp_path, ratings):
    ml1m = M.MovieLens(release="ml-1m")
    assert ml1m.folder == "ml-1m" and ml1m.check_split(None) == "random"
    with pytest.raises(KeyError, match="ml-1m"):
        ml1m.load("u3", LoadContext(tmp_path / "data", tmp_path / "cache"))
    with pytest.raises(KeyError, match="random"):
        M.MovieLens().check_split("randm")
    with pytest.raises(ValueError, match="ml-100k"):
        M.MovieLens(release="ml-10m")
    with pytest.raises(TypeError, match="release"):
        M.MovieLens(relase="ml-1m")


# --------------------------------------------------------------------------------------------
# Cache and missing files
# --------------------------------------------------------------------------------------------

def test_parquet_cache(data, monkeypatch):
    first = M.MovieLens().load("temporal", data)
    cached = sorted((data.cache_dir / "movielens").glob("*.parquet"))
    assert len(cached) == 1 and cached[0].name.startswith("ml-100k-")

    def no_csv(*args, **kwargs):
        raise AssertionError("read_csv called: the cache was not used")

    with monkeypatch.context() as m:
        m.setattr(pd, "read_csv", no_csv)
        second = M.MovieLens().load("temporal", data)
    assert second.X.equals(first.X) and second.split.fingerprint == first.split.fingerprint
    path = data.data_dir / "ml-100k" / "u.data"
    path.write_text(path.read_text().rstrip("\n").rsplit("\n", 1)[0] + "\n")  # one row fewer
    third = M.MovieLens().load("temporal", data)
    assert len(third.y) == len(first.y) - 1
    assert len(list((data.cache_dir / "movielens").glob("*.parquet"))) == 2


def test_missing_files_message(tmp_path, monkeypatch):
    ctx = LoadContext(tmp_path / "data", tmp_path / "cache")
    monkeypatch.setenv("BENCH_MOVIELENS_DOWNLOAD", "0")
    with pytest.raises(FilesMissing) as info:
        M.MovieLens().load("random", ctx)
    msg = str(info.value)
    assert str(tmp_path / "data" / "ml-100k" / "u.data") in msg
    assert "https://files.grouplens.org/datasets/movielens/ml-100k.zip" in msg
    assert [p.name for p in M.MovieLens(release="ml-1m").missing_files(tmp_path / "data")] == ["ratings.dat"]
    assert not (tmp_path / "data").exists()  # nothing written without a download

    monkeypatch.delenv("BENCH_MOVIELENS_DOWNLOAD")  # downloads on, but offline (a closed port)
    with pytest.raises(FilesMissing, match="download of .*ml-100k.zip failed") as info:
        M.MovieLens().load("u1", ctx)
    assert "md5 is 0e33842e24a9c977be4e0107933c0723" in str(info.value)
    assert not list((tmp_path / "data").glob(".*"))  # no leftover partial download

    with pytest.raises(FilesMissing, match="unverified download is refused"):
        M.MovieLens(release="ml-latest-small").load("random", ctx)


def test_partial_copy_is_never_downloaded_over(tmp_path, ratings):
    folder = tmp_path / "data" / "ml-100k"
    write_100k(folder, ratings)
    (folder / "u3.test").unlink()
    ctx = LoadContext(tmp_path / "data", tmp_path / "cache")
    with pytest.raises(FilesMissing, match="u3.test") as info:
        M.MovieLens().load("u3", ctx)
    assert "download of" not in str(info.value)
    assert M.MovieLens().load("u2", ctx).split.name == "u2"  # the other folds still work


# --------------------------------------------------------------------------------------------
# Verified download from a local server
# --------------------------------------------------------------------------------------------

@pytest.fixture
def server(file_server, monkeypatch):
    monkeypatch.setenv("BENCH_MOVIELENS_URL", file_server.url + "/movielens")
    return file_server


def release_zip(tmp_path: Path, ratings: pd.DataFrame, extra: dict[str, bytes] | None = None) -> bytes:
    """ml-100k.zip as GroupLens lays it out: every file under ml-100k/."""
    src = tmp_path / "zip-src" / "ml-100k"
    write_100k(src, ratings)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("ml-100k/", b"")
        for path in sorted(src.iterdir()):
            zf.write(path, f"ml-100k/{path.name}")
        for name, body in (extra or {}).items():
            zf.writestr(name, body)
    return buf.getvalue()


def _pin(monkeypatch, body: bytes) -> None:
    monkeypatch.setitem(M.CHECKSUMS, "ml-100k", ("md5", hashlib.md5(body).hexdigest()))


def test_download_verified_and_extracted(tmp_path, ratings, server, monkeypatch):
    body = release_zip(tmp_path, ratings)
    server.files["/movielens/ml-100k.zip"] = body
    _pin(monkeypatch, body)
    ctx = LoadContext(tmp_path / "data", tmp_path / "cache")
    task = M.MovieLens().load("u1", ctx)
    assert server.requests == ["/movielens/ml-100k.zip"]
    folder = tmp_path / "data" / "ml-100k"
    assert (folder / "u.data").read_bytes() == (tmp_path / "zip-src" / "ml-100k" / "u.data").read_bytes()
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["ml-100k"]  # no temp files left
    assert len(task.y) == len(ratings)
    M.MovieLens().load("u1", ctx)
    assert len(server.requests) == 1  # found on disk the second time


def test_download_into_cache_when_data_folder_is_read_only(tmp_path, ratings, server, monkeypatch):
    body = release_zip(tmp_path, ratings)
    server.files["/movielens/ml-100k.zip"] = body
    _pin(monkeypatch, body)
    data_dir = tmp_path / "readonly-data"
    real_writable = bench.data.download.writable
    monkeypatch.setattr(bench.data.download, "writable",
                        lambda p, private=False: Path(p) != data_dir and real_writable(Path(p), private))
    ctx = LoadContext(data_dir, tmp_path / "cache")
    first = M.MovieLens().load("temporal", ctx)
    assert (tmp_path / "cache" / "downloads" / "ml-100k" / "u.data").exists()
    assert not (data_dir / "ml-100k").exists()
    second = M.MovieLens().load("u2", ctx)
    assert len(server.requests) == 1 and len(second.y) == len(first.y)


def test_checksum_mismatch_refused(tmp_path, ratings, server):
    server.files["/movielens/ml-100k.zip"] = release_zip(tmp_path, ratings)  # not GroupLens' md5
    ctx = LoadContext(tmp_path / "data", tmp_path / "cache")
    with pytest.raises(M.ChecksumMismatch, match="0e33842e24a9c977be4e0107933c0723"):
        M.MovieLens().load("u1", ctx)
    assert not (tmp_path / "data" / "ml-100k").exists()
    assert not list((tmp_path / "data").iterdir())  # the download was deleted


def test_http_error_is_files_missing(tmp_path, server):
    with pytest.raises(FilesMissing, match="404"):
        M.MovieLens().load("u1", LoadContext(tmp_path / "data", tmp_path / "cache"))
    assert server.requests == ["/movielens/ml-100k.zip"]


@pytest.mark.parametrize("member", ["ml-100k/../../evil.txt", "/tmp/evil.txt", "..\\evil.txt",
                                    "C:/evil.txt"])
def test_path_traversal_refused(tmp_path, ratings, server, monkeypatch, member):
    body = release_zip(tmp_path, ratings, extra={member: b"pwned"})
    server.files["/movielens/ml-100k.zip"] = body
    _pin(monkeypatch, body)
    (tmp_path / "data").mkdir()
    with pytest.raises(M.UnsafeArchive, match="refused archive member"):
        M.MovieLens().load("u1", LoadContext(tmp_path / "data", tmp_path / "cache"))
    assert not list((tmp_path / "data").iterdir())  # nothing extracted, nothing left behind
    assert not list(tmp_path.rglob("evil.txt"))


def test_symlink_member_refused(tmp_path):
    path = tmp_path / "links.zip"
    with zipfile.ZipFile(path, "w") as zf:
        info = zipfile.ZipInfo("ml-100k/u.data")
        info.external_attr = (0o120777 << 16)
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(M.UnsafeArchive, match="symbolic link"):
        M.safe_extract(path, tmp_path / "out", "ml-100k")


# --------------------------------------------------------------------------------------------
# movielens-sim
# --------------------------------------------------------------------------------------------

def test_sim_card():
    ds = M.MovieLensSim()
    assert ds.synthetic and ds.embedded and ds.folder is None and ds.name == "movielens-sim"
    assert ds.kind == "rating" and ds.metrics == ("rmse", "mae") and ds.check_split(None) == "random"
    assert not M.MovieLens.synthetic and not M.MovieLens.embedded and M.MovieLens().folder == "ml-100k"


def test_sim_determinism_and_range():
    t0 = time.perf_counter()
    a = M.MovieLensSim().load("random", None)
    assert time.perf_counter() - t0 < 0.5
    b = M.MovieLensSim().load("random", None)
    assert a.X.equals(b.X) and np.array_equal(a.y, b.y) and a.split.fingerprint == b.split.fingerprint
    assert a.synthetic and a.dataset == "movielens-sim"
    assert set(np.unique(a.y)) <= {1.0, 2.0, 3.0, 4.0, 5.0} and len(np.unique(a.y)) == 5
    assert 2.9 < a.y.mean() < 4.1 and 0.8 < a.y.std() < 1.4
    assert_disjoint_cover(a.split, len(a.y))
    other = M.MovieLensSim(seed=1).load("random", None)
    assert not (len(other.y) == len(a.y) and np.array_equal(other.y, a.y))
    t = M.MovieLensSim().load("temporal", None)
    assert_disjoint_cover(t.split, len(t.y))
    assert t.split.fingerprint != a.split.fingerprint


def test_sim_sparsity():
    df = M.generate_ratings(300, 200, 0.06, 5, seed=0)
    assert 0.055 * 300 * 200 <= len(df) <= 0.065 * 300 * 200
    assert not df.duplicated(["user", "item"]).any()
    per_user = df["user"].value_counts()
    assert len(per_user) == 300 and per_user.min() >= 3 and per_user.max() > 4 * per_user.median()
    per_item = df["item"].value_counts().sort_values(ascending=False)
    assert per_item.iloc[:20].sum() > 0.3 * len(df)  # the top 10 % of items: > 30 % of ratings
    task = M.MovieLensSim().load("random", None)
    assert task.schema.categorical["user"] == 300 and task.schema.categorical["item"] <= 200
    assert task.categories["user"][0] == 1
    with pytest.raises(ValueError, match="density"):
        M.generate_ratings(density=0)


def test_sim_learnable():
    """User and item biases beat the global mean on held-out ratings."""
    task = M.MovieLensSim().load("random", None)
    tr, te = task.part("train"), task.part("test")
    mu = tr.y.mean()
    bu = pd.Series(tr.y - mu).groupby(tr.X["user"].to_numpy()).mean()
    resid = tr.y - mu - bu.reindex(tr.X["user"].to_numpy()).to_numpy()
    bi = pd.Series(resid).groupby(tr.X["item"].to_numpy()).mean()
    pred = (mu + 0.7 * bu.reindex(te.X["user"].to_numpy()).fillna(0).to_numpy()
            + 0.7 * bi.reindex(te.X["item"].to_numpy()).fillna(0).to_numpy())
    rmse_bias = np.sqrt(np.mean((te.y - pred) ** 2))
    rmse_mean = np.sqrt(np.mean((te.y - mu) ** 2))
    assert rmse_bias < 0.95 * rmse_mean


def test_level_names_are_movie_titles(data):
    ds = M.MovieLens()
    task = ds.load("random", data)
    names = ds.level_names(task, "item", data.data_dir)
    raw = task.categories["item"]
    assert len(names) == len(raw)
    assert names[raw.index(1)] == "Toy Story (1995)"
    assert ds.level_names(task, "user", data.data_dir) is None
