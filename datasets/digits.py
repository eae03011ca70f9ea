"""Digits: scikit-learn's 1,797 real 8x8 grey images of handwritten digits (UCI optical digits).

Embedded (no download): the image-classification kind on a fresh machine and in CI. Pixel
values 0..16 are scaled to 0..255 uint8, so X has the same form as CIFAR-10's: (N, 8, 8, 1).
Split ``random``: a seeded 60 / 20 / 20, the same share of every class in each part (split
seed 0 by default; a suite's ``split_seeds`` redraws it).
"""
from __future__ import annotations

import numpy as np

from bench import Dataset, LoadContext, Schema, Split, Task


class Digits(Dataset):
    name = "digits"
    kind = "image-classification"
    target = "digit"
    metrics = ("accuracy",)
    splits = ("random",)
    seeded_splits = ("random",)
    embedded = True
    description = "1,797 real 8x8 grey images of handwritten digits 0-9 (scikit-learn's copy of UCI's)"

    def load(self, split: str | None, ctx: LoadContext | None = None) -> Task:
        split = self.check_split(split)
        from sklearn.datasets import load_digits

        raw = load_digits()
        X = np.rint(raw.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
        y = raw.target.astype(np.int64)
        rng = np.random.default_rng(self.split_seed_for(split, ctx))
        parts: list[list[np.ndarray]] = [[], [], []]
        for c in np.unique(y):
            rows = rng.permutation(np.flatnonzero(y == c))
            n_test = n_valid = len(rows) // 5
            parts[0].append(rows[n_test + n_valid:])
            parts[1].append(rows[n_test:n_test + n_valid])
            parts[2].append(rows[:n_test])
        train, valid, test = (np.sort(np.concatenate(p)) for p in parts)
        return Task(dataset=self.name, kind=self.kind, target=self.target, metrics=self.metrics,
                    schema=Schema(image_shape=(8, 8, 1), n_classes=10), X=X, y=y,
                    split=Split(split, train, valid, test), description=self.description)
