"""Breast cancer Wisconsin (diagnostic): a small real classification table shipped by scikit-learn.

Embedded (no download), so the smoke suite covers the classification kind on a fresh machine.
"""
from __future__ import annotations

import numpy as np

from bench import Dataset, LoadContext, Schema, Split, Task


class BreastCancer(Dataset):
    name = "breast-cancer"
    kind = "classification"
    target = "diagnosis"
    metrics = ("accuracy",)
    splits = ("random",)
    seeded_splits = ("random",)  # a split seed redraws the 60 / 20 / 20
    embedded = True
    description = "569 tumours, 30 continuous features, malignant vs benign (scikit-learn's copy of the UCI set)"

    def load(self, split: str, ctx: LoadContext) -> Task:
        split = self.check_split(split)
        import pandas as pd  # here: listing plugins never imports pandas
        from sklearn.datasets import load_breast_cancer

        raw = load_breast_cancer()
        columns = [c.replace(" ", "_") for c in raw.feature_names]
        X = pd.DataFrame(raw.data, columns=columns)
        y = raw.target.astype(np.int64)
        # 60 / 20 / 20 seeded by the split seed (0 by default): the split is a pure function of the data
        order = np.random.default_rng(self.split_seed_for(split, ctx)).permutation(len(y))
        n_test = n_valid = len(y) // 5
        parts = np.sort(order[n_test + n_valid:]), np.sort(order[n_test:n_test + n_valid]), np.sort(order[:n_test])
        return Task(dataset=self.name, kind=self.kind, target=self.target, metrics=self.metrics,
                    schema=Schema(continuous=tuple(columns), n_classes=2), X=X, y=y,
                    split=Split(split, *parts), description=self.description)
