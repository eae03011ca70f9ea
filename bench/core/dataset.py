"""The dataset plugin contract: a card (name, kind, target, metrics, splits, files) and ``load``."""
from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from bench.core.task import Task


class FilesMissing(FileNotFoundError):
    """The dataset's files are not in the data folder; the message says how to get them."""


class SplitSeedError(ValueError):
    """A split seed was asked of a split that has nothing drawn at random to redraw."""


class LoadContext:
    """Where a load finds its files and cache, and which draw of a seeded split it makes.

    ``split_seed`` (a run's split seed, 0 by default) seeds the random part of a seeded split;
    0 is the draw every dataset made before split seeds existed, so old records still match.
    """

    def __init__(self, data_dir: Path, cache_dir: Path, split_seed: int = 0):
        self.data_dir = Path(data_dir)
        self.cache_dir = Path(cache_dir)
        self.split_seed = split_seed


class Dataset:
    """Base class of dataset plugins.

    ``folder`` is the release's own name for its folder inside the data folder and ``files``
    the files needed there; datasets generated in code set ``synthetic = True`` and no files.

    A split is a pure function of the data and a split seed. ``seeded_splits`` names the splits
    that draw rows at random (a random 60/20/20, a seeded train subsample or valid set): they
    seed that draw with :meth:`split_seed_for` (0 = the historical draw). Every other split is
    fixed (an official or time-ordered split) and refuses a split seed other than 0: silently
    ignoring it would pass identical splits off as resampled ones.
    """

    name: ClassVar[str] = ""
    kind: ClassVar[str] = ""
    target: ClassVar[str] = ""
    metrics: ClassVar[tuple[str, ...]] = ()
    splits: ClassVar[tuple[str, ...]] = ("default",)  # first = default
    seeded_splits: ClassVar[tuple[str, ...]] = ()  # splits with a random draw: they take a split seed
    folder: ClassVar[str | None] = None
    files: ClassVar[tuple[str, ...]] = ()
    synthetic: ClassVar[bool] = False
    embedded: ClassVar[bool] = False  # needs no files at all
    defaults: ClassVar[dict[str, Any]] = {}
    # optional, as for methods: {param: type or tuple of types} where the default's type is too narrow
    param_types: ClassVar[dict[str, Any]] = {}
    description: ClassVar[str] = ""
    how_to_get: ClassVar[str] = ""

    def __init__(self, **params: Any):
        unknown = [p for p in params if p not in self.defaults]
        if unknown:
            raise TypeError(f"dataset {self.name}: unknown parameter {', '.join(map(repr, unknown))}; "
                            f"known: {', '.join(self.defaults) or 'none'}")
        self.params: dict[str, Any] = {**self.defaults, **params}

    def check_split(self, split: str | None) -> str:
        split = split or self.splits[0]
        if split not in self.splits:
            close = difflib.get_close_matches(split, self.splits, n=1)
            raise KeyError(f"dataset {self.name} has no split {split!r}"
                           + (f" (did you mean {close[0]!r}?)" if close else "")
                           + f"; splits: {', '.join(self.splits)}")
        return split

    def check_split_seed(self, split: str, split_seed: int) -> int:
        """The split seed, if ``split`` has a random draw to reseed; else SplitSeedError (0 always passes)."""
        if isinstance(split_seed, bool) or not isinstance(split_seed, (int, np.integer)) or split_seed < 0:
            raise SplitSeedError(f"dataset {self.name}: a split seed is a non-negative integer, got {split_seed!r}")
        if split_seed and split not in self.seeded_splits:
            seeded = ", ".join(self.seeded_splits) or "none"
            raise SplitSeedError(
                f"dataset {self.name}: split {split!r} is fixed (nothing in it is drawn at random), so it "
                f"takes no split seed (asked for split seed {split_seed}); splits that do: {seeded}. "
                "Leave split_seeds out for this dataset, or pick one of those splits.")
        return int(split_seed)

    def split_seed_for(self, split: str, ctx: "LoadContext | None") -> int:
        """The seed of this load's split draw: the context's split seed (0 without a context), checked."""
        return self.check_split_seed(split, getattr(ctx, "split_seed", 0) if ctx is not None else 0)

    def missing_files(self, data_dir: Path) -> list[Path]:
        if self.embedded or not self.folder:
            return []
        base = Path(data_dir) / self.folder
        return [base / f for f in self.files if not (base / f).exists()]

    def require_files(self, data_dir: Path) -> Path:
        missing = self.missing_files(data_dir)
        if missing:
            raise FilesMissing(
                f"dataset {self.name}: files missing: {', '.join(str(m) for m in missing)}.\n"
                f"{self.how_to_get.strip()}\n"
                f"Put them in {Path(data_dir) / (self.folder or '')} "
                f"(data folder: --data-dir, or the BENCH_DATA environment variable)."
            )
        return Path(data_dir) / (self.folder or "")

    def load(self, split: str, ctx: LoadContext) -> Task:
        raise NotImplementedError
