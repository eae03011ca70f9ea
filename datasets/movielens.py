"""MovieLens (GroupLens) rating data and ``movielens-sim``, a seeded low-rank rating generator.

``movielens`` reads the GroupLens releases from ``<data dir>/<release>/``, exactly as published:

* ``ml-100k``: ``u.data`` (tab-separated ``user item rating timestamp``, no header), the official
  folds ``u1..u5.base/.test`` and ``ua/ub.base/.test`` (same format), side tables ``u.item``
  and ``u.user`` (``|``-separated, latin-1);
* ``ml-1m``: ``ratings.dat`` (``UserID::MovieID::Rating::Timestamp``), ``movies.dat`` and
  ``users.dat`` (``::``-separated, latin-1);
* ``ml-latest-small``, ``ml-latest``, ``ml-25m``: ``ratings.csv`` (header
  ``userId,movieId,rating,timestamp``, half-star ratings 0.5 .. 5.0) and ``movies.csv``
  (``movieId,title,genres``, UTF-8, titles with commas quoted).

When the release is absent, ``load`` downloads ``<release>.zip`` from GroupLens (base URL:
``BENCH_MOVIELENS_URL`` or the module attribute ``URL_BASE``), verifies its checksum against
``CHECKSUMS`` (a release without a pinned checksum is never downloaded), extracts it with
path-traversal protection into the data folder, or into ``<cache dir>/downloads/`` when the data
folder is not writable. ``BENCH_MOVIELENS_DOWNLOAD=0`` turns downloading off. Offline, a
:class:`bench.FilesMissing` says what to do. The parsed ratings table is cached as parquet in
``<cache dir>/movielens/``, keyed by the ratings file's sha256.

Task: kind ``rating``, X = the categorical columns ``user`` and ``item`` (codes 0..k-1 of the
sorted raw ids present in the ratings; ``Task.categories`` holds the raw ids), y = the rating
(float64). Rows are the ratings file's rows in file order. Metrics RMSE (headline), MAE.

Splits (positions into the ratings table; pure functions of the data and the split seed, 0
unless a suite's ``split_seeds`` asks for others; ``temporal`` draws nothing and takes none):

``u1`` .. ``u5``, ``ua``, ``ub`` (ml-100k only; ``u1`` is its default) -- GroupLens' official
    folds: test = the rows of ``<fold>.test``, train = the rows of ``<fold>.base`` less a seeded
    5 % of them (``n_base // 20`` rows), which are valid, for early stopping (a split seed
    redraws only that valid part; the fold's test rows are GroupLens'). Fold rows are
    matched to ``u.data`` rows on (user, item, rating, timestamp).
``random`` (default for the other releases) -- one seeded permutation: test = ``n // 10`` rows,
    valid = ``n // 10`` rows, train = the rest.
``temporal`` -- per user, by timestamp (ties broken by row position): with ``k = max(1, n_u // 10)``
    for a user with ``n_u`` ratings, test = the user's latest ``k`` ratings and valid = the ``k``
    before them, as many of those as leave at least one rating in train.
"""
from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import os
import re
import shutil
import sys
import tempfile
import urllib.error
import urllib.request
import uuid
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench import Dataset, FilesMissing, LoadContext, Schema, Split, Task
from bench.data.archive import writable
from bench.data.paths import atomic_write, open_nofollow, private_dir

RELEASES = ("ml-100k", "ml-1m", "ml-latest-small", "ml-latest", "ml-25m")
RATINGS_FILE = {"ml-100k": "u.data", "ml-1m": "ratings.dat", "ml-latest-small": "ratings.csv",
                "ml-latest": "ratings.csv", "ml-25m": "ratings.csv"}
SIDE_FILES = {"ml-100k": ("u.item", "u.user"), "ml-1m": ("movies.dat", "users.dat"),
              "ml-latest-small": ("movies.csv",), "ml-latest": ("movies.csv",), "ml-25m": ("movies.csv",)}
FOLDS = ("u1", "u2", "u3", "u4", "u5", "ua", "ub")
FOLD_RELEASES = ("ml-100k",)
SPLITS = FOLDS + ("random", "temporal")
CSV_HEADER = ("userId", "movieId", "rating", "timestamp")
COLUMNS = ("user", "item", "rating", "timestamp")

SPLIT_SEED = 0  # the default split seed of the seeded splits; never a run's (model) seed
CACHE_VERSION = 1  # bump when read_ratings' output changes
VALID_SHARE_OF_BASE = 20  # official folds: valid = n_base // 20 rows (5 %) of the .base rows

URL_BASE = "https://files.grouplens.org/datasets/movielens"
PAGE = "https://grouplens.org/datasets/movielens/"
# Checksums of the published archives (GroupLens publishes <release>.zip.md5 beside each zip).
# ml-latest-small and ml-latest are re-issued from time to time: no pinned checksum, no download.
CHECKSUMS: dict[str, tuple[str, str]] = {
    "ml-100k": ("md5", "0e33842e24a9c977be4e0107933c0723"),
    "ml-1m": ("md5", "c4d9eecfca2ab87c1945afe126590906"),
    "ml-25m": ("md5", "6b51fb2759a8657d3bfcbfc42b592ada"),
}
DOWNLOAD_TIMEOUT_S = 60
MAX_UNPACKED_BYTES = 8 << 30  # refuse archives that claim to unpack to more (ml-25m: ~1.2 GB)

GENRES_100K = ("unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
               "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
               "Romance", "Sci-Fi", "Thriller", "War", "Western")


class ChecksumMismatch(ValueError):
    """A downloaded archive does not have the pinned checksum; it was deleted, never opened."""


class UnsafeArchive(ValueError):
    """An archive member would land outside the extraction folder (absolute path, ``..``, link)."""


def _check_release(release: str) -> str:
    if release not in RELEASES:
        raise ValueError(f"movielens: unknown release {release!r}; releases: {', '.join(RELEASES)}")
    return release


def _redownload(release: str) -> str:
    return f"re-download {release}.zip from {PAGE} ({URL_BASE}/{release}.zip) and unzip it again"


# ----------------------------------------------------------------------------------------------
# Reading the published formats
# ----------------------------------------------------------------------------------------------

def _parse_error(path: Path, release: str, e: BaseException) -> ValueError:
    msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return ValueError(f"{path}: cannot parse it as a MovieLens {release} ratings file ({msg}); "
                      f"the file looks truncated or corrupt; {_redownload(release)}")


def _read_table(path: Path, release: str, source: Any, **kwargs: Any) -> pd.DataFrame:
    try:
        return pd.read_csv(source, engine="c", **kwargs)
    except pd.errors.EmptyDataError as e:
        raise ValueError(f"{path}: the file is empty; {_redownload(release)}") from e
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OverflowError, TypeError) as e:
        raise _parse_error(path, release, e) from e


_NUM_DTYPES = {"user": np.int64, "item": np.int64, "rating": np.float64, "timestamp": np.int64}


def read_ratings_file(path: str | os.PathLike, release: str = "ml-100k") -> pd.DataFrame:
    """One ratings file (``u.data`` or a fold file, ``ratings.dat``, ``ratings.csv``) as published,
    as a frame with columns user, item (int64), rating (float64), timestamp (int64), file order.
    Errors name the file."""
    path = Path(path)
    _check_release(release)
    if path.suffix == ".dat" or (path.suffix not in (".csv",) and release == "ml-1m"):
        data = path.read_bytes()
        first = data.split(b"\n", 1)[0]
        if data.strip() and b"::" not in first:
            raise ValueError(f"{path}: expected '::'-separated fields (UserID::MovieID::Rating::"
                             f"Timestamp), got {first[:60]!r}; {_redownload(release)}")
        df = _read_table(path, release, io.BytesIO(data.replace(b"::", b"\t")), sep="\t",
                         header=None, names=list(COLUMNS), dtype=_NUM_DTYPES)
    elif path.suffix == ".csv":
        df = _read_table(path, release, path, sep=",", header=0,
                         dtype={"userId": np.int64, "movieId": np.int64, "rating": np.float64,
                                "timestamp": np.int64})
        if tuple(df.columns) != CSV_HEADER:
            raise ValueError(f"{path}: expected the header {','.join(CSV_HEADER)}, found "
                             f"{','.join(map(str, df.columns))}; {_redownload(release)}")
        df.columns = list(COLUMNS)
    else:  # u.data and the fold files: tab-separated, no header
        df = _read_table(path, release, path, sep="\t", header=None, names=list(COLUMNS),
                         dtype=_NUM_DTYPES)
    if len(df) == 0:
        raise ValueError(f"{path}: the file is empty (no ratings); {_redownload(release)}")
    r = df["rating"].to_numpy()
    bad = ~np.isfinite(r) | (r < 0.5) | (r > 5)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{path}: data row {i + 1}: rating {r[i]!r} is not in 0.5 .. 5; "
                         f"{_redownload(release)}")
    return df.reset_index(drop=True)


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def load_ratings(folder: str | os.PathLike, release: str, cache_dir: str | os.PathLike | None) -> pd.DataFrame:
    """The release's ratings table (see :func:`read_ratings_file`), parsed once and cached as
    parquet in ``<cache_dir>/movielens/``, keyed by the ratings file's sha256."""
    path = Path(folder) / RATINGS_FILE[_check_release(release)]
    cached = None
    if cache_dir is not None:
        key = hashlib.sha256(f"movielens-v{CACHE_VERSION}-{release}-{_file_sha256(path)}".encode())
        cached = Path(cache_dir) / "movielens" / f"{release}-{key.hexdigest()[:24]}.parquet"
        if os.path.lexists(cached):
            try:  # never through a planted link; pyarrow>=14.0.1 runs no code from parquet metadata
                with open_nofollow(cached) as f:
                    return pd.read_parquet(f)
            except Exception as e:  # a damaged cache file: rebuild it
                warnings.warn(f"{cached}: unreadable cache ({e}); rebuilding it", stacklevel=2)
    table = read_ratings_file(path, release)
    if cached is not None:
        try:
            private_dir(cached.parent)
            with atomic_write(cached) as f:
                table.to_parquet(f, index=False)
        except OSError as e:
            warnings.warn(f"cannot write the cache file {cached} ({e}); going on without it", stacklevel=2)
    return table


def read_items(folder: str | os.PathLike, release: str) -> pd.DataFrame:
    """The release's movie table: item (raw id), title, genres ('|'-joined names).

    ``u.item`` (``|``-separated, latin-1; 19 genre flags), ``movies.dat`` (``::``, latin-1) or
    ``movies.csv`` (header, UTF-8, quoted titles)."""
    _check_release(release)
    folder = Path(folder)
    rows: list[tuple[int, str, str]] = []
    if release == "ml-100k":
        path = folder / "u.item"
        for n, line in enumerate(path.read_text(encoding="latin-1").splitlines(), 1):
            if not line.strip():
                continue
            cells = line.split("|")
            if len(cells) < 2 + 3 + len(GENRES_100K) or not cells[0].strip().isdigit():
                raise ValueError(f"{path}: line {n} is not 'id|title|release date|video release date|"
                                 f"IMDb URL|19 genre flags'; {_redownload(release)}")
            flags = cells[5:5 + len(GENRES_100K)]
            genres = "|".join(g for g, f in zip(GENRES_100K, flags) if f.strip() == "1")
            rows.append((int(cells[0]), cells[1], genres))
    elif release == "ml-1m":
        path = folder / "movies.dat"
        for n, line in enumerate(path.read_text(encoding="latin-1").splitlines(), 1):
            if not line.strip():
                continue
            cells = line.split("::")
            if len(cells) < 3 or not cells[0].strip().isdigit():
                raise ValueError(f"{path}: line {n} is not 'MovieID::Title::Genres'; {_redownload(release)}")
            rows.append((int(cells[0]), "::".join(cells[1:-1]), cells[-1]))
    else:
        path = folder / "movies.csv"
        with open(path, encoding="utf-8", newline="") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if header is None or [h.strip() for h in header[:3]] != ["movieId", "title", "genres"]:
                raise ValueError(f"{path}: expected the header movieId,title,genres; {_redownload(release)}")
            for cells in reader:
                if not cells:
                    continue
                if len(cells) != 3 or not cells[0].strip().isdigit():
                    raise ValueError(f"{path}: line {reader.line_num} is not movieId,title,genres; "
                                     f"{_redownload(release)}")
                rows.append((int(cells[0]), cells[1], cells[2]))
    return pd.DataFrame(rows, columns=["item", "title", "genres"])


def read_users(folder: str | os.PathLike, release: str) -> pd.DataFrame | None:
    """The release's user table, or None for the csv releases (which have none).

    ml-100k ``u.user``: user|age|gender|occupation|zip; ml-1m ``users.dat``:
    UserID::Gender::Age::Occupation::Zip-code (age group and occupation as codes)."""
    _check_release(release)
    folder = Path(folder)
    if release == "ml-100k":
        path, sep, names = folder / "u.user", "|", ["user", "age", "gender", "occupation", "zip"]
    elif release == "ml-1m":
        path, sep, names = folder / "users.dat", "::", ["user", "gender", "age", "occupation", "zip"]
    else:
        return None
    rows = []
    for n, line in enumerate(path.read_text(encoding="latin-1").splitlines(), 1):
        if not line.strip():
            continue
        cells = line.split(sep)
        if len(cells) != len(names) or not cells[0].isdigit():
            raise ValueError(f"{path}: line {n} is not {sep.join(names)}; {_redownload(release)}")
        rows.append(cells)
    df = pd.DataFrame(rows, columns=names)
    for col in ("user", "age") + (("occupation",) if release == "ml-1m" else ()):
        df[col] = df[col].astype(np.int64)
    return df


def item_titles(data_dir: str | os.PathLike, release: str = "ml-100k") -> dict[int, str]:
    """{raw item id: title} from ``<data_dir>/<release>/`` (u.item, movies.dat or movies.csv),
    for labelling plots: ``titles[task.categories["item"][code]]``."""
    items = read_items(Path(data_dir) / _check_release(release), release)
    return dict(zip(items["item"].tolist(), items["title"].tolist()))


# ----------------------------------------------------------------------------------------------
# Splits
# ----------------------------------------------------------------------------------------------

def _positions(values: np.ndarray) -> np.ndarray:
    return np.sort(np.asarray(values, dtype=np.int64))


def random_split(n: int, name: str = "random", split_seed: int = SPLIT_SEED) -> Split:
    """Seeded 80/10/10: test = n // 10 rows, valid = n // 10 rows, train = the rest."""
    perm = np.random.default_rng(split_seed).permutation(n)
    k = n // 10
    return Split(name, _positions(perm[2 * k:]), _positions(perm[k:2 * k]), _positions(perm[:k]))


def temporal_split(users: np.ndarray, timestamps: np.ndarray, name: str = "temporal") -> Split:
    """Per user, by timestamp then position: test = the latest k = max(1, n_u // 10) ratings,
    valid = the k before them (as many as leave one rating in train), train = the rest."""
    users = np.asarray(users)
    n = len(users)
    order = np.lexsort((np.arange(n), np.asarray(timestamps), users))
    u_sorted = users[order]
    starts = np.flatnonzero(np.r_[True, u_sorted[1:] != u_sorted[:-1]])
    counts = np.diff(np.r_[starts, n])
    group = np.repeat(np.arange(len(starts)), counts)
    rank_from_end = np.repeat(starts + counts, counts) - 1 - np.arange(n)  # 0 = the user's latest
    k_test = np.maximum(1, counts // 10)
    k_valid = np.clip(np.minimum(k_test, counts - k_test - 1), 0, None)
    kt, kv = k_test[group], k_valid[group]
    is_test = rank_from_end < kt
    is_valid = ~is_test & (rank_from_end < kt + kv)
    return Split(name, _positions(order[~is_test & ~is_valid]), _positions(order[is_valid]),
                 _positions(order[is_test]))


def match_rows(table: pd.DataFrame, rows: pd.DataFrame, source: str) -> np.ndarray:
    """Positions in ``table`` of the rows of ``rows`` (same columns), matched on all of
    (user, item, rating, timestamp); the k-th copy of a repeated row matches the k-th copy."""
    cols = list(COLUMNS)
    full = table[cols].copy()
    full["_occ"] = full.groupby(cols, sort=False).cumcount()
    full["_pos"] = np.arange(len(full), dtype=np.int64)
    part = rows[cols].copy()
    part["_occ"] = part.groupby(cols, sort=False).cumcount()
    merged = part.merge(full, on=cols + ["_occ"], how="left", sort=False)
    missing = merged["_pos"].isna().to_numpy()
    if missing.any():
        i = int(np.flatnonzero(missing)[0])
        raise ValueError(f"{source}: data row {i + 1} ({' '.join(str(rows[c].iloc[i]) for c in cols)}) "
                         f"is not in the ratings file ({int(missing.sum())} such rows); the fold does "
                         f"not belong to this u.data")
    return merged["_pos"].to_numpy().astype(np.int64)


def fold_split(table: pd.DataFrame, folder: Path, fold: str, release: str = "ml-100k",
               split_seed: int = SPLIT_SEED) -> Split:
    """An official fold: test = ``<fold>.test``'s rows, valid = a seeded n_base // 20 of
    ``<fold>.base``'s rows, train = the other base rows (positions into ``table``)."""
    base_path, test_path = Path(folder) / f"{fold}.base", Path(folder) / f"{fold}.test"
    base = match_rows(table, read_ratings_file(base_path, release), str(base_path))
    test = match_rows(table, read_ratings_file(test_path, release), str(test_path))
    if len(np.intersect1d(base, test)):
        raise ValueError(f"{base_path} and {test_path} share rows; {_redownload(release)}")
    base = np.sort(base)
    perm = np.random.default_rng(split_seed).permutation(len(base))
    n_valid = len(base) // VALID_SHARE_OF_BASE
    return Split(fold, _positions(base[perm[n_valid:]]), _positions(base[perm[:n_valid]]),
                 _positions(test))


# ----------------------------------------------------------------------------------------------
# Building the task
# ----------------------------------------------------------------------------------------------

def _code(values: np.ndarray) -> tuple[np.ndarray, list]:
    """Codes 0..k-1 of the sorted unique integer ids, and those ids in code order."""
    values = np.asarray(values, dtype=np.int64)
    lo, hi = int(values.min()), int(values.max())
    if hi - lo < 1 << 24:  # a lookup table is much faster than sorting 25M ids
        present = np.zeros(hi - lo + 1, dtype=bool)
        present[values - lo] = True
        lookup = np.cumsum(present, dtype=np.int64) - 1
        return lookup[values - lo], (np.flatnonzero(present) + lo).tolist()
    uniques, codes = np.unique(values, return_inverse=True)
    return codes.astype(np.int64), uniques.tolist()


_YEAR = re.compile(r"\((\d{4})\)\s*$")


def side_features(folder: Path, release: str) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """Numeric side features by raw id: users (age, female, occupation code) and items (year,
    one flag per genre); None for a table the release does not have or the folder lacks."""
    users = items = None
    user_file = {"ml-100k": "u.user", "ml-1m": "users.dat"}.get(release)
    if user_file and (folder / user_file).exists():
        raw = read_users(folder, release)
        occupation = pd.Categorical(raw["occupation"]).codes if release == "ml-100k" else raw["occupation"]
        users = pd.DataFrame({"user_age": raw["age"].to_numpy(np.float32),
                              "user_female": (raw["gender"] == "F").to_numpy(np.float32),
                              "user_occupation": np.asarray(occupation, np.float32)}, index=raw["user"])
    item_file = {"ml-100k": "u.item", "ml-1m": "movies.dat"}.get(release, "movies.csv")
    if (folder / item_file).exists():
        raw = read_items(folder, release)
        year = raw["title"].str.extract(_YEAR, expand=False).astype("float32")
        genres = raw["genres"].str.get_dummies(sep="|").drop(columns=["(no genres listed)"], errors="ignore")
        genres.columns = ["genre_" + re.sub(r"[^0-9a-z]+", "_", g.lower()).strip("_") for g in genres.columns]
        items = pd.concat([pd.DataFrame({"item_year": year}), genres.astype(np.float32)], axis=1)
        items.index = raw["item"].to_numpy()
    return users, items


def build_task(table: pd.DataFrame, split: Split, *, dataset: str, what: str,
               synthetic: bool = False, side: tuple[pd.DataFrame | None, pd.DataFrame | None] = (None, None)) -> Task:
    """The rating task of a ratings table (columns user, item, rating, timestamp) and a split.

    ``side`` = (users, items) numeric side tables by raw id (see ``side_features``): their
    columns join X as continuous columns (NaN where an id has no row), for the tree baselines."""
    codes = np.empty((2, len(table)), dtype=np.int64)
    codes[0], users = _code(table["user"].to_numpy())
    codes[1], items = _code(table["item"].to_numpy())
    X = pd.DataFrame(codes.T, columns=["user", "item"], copy=False)
    extra = []
    for frame, ids, col in ((side[0], users, "user"), (side[1], items, "item")):
        if frame is not None and len(frame.columns):
            by_code = frame[~frame.index.duplicated()].reindex(ids).reset_index(drop=True)
            extra.append(by_code.iloc[X[col].to_numpy()].reset_index(drop=True))
    if extra:
        X = pd.concat([X] + extra, axis=1)
    continuous = tuple(c for c in X.columns if c not in ("user", "item"))
    y = table["rating"].to_numpy(dtype=np.float64)
    sizes = split.sizes()
    description = (f"{what}: {len(y):,} ratings ({y.min():g}..{y.max():g} stars) by {len(users):,} "
                   f"users on {len(items):,} items; split {split.name}: train {sizes['train']:,}, "
                   f"valid {sizes['valid']:,}, test {sizes['test']:,}"
                   + (f"; side features: {', '.join(continuous)}" if continuous else ""))
    return Task(dataset=dataset, kind="rating", target="rating", metrics=("rmse", "mae"),
                schema=Schema(categorical={"user": len(users), "item": len(items)}, continuous=continuous),
                X=X, y=y,
                split=split, synthetic=synthetic, description=description,
                categories={"user": users, "item": items})


def make_split(table: pd.DataFrame, split: str, folder: Path | None = None,
               release: str = "ml-100k", split_seed: int = SPLIT_SEED) -> Split:
    if split == "random":
        return random_split(len(table), split_seed=split_seed)
    if split == "temporal":
        return temporal_split(table["user"].to_numpy(), table["timestamp"].to_numpy())
    if split in FOLDS and folder is not None:
        return fold_split(table, folder, split, release, split_seed)
    raise KeyError(f"movielens: split {split!r} is not available here")  # check_split guards this


# ----------------------------------------------------------------------------------------------
# Verified download and safe extraction
# ----------------------------------------------------------------------------------------------

def url_base() -> str:
    """``BENCH_MOVIELENS_URL`` when set, else the module attribute ``URL_BASE``."""
    return (os.environ.get("BENCH_MOVIELENS_URL") or URL_BASE).rstrip("/")


def downloads_enabled() -> bool:
    return os.environ.get("BENCH_MOVIELENS_DOWNLOAD", "1").strip().lower() not in ("0", "no", "false", "off")


_writable = writable  # tried with an O_EXCL probe file (bench.data.archive); a name tests can replace


def _manual_steps(release: str, dest: Path) -> str:
    checksum = CHECKSUMS.get(release)
    check = (f"check its {checksum[0]} is {checksum[1]}" if checksum else
             f"check it against {release}.zip.md5, published beside it")
    return (f"Download {URL_BASE}/{release}.zip (see {PAGE}), {check}, and unzip it into the data "
            f"folder so that {dest / release / RATINGS_FILE[release]} exists (data folder: --data-dir, "
            f"or the BENCH_DATA environment variable).")


def _check_member(info: zipfile.ZipInfo) -> None:
    name = info.filename
    parts = re.split(r"[\\/]", name)
    if (not name or name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) or ".." in parts
            or "\0" in name):
        raise UnsafeArchive(f"refused archive member {name!r}: absolute path or '..' outside the "
                            f"extraction folder")
    if (info.external_attr >> 16) & 0o170000 == 0o120000:
        raise UnsafeArchive(f"refused archive member {name!r}: a symbolic link")


def safe_extract(zip_path: str | os.PathLike, dest_root: str | os.PathLike, release: str) -> Path:
    """Extract ``zip_path`` (members ``<release>/...``) so that ``<dest_root>/<release>/`` holds
    the release; every member is checked first (no absolute paths, no ``..``, no links), then
    everything is unpacked into a private folder and moved into place. Returns the folder."""
    dest_root = Path(dest_root)
    try:
        zf = zipfile.ZipFile(zip_path)
    except zipfile.BadZipFile as e:
        raise ValueError(f"{zip_path}: not a zip archive ({e})") from e
    with zf:
        members = zf.infolist()
        for info in members:
            _check_member(info)
        if sum(i.file_size for i in members) > MAX_UNPACKED_BYTES:
            raise UnsafeArchive(f"{zip_path}: claims to unpack to more than {MAX_UNPACKED_BYTES >> 30} GiB")
        tmp = dest_root / f".{release}.extract-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        tmp.mkdir(parents=True)
        try:
            root = tmp.resolve()
            for info in members:
                target = (tmp / info.filename).resolve()
                if root not in target.parents and target != root:  # belt and braces
                    raise UnsafeArchive(f"refused archive member {info.filename!r}: outside the folder")
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
            src_folder = tmp / release if (tmp / release).is_dir() else tmp
            if not (src_folder / RATINGS_FILE[release]).exists():
                raise ValueError(f"{zip_path}: the archive has no {release}/{RATINGS_FILE[release]}")
            final = dest_root / release
            try:
                os.replace(src_folder, final)  # new (or empty) folder: one atomic move
            except OSError:
                for path in sorted(src_folder.rglob("*")):  # an existing folder: add what it lacks
                    if path.is_file() and not (final / path.relative_to(src_folder)).exists():
                        (final / path.relative_to(src_folder)).parent.mkdir(parents=True, exist_ok=True)
                        os.replace(path, final / path.relative_to(src_folder))
            return final
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def download_release(release: str, data_dir: str | os.PathLike, cache_dir: str | os.PathLike) -> Path:
    """Download ``<release>.zip``, verify its pinned checksum, extract it into the data folder
    (or ``<cache_dir>/downloads/`` when the data folder is not writable); returns the folder."""
    _check_release(release)
    data_dir, cache_dir = Path(data_dir), Path(cache_dir)
    url = f"{url_base()}/{release}.zip"
    pinned = CHECKSUMS.get(release)
    if pinned is None:
        raise FilesMissing(
            f"dataset movielens: {release} is not in {data_dir / release} and is not downloaded "
            f"automatically: GroupLens re-issues that archive, so no checksum is pinned here and an "
            f"unverified download is refused. {_manual_steps(release, data_dir)}")
    dest_root = data_dir if _writable(data_dir) else cache_dir / "downloads"
    if dest_root != data_dir:
        with contextlib.suppress(OSError):  # a cache folder: this user's only (checked just below)
            private_dir(dest_root)
    if not _writable(dest_root):
        raise FilesMissing(f"dataset movielens: neither {data_dir} nor {dest_root} is writable, so "
                           f"{release} cannot be downloaded. {_manual_steps(release, data_dir)}")
    algo, expected = pinned
    fd, name = tempfile.mkstemp(dir=dest_root, prefix=f".{release}.zip.", suffix=".part")  # O_EXCL
    tmp = Path(name)
    digest = hashlib.new(algo)
    print(f"movielens: downloading {url} into {dest_root} ...", file=sys.stderr, flush=True)
    try:
        try:
            with os.fdopen(fd, "wb") as f, urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as resp:
                for block in iter(lambda: resp.read(1 << 20), b""):
                    digest.update(block)
                    f.write(block)
        except (urllib.error.URLError, OSError, ValueError) as e:
            reason = e.reason if type(e) is urllib.error.URLError else e  # HTTPError: "HTTP Error 404: ..."
            raise FilesMissing(f"dataset movielens: {release} is not in {data_dir / release} and the "
                               f"download of {url} failed ({reason}); offline? "
                               f"{_manual_steps(release, data_dir)}") from e
        got = digest.hexdigest()
        if got != expected:
            raise ChecksumMismatch(f"{url}: {algo} {got} is not the expected {expected}; the download "
                                   f"was refused and deleted, never opened. Try again later, or: "
                                   f"{_manual_steps(release, data_dir)}")
        return safe_extract(tmp, dest_root, release)
    finally:
        tmp.unlink(missing_ok=True)


# ----------------------------------------------------------------------------------------------
# The seeded generator (movielens-sim)
# ----------------------------------------------------------------------------------------------

_T0, _T1 = 874_724_710, 893_286_638  # ml-100k's first and last timestamps (1997-09 .. 1998-04)


def generate_ratings(n_users: int = 300, n_items: int = 200, density: float = 0.06, rank: int = 5,
                     seed: int = 0) -> pd.DataFrame:
    """A ratings table like ``u.data`` (user, item, rating, timestamp; ids from 1), deterministic
    in its arguments.

    Sparsity: about ``density * n_users * n_items`` ratings; every user rates at least
    ``min(3, n_items)`` items; how many more is drawn by a lognormal activity per user, and which
    items by a lognormal popularity (a few items get most ratings, some none), without repeats.
    Rating = round(3.35 + user bias + item bias (popular items a little better) + a rank-``rank``
    dot product + noise), clipped to 1..5. Timestamps: each user rates over a stretch of time
    inside ml-100k's seven months.
    """
    U, I, rank = int(n_users), int(n_items), int(rank)
    if U < 1 or I < 1:
        raise ValueError(f"movielens-sim: n_users and n_items must be positive, got {U}, {I}")
    if not 0 < float(density) <= 1:
        raise ValueError(f"movielens-sim: density must be in (0, 1], got {density!r}")
    if rank < 0:
        raise ValueError(f"movielens-sim: rank must be >= 0, got {rank}")
    rng = np.random.default_rng(seed)
    min_k = min(3, I)
    n_target = max(int(round(float(density) * U * I)), U * min_k)
    activity = np.exp(rng.normal(0.0, 0.8, U))
    popularity = np.exp(rng.normal(0.0, 1.3, I))
    k = np.minimum(min_k + rng.multinomial(n_target - U * min_k, activity / activity.sum()), I)
    # Each user's items: top-k of log popularity + Gumbel noise = draws without replacement.
    keys = np.log(popularity)[None, :] + rng.gumbel(size=(U, I))
    order = np.argsort(-keys, axis=1, kind="stable")
    take = np.arange(I)[None, :] < k[:, None]
    users = np.repeat(np.arange(U), k)
    items = order[take]

    log_pop = np.log(popularity)
    pop_z = (log_pop - log_pop.mean()) / (log_pop.std() or 1.0)
    b_user = rng.normal(0.0, 0.5, U)
    b_item = rng.normal(0.0, 0.45, I) + 0.2 * pop_z
    scale = (0.36 / max(rank, 1)) ** 0.25  # the dot product's sd is about 0.6
    P = rng.normal(0.0, scale, (U, rank))
    Q = rng.normal(0.0, scale, (I, rank))
    n = len(users)
    raw = (3.35 + b_user[users] + b_item[items] + np.einsum("nr,nr->n", P[users], Q[items])
           + rng.normal(0.0, 0.7, n))
    rating = np.clip(np.rint(raw), 1, 5)

    span = _T1 - _T0
    start = _T0 + rng.uniform(0, 0.85, U) * span
    t = np.minimum(start[users] + rng.exponential(0.08 * span, n), _T1)
    perm = rng.permutation(n)  # file order unrelated to user or time, like u.data
    return pd.DataFrame({"user": users[perm].astype(np.int64) + 1, "item": items[perm].astype(np.int64) + 1,
                         "rating": rating[perm].astype(np.float64), "timestamp": t[perm].astype(np.int64)})


# ----------------------------------------------------------------------------------------------
# The plugins
# ----------------------------------------------------------------------------------------------

class MovieLens(Dataset):
    name = "movielens"
    kind = "rating"
    target = "rating"
    metrics = ("rmse", "mae")
    splits = SPLITS  # first = default for ml-100k; the other releases default to "random"
    seeded_splits = FOLDS + ("random",)  # the folds' valid draw, the random split; temporal is fixed
    folder = "ml-100k"  # follows the release: set per instance
    files = ("u.data",)
    synthetic = False
    embedded = False
    # side_features: user age/gender/occupation and movie year/genres as continuous columns
    # (when the release's side tables are present), for the tree baselines
    defaults = {"release": "ml-100k", "side_features": True}
    description = ("MovieLens (GroupLens): movie ratings, 1-5 stars (half stars in the csv releases). "
                   "Releases ml-100k (default; 100,000 ratings, 943 users, 1,682 movies, official "
                   "folds u1..u5, ua, ub), ml-1m, ml-latest-small, ml-latest, ml-25m. Splits: the "
                   "official folds (ml-100k), a seeded random 80/10/10, and a per-user temporal split "
                   "(each user's latest ratings as test). Metrics RMSE, MAE.")
    how_to_get = ""  # set per instance

    def __init__(self, **params: Any):
        super().__init__(**params)
        release = _check_release(str(self.params["release"]))
        self.release = release
        self.folder = release
        self.files = (RATINGS_FILE[release],)
        auto = (f"Downloaded automatically when online ({URL_BASE}/{release}.zip, "
                f"{CHECKSUMS[release][0]}-checked; BENCH_MOVIELENS_DOWNLOAD=0 turns that off). "
                if release in CHECKSUMS else
                "Not downloaded automatically (no pinned checksum for this re-issued archive). ")
        self.how_to_get = (f"MovieLens {release} from GroupLens ({PAGE}). {auto}Or download "
                           f"{URL_BASE}/{release}.zip yourself and unzip it into the data folder, "
                           f"giving <data dir>/{release}/{RATINGS_FILE[release]}.")

    def default_split(self) -> str:
        return "u1" if self.release in FOLD_RELEASES else "random"

    def check_split(self, split: str | None) -> str:
        split = super().check_split(split or self.default_split())
        if split in FOLDS and self.release not in FOLD_RELEASES:
            raise KeyError(f"dataset {self.name}: split {split!r} is one of ml-100k's official folds; "
                           f"release {self.release} has none; its splits: random, temporal")
        return split

    def needed_files(self, split: str | None = None) -> tuple[str, ...]:
        """The files a split needs (the default split's when ``split`` is None)."""
        split = split or self.default_split()
        folds = (split,) if split in FOLDS and self.release in FOLD_RELEASES else ()
        return (RATINGS_FILE[self.release],) + tuple(f"{f}.{p}" for f in folds for p in ("base", "test"))

    def missing_files(self, data_dir: Path, split: str | None = None) -> list[Path]:
        base = Path(data_dir) / self.release
        return [base / f for f in self.needed_files(split) if not (base / f).exists()]

    def require_files(self, data_dir: Path, split: str | None = None) -> Path:
        missing = self.missing_files(data_dir, split)
        if missing:
            raise FilesMissing(
                f"dataset {self.name}: files missing: {', '.join(str(m) for m in missing)}.\n"
                f"{self.how_to_get}\nPut them in {Path(data_dir) / self.release} "
                f"(data folder: --data-dir, or the BENCH_DATA environment variable).")
        return Path(data_dir) / self.release

    def locate(self, ctx: LoadContext, split: str | None = None) -> Path:
        """The folder holding the release: the data folder's, a previous download in the cache,
        or a fresh verified download (when the data folder has no ratings file at all)."""
        data_dir, cache_dir = Path(ctx.data_dir), Path(ctx.cache_dir)
        need = self.needed_files(split)
        downloaded = cache_dir / "downloads"
        for root in (data_dir, downloaded):
            if all((root / self.release / f).exists() for f in need):
                return root / self.release
        present_here = (data_dir / self.release / RATINGS_FILE[self.release]).exists()
        present_there = (downloaded / self.release / RATINGS_FILE[self.release]).exists()
        if present_here or present_there or not downloads_enabled():
            # a partial copy (say u.data without the folds): never download over it; say what is missing
            self.require_files(data_dir if present_here or not present_there else downloaded, split)
        folder = download_release(self.release, data_dir, cache_dir)
        missing = [f for f in need if not (folder / f).exists()]
        if missing:
            raise FilesMissing(f"dataset {self.name}: the downloaded archive lacks "
                               f"{', '.join(missing)} in {folder}. {self.how_to_get}")
        return folder

    def level_names(self, task: Task, column: str, data_dir: Path) -> list[str] | None:
        """Movie titles for the item codes (for plot labels); None for other columns."""
        if column != "item":
            return None
        titles = item_titles(data_dir, self.release)
        return [titles.get(raw, str(raw)) for raw in task.categories["item"]]

    def load(self, split: str | None, ctx: LoadContext) -> Task:
        split = self.check_split(split)
        folder = self.locate(ctx, split)
        table = load_ratings(folder, self.release, ctx.cache_dir)
        parts = make_split(table, split, folder, self.release, self.split_seed_for(split, ctx))
        side = side_features(folder, self.release) if self.params["side_features"] else (None, None)
        return build_task(table, parts, dataset=self.name, what=f"MovieLens {self.release} (GroupLens)",
                          side=side)


class MovieLensSim(Dataset):
    name = "movielens-sim"
    kind = "rating"
    target = "rating"
    metrics = ("rmse", "mae")
    splits = ("random", "temporal")
    seeded_splits = ("random",)
    folder = None
    files = ()
    synthetic = True
    embedded = True
    defaults = {"n_users": 300, "n_items": 200, "density": 0.06, "rank": 5, "seed": 0}
    description = ("Synthetic movie ratings (1-5 stars) from a seeded generator: global mean + user "
                   "and item biases + a low-rank user-item interaction + noise, rounded; lognormal "
                   "user activity and item popularity give MovieLens-like sparsity (default 300 "
                   "users x 200 items, ~6 % observed, like ml-100k). Same task and splits as "
                   "'movielens' (random, temporal).")
    how_to_get = "Generated in code; nothing to download."

    def ratings(self) -> pd.DataFrame:
        """The generated ratings table (user, item, rating, timestamp), like u.data."""
        p = self.params
        return generate_ratings(p["n_users"], p["n_items"], p["density"], p["rank"], p["seed"])

    def load(self, split: str | None, ctx: LoadContext | None = None) -> Task:
        split = self.check_split(split)
        table = self.ratings()
        p = self.params
        parts = make_split(table, split, split_seed=self.split_seed_for(split, ctx))
        return build_task(table, parts, dataset=self.name, synthetic=True,
                          what=(f"movielens-sim (synthetic; {p['n_users']} users x {p['n_items']} "
                                f"items, density {p['density']}, rank {p['rank']}, seed {p['seed']})"))
