"""MR's splits: the standard 10-fold cross-validation, stratified and seeded (scikit-learn's
StratifiedKFold), with a seeded stratified valid part drawn from the nine training folds."""
from __future__ import annotations

import numpy as np

from bench import Split

N_FOLDS = 10
FOLDS = tuple(f"fold{k}" for k in range(1, N_FOLDS + 1))
VALID_SHARE = 0.1  # of the nine training folds, for early stopping


def fold_split(y: np.ndarray, split: str, split_seed: int = 0) -> Split:
    """Fold ``k`` of ``split = "fold<k>"``: test = that fold of ``StratifiedKFold(10, shuffle=True,
    random_state=split_seed)``, valid = a stratified 10 % of the other rows (same seed), train = the rest."""
    from sklearn.model_selection import StratifiedKFold, train_test_split

    y = np.asarray(y)
    smallest = int(np.bincount(y).min()) if len(y) else 0
    if smallest < N_FOLDS:
        raise ValueError(f"{N_FOLDS}-fold cross-validation needs at least {N_FOLDS} rows of each class; "
                         f"the smallest class has {smallest}")
    folds = StratifiedKFold(n_splits=N_FOLDS, shuffle=True, random_state=split_seed)
    rest, test = list(folds.split(np.zeros(len(y)), y))[FOLDS.index(split)]
    train, valid = train_test_split(rest, test_size=VALID_SHARE, stratify=y[rest], random_state=split_seed)
    return Split(split, *(np.sort(p).astype(np.int64) for p in (train, valid, test)))
