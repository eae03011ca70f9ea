"""The dataset plugin contract: a card (name, kind, target, metrics, splits, files) and ``load``."""
from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, ClassVar

from .task import Task


class FilesMissing(FileNotFoundError):
    """The dataset's files are not in the data folder; the message says how to get them."""


class LoadContext:
    def __init__(self, data_dir: Path, cache_dir: Path):
        self.data_dir = Path(data_dir)
        self.cache_dir = Path(cache_dir)


class Dataset:
    """Base class of dataset plugins.

    ``folder`` is the release's own name for its folder inside the data folder and ``files``
    the files needed there; datasets generated in code set ``synthetic = True`` and no files.
    """

    name: ClassVar[str] = ""
    kind: ClassVar[str] = ""
    target: ClassVar[str] = ""
    metrics: ClassVar[tuple[str, ...]] = ()
    splits: ClassVar[tuple[str, ...]] = ("default",)  # first = default
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
