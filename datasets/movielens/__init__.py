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

import importlib
from pathlib import Path
from typing import Any

from bench import Dataset, FilesMissing, LoadContext, Task
from bench.data.download import ChecksumMismatch
from bench.data.extract import UnsafeArchive

from .download import download_release, downloads_enabled, safe_extract, url_base
from .releases import (CHECKSUMS, COLUMNS, FOLD_RELEASES, FOLDS, PAGE, RATINGS_FILE, RELEASES, SPLITS,
                       URL_BASE, check_release)

# The readers, features, splits and simulator need pandas: they are imported when a split loads,
# so listing plugins and rendering tables never pay for it; their names stay importable from here.
_LAZY = {"read": ("item_titles", "load_ratings", "read_items", "read_ratings_file", "read_users"),
         "features": ("build_task", "side_features"), "simulator": ("generate_ratings",),
         "splits": ("SPLIT_SEED", "fold_split", "make_split", "match_rows", "random_split", "temporal_split")}


def __getattr__(name: str) -> Any:
    for module, names in _LAZY.items():
        if name in names:
            return getattr(importlib.import_module(f"{__name__}.{module}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
        release = check_release(str(self.params["release"]))
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
        from .read import item_titles

        titles = item_titles(data_dir, self.release)
        return [titles.get(raw, str(raw)) for raw in task.categories["item"]]

    def load(self, split: str | None, ctx: LoadContext) -> Task:
        from .features import build_task, side_features
        from .read import load_ratings
        from .splits import make_split

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

    def ratings(self) -> "pd.DataFrame":  # noqa: F821 (pandas: imported by the simulator)
        """The generated ratings table (user, item, rating, timestamp), like u.data."""
        from .simulator import generate_ratings

        p = self.params
        return generate_ratings(p["n_users"], p["n_items"], p["density"], p["rank"], p["seed"])

    def load(self, split: str | None, ctx: LoadContext | None = None) -> Task:
        from .features import build_task
        from .splits import make_split

        split = self.check_split(split)
        table = self.ratings()
        p = self.params
        parts = make_split(table, split, split_seed=self.split_seed_for(split, ctx))
        return build_task(table, parts, dataset=self.name, synthetic=True,
                          what=(f"movielens-sim (synthetic; {p['n_users']} users x {p['n_items']} "
                                f"items, density {p['density']}, rank {p['rank']}, seed {p['seed']})"))


__all__ = ["MovieLens", "MovieLensSim", "read_ratings_file", "load_ratings", "read_items", "read_users",
           "item_titles", "random_split", "temporal_split", "fold_split", "match_rows", "make_split",
           "side_features", "build_task", "download_release", "safe_extract", "generate_ratings",
           "ChecksumMismatch", "UnsafeArchive", "CHECKSUMS", "COLUMNS", "FOLDS", "RELEASES",
           "RATINGS_FILE", "SPLIT_SEED", "URL_BASE", "url_base", "downloads_enabled"]
