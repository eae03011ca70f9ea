"""MovieLens' published files: the ratings files of every release (and the official folds'), the
movie and user tables, and the parquet cache of the parsed ratings."""
from __future__ import annotations

import csv
import hashlib
import io
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.data import cache
from bench.data.download import file_checksum

from .releases import (COLUMNS, CSV_HEADER, RATINGS_FILE, check_release, redownload)

CACHE_VERSION = 1  # bump when read_ratings' output changes

GENRES_100K = ("unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
               "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
               "Romance", "Sci-Fi", "Thriller", "War", "Western")


# ----------------------------------------------------------------------------------------------
# Reading the published formats
# ----------------------------------------------------------------------------------------------

def _parse_error(path: Path, release: str, e: BaseException) -> ValueError:
    msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return ValueError(f"{path}: cannot parse it as a MovieLens {release} ratings file ({msg}); "
                      f"the file looks truncated or corrupt; {redownload(release)}")


def _read_table(path: Path, release: str, source: Any, **kwargs: Any) -> pd.DataFrame:
    try:
        return pd.read_csv(source, engine="c", **kwargs)
    except pd.errors.EmptyDataError as e:
        raise ValueError(f"{path}: the file is empty; {redownload(release)}") from e
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OverflowError, TypeError) as e:
        raise _parse_error(path, release, e) from e


_NUM_DTYPES = {"user": np.int64, "item": np.int64, "rating": np.float64, "timestamp": np.int64}


def read_ratings_file(path: str | os.PathLike, release: str = "ml-100k") -> pd.DataFrame:
    """One ratings file (``u.data`` or a fold file, ``ratings.dat``, ``ratings.csv``) as published,
    as a frame with columns user, item (int64), rating (float64), timestamp (int64), file order.
    Errors name the file."""
    path = Path(path)
    check_release(release)
    if path.suffix == ".dat" or (path.suffix not in (".csv",) and release == "ml-1m"):
        data = path.read_bytes()
        first = data.split(b"\n", 1)[0]
        if data.strip() and b"::" not in first:
            raise ValueError(f"{path}: expected '::'-separated fields (UserID::MovieID::Rating::"
                             f"Timestamp), got {first[:60]!r}; {redownload(release)}")
        df = _read_table(path, release, io.BytesIO(data.replace(b"::", b"\t")), sep="\t",
                         header=None, names=list(COLUMNS), dtype=_NUM_DTYPES)
    elif path.suffix == ".csv":
        df = _read_table(path, release, path, sep=",", header=0,
                         dtype={"userId": np.int64, "movieId": np.int64, "rating": np.float64,
                                "timestamp": np.int64})
        if tuple(df.columns) != CSV_HEADER:
            raise ValueError(f"{path}: expected the header {','.join(CSV_HEADER)}, found "
                             f"{','.join(map(str, df.columns))}; {redownload(release)}")
        df.columns = list(COLUMNS)
    else:  # u.data and the fold files: tab-separated, no header
        df = _read_table(path, release, path, sep="\t", header=None, names=list(COLUMNS),
                         dtype=_NUM_DTYPES)
    if len(df) == 0:
        raise ValueError(f"{path}: the file is empty (no ratings); {redownload(release)}")
    r = df["rating"].to_numpy()
    bad = ~np.isfinite(r) | (r < 0.5) | (r > 5)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{path}: data row {i + 1}: rating {r[i]!r} is not in 0.5 .. 5; "
                         f"{redownload(release)}")
    return df.reset_index(drop=True)


def load_ratings(folder: str | os.PathLike, release: str, cache_dir: str | os.PathLike | None) -> pd.DataFrame:
    """The release's ratings table (see :func:`read_ratings_file`), parsed once and cached as
    parquet in ``<cache_dir>/movielens/``, keyed by the ratings file's sha256."""
    path = Path(folder) / RATINGS_FILE[check_release(release)]
    cached = None
    if cache_dir is not None:
        key = hashlib.sha256(f"movielens-v{CACHE_VERSION}-{release}-{file_checksum(path)}".encode())
        cached = Path(cache_dir) / "movielens" / f"{release}-{key.hexdigest()[:24]}.parquet"
    return cache.cached_frame(cached, lambda: read_ratings_file(path, release))


def read_items(folder: str | os.PathLike, release: str) -> pd.DataFrame:
    """The release's movie table: item (raw id), title, genres ('|'-joined names).

    ``u.item`` (``|``-separated, latin-1; 19 genre flags), ``movies.dat`` (``::``, latin-1) or
    ``movies.csv`` (header, UTF-8, quoted titles)."""
    check_release(release)
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
                                 f"IMDb URL|19 genre flags'; {redownload(release)}")
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
                raise ValueError(f"{path}: line {n} is not 'MovieID::Title::Genres'; {redownload(release)}")
            rows.append((int(cells[0]), "::".join(cells[1:-1]), cells[-1]))
    else:
        path = folder / "movies.csv"
        with open(path, encoding="utf-8", newline="") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if header is None or [h.strip() for h in header[:3]] != ["movieId", "title", "genres"]:
                raise ValueError(f"{path}: expected the header movieId,title,genres; {redownload(release)}")
            for cells in reader:
                if not cells:
                    continue
                if len(cells) != 3 or not cells[0].strip().isdigit():
                    raise ValueError(f"{path}: line {reader.line_num} is not movieId,title,genres; "
                                     f"{redownload(release)}")
                rows.append((int(cells[0]), cells[1], cells[2]))
    return pd.DataFrame(rows, columns=["item", "title", "genres"])


def read_users(folder: str | os.PathLike, release: str) -> pd.DataFrame | None:
    """The release's user table, or None for the csv releases (which have none).

    ml-100k ``u.user``: user|age|gender|occupation|zip; ml-1m ``users.dat``:
    UserID::Gender::Age::Occupation::Zip-code (age group and occupation as codes)."""
    check_release(release)
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
            raise ValueError(f"{path}: line {n} is not {sep.join(names)}; {redownload(release)}")
        rows.append(cells)
    df = pd.DataFrame(rows, columns=names)
    for col in ("user", "age") + (("occupation",) if release == "ml-1m" else ()):
        df[col] = df[col].astype(np.int64)
    return df


def item_titles(data_dir: str | os.PathLike, release: str = "ml-100k") -> dict[int, str]:
    """{raw item id: title} from ``<data_dir>/<release>/`` (u.item, movies.dat or movies.csv),
    for labelling plots: ``titles[task.categories["item"][code]]``."""
    items = read_items(Path(data_dir) / check_release(release), release)
    return dict(zip(items["item"].tolist(), items["title"].tolist()))

