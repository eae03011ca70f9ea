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



# -- the transfer split: source classes to pretrain on, a new task of target classes ----------

TARGET_CLASSES = ("cat", "dog", "horse")  # the transfer split's default new task


def target_indices(value) -> tuple[int, ...]:
    """The target classes as sorted class indices, from names or indices (a list, or one string
    separated by commas, '+' or spaces); at least one class and at least one left as a source."""
    items = value.replace("+", ",").replace(" ", ",").split(",") if isinstance(value, str) else list(value)
    out = []
    for item in (i for i in items if str(i).strip()):
        text = str(item).strip()
        if text.isdigit() and int(text) < len(CLASSES):
            out.append(int(text))
        elif text in CLASSES:
            out.append(CLASSES.index(text))
        else:
            raise ValueError(f"cifar10: target_classes names {text!r}, which is not a CIFAR-10 class; "
                             f"classes: {', '.join(CLASSES)} (or their indices 0-9)")
    if not out or len(set(out)) == len(CLASSES) or len(set(out)) != len(out):
        raise ValueError(f"cifar10: target_classes {value!r} must name distinct classes, at least one and "
                         f"at most {len(CLASSES) - 1} (the others are the source classes)")
    return tuple(sorted(out))


def make_transfer_split(train_y: np.ndarray, test_y: np.ndarray, targets: tuple[int, ...],
                        valid_per_class: int = 500, source_per_class: int | None = None,
                        test_per_class: int | None = None, split_seed: int = SPLIT_SEED) -> Split:
    """train = the source classes' train images (``source_per_class`` of each, seeded; all when
    None) + the target classes' train images not drawn for valid; valid = ``valid_per_class`` of
    each target class's train images (seeded); test = the target classes' official test images
    (``test_per_class`` of each when given). Positions into train rows followed by test rows."""
    rng = np.random.default_rng(split_seed)
    all_train = np.arange(len(train_y))
    is_target = np.isin(train_y, targets)
    valid = _per_class(all_train[is_target], train_y, valid_per_class, rng)
    target_rest = np.setdiff1d(all_train[is_target], valid)
    source = _per_class(all_train[~is_target], train_y, source_per_class, rng)
    all_test = np.arange(len(test_y))
    test = _per_class(all_test[np.isin(test_y, targets)], test_y, test_per_class, rng) + len(train_y)
    return Split("transfer", np.sort(np.concatenate([source, target_rest])), valid, test)


def build_transfer_task(arrays: Arrays, target_classes=TARGET_CLASSES, valid_per_class: int = 500,
                        source_per_class: int | None = None, test_per_class: int | None = None,
                        dataset: str = "cifar10", split_seed: int = SPLIT_SEED) -> Task:
    train_x, train_y, test_x, test_y = arrays
    targets = target_indices(target_classes)
    split = make_transfer_split(train_y, test_y, targets, valid_per_class, source_per_class, test_per_class,
                                split_seed)
    n_source = int(np.sum(~np.isin(train_y[split.train], targets)))
    s = split.sizes()
    names = ", ".join(CLASSES[i] for i in targets)
    sources = ", ".join(c for i, c in enumerate(CLASSES) if i not in targets)
    return Task(dataset=dataset, kind="image-classification", target="label", metrics=("accuracy",),
                schema=Schema(image_shape=tuple(train_x.shape[1:]), n_classes=len(CLASSES)),
                X=np.concatenate([train_x, test_x]), y=np.concatenate([train_y, test_y]), split=split,
                description=(f"CIFAR-10 transfer: source classes {sources} "
                             f"({n_source:,} train images), target classes {names} ({s['train'] - n_source:,} "
                             f"train, {s['valid']:,} valid, {s['test']:,} test images)"),
                categories={"label": list(CLASSES)})
