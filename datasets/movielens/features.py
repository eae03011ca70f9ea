"""The rating task: user and item codes, optional side features of users and movies."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from bench import Schema, Split, Task

from .read import read_items, read_users

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


