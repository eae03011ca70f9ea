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

``shuffled`` -- the paper's Table 3 (its code's ``shuffle_data = True``): the same rows (Sales > 0)
    and the same seven features as ``paper``, but one seeded permutation of *all* the rows
    decides: test = its last ``n - floor(0.9 * n)`` rows (10 %, drawn at random, so test days
    are mixed with train days), valid = its first ``valid_rows`` rows and train = the next
    ``train_rows`` (default 200,000; the paper's code draws them with replacement, here without).
    A split seed redraws all three parts. Needs ``store_states.csv``. Metrics: MAPE, RMSPE.

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

import importlib
from typing import Any

from bench import Dataset, FilesMissing, LoadContext, Task

from .kaggle import KAGGLE_URL

# The reader, features and simulator need pandas: they are imported when a split loads, so listing
# plugins and rendering tables never pay for it; their names stay importable from here.
_LAZY = {"features": ("KAGGLE_TEST_DAYS", "PAPER_FEATURES", "SPLIT_SEED", "build_task"),
         "read": ("CACHE_VERSION", "MONTH_ABBR", "STATE_CODES", "STATE_COLUMNS", "STATE_HOLIDAYS",
                  "STORE_COLUMNS", "TRAIN_COLUMNS", "join_raw", "load_table", "read_kaggle_csvs", "source_key"),
         "simulator": ("generate_raw", "write_kaggle_csvs")}


def __getattr__(name: str) -> Any:
    for module, names in _LAZY.items():
        if name in names:
            return getattr(importlib.import_module(f"{__name__}.{module}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ----------------------------------------------------------------------------------------------
# The dataset plugins
# ----------------------------------------------------------------------------------------------

class Rossmann(Dataset):
    name = "rossmann"
    kind = "regression"
    target = "Sales"
    metrics = ("mape", "rmspe")
    splits = ("paper", "kaggle", "shuffled")
    seeded_splits = ("paper", "shuffled")  # their draws; kaggle is a fixed time split
    folder = "rossmann"
    files = ("train.csv", "store.csv")
    synthetic = False
    embedded = False
    defaults = {"train_rows": 200_000, "valid_rows": 20_000}
    description = ("Rossmann Store Sales (Kaggle, 2015): daily sales of 1,115 German drugstores, "
                   "2013-01-01 .. 2015-07-31. Split 'paper' follows Guo & Berkhahn (2016): test = the "
                   "most recent 10 % of the rows with sales, train = 200,000 rows drawn from the rest; "
                   "features store, day of week, promo, year, month, day, state. Split 'shuffled' (the "
                   "paper's Table 3): the same rows and features, test = a random 10 %. Split 'kaggle': "
                   "the last 48 days as test, many more features.")
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
        if split in ("paper", "shuffled") and not (folder / "store_states.csv").exists():
            raise FilesMissing(
                f"dataset {self.name}: the {split} split needs {folder / 'store_states.csv'} (Store,State) "
                f"for its state feature; the split 'kaggle' works without it.\n{self.how_to_get}")
        from .features import build_task
        from .read import load_table

        table = load_table(folder, ctx.cache_dir)
        return build_task(table, split, dataset=self.name, train_rows=self.params["train_rows"],
                          valid_rows=self.params["valid_rows"], synthetic=False,
                          states_hint=self.how_to_get, split_seed=self.split_seed_for(split, ctx))


class RossmannSim(Dataset):
    name = "rossmann-sim"
    kind = "regression"
    target = "Sales"
    metrics = ("mape", "rmspe")
    splits = ("paper", "kaggle", "shuffled")
    seeded_splits = ("paper", "shuffled")  # their draws; kaggle is a fixed time split
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

    def raw_frames(self) -> tuple:
        """The raw train / store / store_states frames (pandas) in Kaggle's schema."""
        from .simulator import generate_raw

        return generate_raw(self.params["n_stores"], self.params["n_days"], self.params["seed"])

    def load(self, split: str, ctx: LoadContext | None = None) -> Task:
        from .features import build_task
        from .read import join_raw

        split = self.check_split(split)
        train, store, states = self.raw_frames()
        table = join_raw(train, store, states, sources=("rossmann-sim train", "rossmann-sim store",
                                                        "rossmann-sim store_states"))
        return build_task(table, split, dataset=self.name, train_rows=self.params["train_rows"],
                          valid_rows=self.params["valid_rows"], synthetic=True,
                          split_seed=self.split_seed_for(split, ctx))


__all__ = ["Rossmann", "RossmannSim", "read_kaggle_csvs", "join_raw", "load_table", "source_key",
           "build_task", "generate_raw", "write_kaggle_csvs", "TRAIN_COLUMNS", "STORE_COLUMNS",
           "STATE_COLUMNS", "STATE_CODES", "STATE_HOLIDAYS", "MONTH_ABBR", "PAPER_FEATURES",
           "SPLIT_SEED", "CACHE_VERSION", "KAGGLE_TEST_DAYS", "KAGGLE_URL"]
