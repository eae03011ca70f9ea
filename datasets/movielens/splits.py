"""MovieLens' splits: GroupLens' official folds (with a seeded valid part), a seeded random
80/10/10 and a per-user temporal split; positions into the ratings table."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bench import Split

from .read import read_ratings_file
from .releases import COLUMNS, FOLDS, redownload

SPLIT_SEED = 0  # the default split seed of the seeded splits; never a run's (model) seed
VALID_SHARE_OF_BASE = 20  # official folds: valid = n_base // 20 rows (5 %) of the .base rows


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
        raise ValueError(f"{base_path} and {test_path} share rows; {redownload(release)}")
    base = np.sort(base)
    perm = np.random.default_rng(split_seed).permutation(len(base))
    n_valid = len(base) // VALID_SHARE_OF_BASE
    return Split(fold, _positions(base[perm[n_valid:]]), _positions(base[perm[:n_valid]]),
                 _positions(test))


def make_split(table: pd.DataFrame, split: str, folder: Path | None = None,
               release: str = "ml-100k", split_seed: int = SPLIT_SEED) -> Split:
    if split == "random":
        return random_split(len(table), split_seed=split_seed)
    if split == "temporal":
        return temporal_split(table["user"].to_numpy(), table["timestamp"].to_numpy())
    if split in FOLDS and folder is not None:
        return fold_split(table, folder, split, release, split_seed)
    raise KeyError(f"movielens: split {split!r} is not available here")  # check_split guards this

