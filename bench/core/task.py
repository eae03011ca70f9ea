"""What a dataset hands to a method: the task kind, its schema, the data and one shared split."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

KINDS = ("regression", "classification", "image-classification", "rating", "text-classification")
# the kinds whose target is a class label (scored by accuracy; predictions must be train labels)
LABEL_KINDS = ("classification", "image-classification", "text-classification")


@dataclass(frozen=True)
class Schema:
    """Column roles. Categorical columns hold integer codes 0..cardinality-1."""

    categorical: dict[str, int] = field(default_factory=dict)  # column -> cardinality
    continuous: tuple[str, ...] = ()
    image_shape: tuple[int, ...] | None = None  # (H, W, C) for image tasks
    n_classes: int | None = None

    @property
    def columns(self) -> list[str]:
        return list(self.categorical) + list(self.continuous)


@dataclass(frozen=True)
class Split:
    """Row positions of train / valid / test. Pure function of the data and the split seed
    (0 unless a suite resamples splits; see ``Dataset.seeded_splits``)."""

    name: str
    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray

    @property
    def fingerprint(self) -> str:
        """A short hash of the row indices: runs on different splits never share a table column."""
        h = hashlib.sha256()
        for part in (self.train, self.valid, self.test):
            a = np.ascontiguousarray(np.asarray(part, dtype=np.int64))
            h.update(len(a).to_bytes(8, "little"))
            h.update(a.tobytes())
        return h.hexdigest()[:16]

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "valid": len(self.valid), "test": len(self.test)}


@dataclass
class Part:
    """One part of a task (train, valid or test) as a method sees it.

    ``X`` is a DataFrame of feature columns for tabular and rating tasks (categorical columns
    as integer codes), a uint8 array (N, H, W, C) for images, or a 1-D object array of texts
    (``str``, one document each, as the dataset reads it) for text; ``y`` is a 1-D array.
    """

    X: Any
    y: np.ndarray
    schema: Schema
    kind: str
    target_transform: str | None = None  # hint: "log" when the target is best modelled in logs

    def __len__(self) -> int:
        return len(self.y)


@dataclass
class Task:
    """A loaded dataset with one of its named splits applied."""

    dataset: str
    kind: str
    target: str
    metrics: Sequence[str]
    schema: Schema
    X: Any  # DataFrame (all rows) or array
    y: np.ndarray
    split: Split
    synthetic: bool = False
    target_transform: str | None = None
    description: str = ""
    # the value behind each categorical code, for labelling plots: {column: [value of code 0, ...]}
    categories: dict[str, list] | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown task kind {self.kind!r}; expected one of {KINDS}")

    def part(self, name: str) -> Part:
        rows = getattr(self.split, name)
        if hasattr(self.X, "iloc"):  # a DataFrame (pandas is not imported just to ask)
            X = self.X.iloc[rows].reset_index(drop=True)
        else:
            X = self.X[rows]
        return Part(X=X, y=np.asarray(self.y)[rows], schema=self.schema, kind=self.kind,
                    target_transform=self.target_transform)
