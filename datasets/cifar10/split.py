"""CIFAR-10's split (the official test images; a seeded, class-balanced valid set and subsets
from the train images) and its task."""
from __future__ import annotations

import numpy as np

from bench import Schema, Split, Task

from .read import CLASSES, Arrays

SPLIT_SEED = 0  # the default split seed (valid set and subsets); never a run's (model) seed


def _per_class(rows: np.ndarray, labels: np.ndarray, k: int | None, rng: np.random.Generator) -> np.ndarray:
    """A seeded ``k`` rows of each class (all rows when ``k`` is None), as sorted positions."""
    if k is None:
        return np.sort(rows)
    keep = []
    for c in np.unique(labels[rows]):
        of_class = rows[labels[rows] == c]
        if k > len(of_class):
            raise ValueError(f"cifar10: {k} images per class asked for, class {c} has {len(of_class)}")
        keep.append(rng.permutation(of_class)[:k])
    return np.sort(np.concatenate(keep))


def make_split(train_y: np.ndarray, test_y: np.ndarray, valid_size: int = 5000,
               train_per_class: int | None = None, test_per_class: int | None = None,
               split_seed: int = SPLIT_SEED) -> Split:
    """Positions into train rows followed by test rows (see the module docstring)."""
    n_classes = int(max(train_y.max(), test_y.max())) + 1
    rng = np.random.default_rng(split_seed)
    all_train = np.arange(len(train_y))
    valid = _per_class(all_train, train_y, valid_size // n_classes, rng) if valid_size else all_train[:0]
    rest = np.setdiff1d(all_train, valid)
    train = _per_class(rest, train_y, train_per_class, rng)
    test = _per_class(np.arange(len(test_y)), test_y, test_per_class, rng) + len(train_y)
    return Split("official", train, valid, test)


def build_task(arrays: Arrays, valid_size: int = 5000, train_per_class: int | None = None,
               test_per_class: int | None = None, dataset: str = "cifar10",
               split_seed: int = SPLIT_SEED) -> Task:
    train_x, train_y, test_x, test_y = arrays
    split = make_split(train_y, test_y, valid_size, train_per_class, test_per_class, split_seed)
    X = np.concatenate([train_x, test_x])
    y = np.concatenate([train_y, test_y])
    s = split.sizes()
    return Task(dataset=dataset, kind="image-classification", target="label", metrics=("accuracy",),
                schema=Schema(image_shape=tuple(train_x.shape[1:]), n_classes=len(CLASSES)), X=X, y=y,
                split=split, description=(f"CIFAR-10: {len(train_y):,} train / {len(test_y):,} test "
                                          f"32x32 colour images, 10 classes; split official: train "
                                          f"{s['train']:,}, valid {s['valid']:,}, test {s['test']:,}"),
                categories={"label": list(CLASSES)})

