"""MR: Pang & Lee's sentence polarity dataset v1.0 (the "movie review" benchmark of Kim 2014).

Read from ``<data dir>/rt-polarity/``: ``rt-polarity.neg`` and ``rt-polarity.pos`` as released,
5,331 snippets each, one a line, already lower-cased and tokenized with spaces (punctuation is
a word of its own), so they are handed over as they are: each line without its line ending and
surrounding whitespace, every line kept. Each file is decoded as strict UTF-8, else as the
original release's Windows-1252. Not downloaded automatically: the release has no checksum to
pin, and a missing file is a :class:`bench.FilesMissing` saying where to get it.

Task: kind ``text-classification``, X = a 1-D object array of the snippets, negatives then
positives in file order; y = 0 (negative) or 1 (positive). Metric accuracy.

Splits ``fold1`` .. ``fold10`` (``fold1`` the default): the standard 10-fold cross-validation,
scikit-learn's ``StratifiedKFold(n_splits=10, shuffle=True, random_state=split_seed)``; test =
fold k, valid = a stratified 10 % of the other nine folds (``train_test_split``, same seed; for
early stopping), train = the rest. Split seed 0 by default; a suite's ``split_seeds`` redraws
the folds (all ten folds of one split seed partition the rows).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from bench import Dataset, FilesMissing, LoadContext, Schema, Task

from .folds import FOLDS, N_FOLDS, VALID_SHARE, fold_split
from .read import read_snippets

FOLDER = "rt-polarity"
FILES = {0: "rt-polarity.neg", 1: "rt-polarity.pos"}  # label -> file; rows in this order
LABELS = ["negative", "positive"]
PAGE = "https://www.cs.cornell.edu/people/pabo/movie-review-data/"
ARCHIVE = "rt-polarity.tar.gz"


def where_to_get(data_dir: Path | str = "<data dir>") -> str:
    return (f"The release: \"sentence polarity dataset v1.0\" ({ARCHIVE}) on {PAGE}; unpack it so that "
            f"{Path(data_dir) / FOLDER}/{FILES[1]} and {FILES[0]} exist (not downloaded automatically).")


class MR(Dataset):
    name = "mr"
    kind = "text-classification"
    target = "label"
    metrics = ("accuracy",)
    splits = FOLDS  # first = default
    seeded_splits = FOLDS  # a split seed redraws the folds and the valid part
    folder = FOLDER
    files = (FILES[1], FILES[0])
    description = ("MR, Pang & Lee's sentence polarity dataset v1.0: 10,662 movie-review snippets "
                   "(5,331 negative, 5,331 positive), lower-cased and tokenized; standard 10-fold "
                   "cross-validation (fold1..fold10, stratified, seeded), valid = 10 % of the "
                   "training folds. Metric accuracy.")
    how_to_get = where_to_get()

    def read(self, folder: Path) -> tuple[np.ndarray, np.ndarray]:
        """(texts, labels): the negative snippets, then the positive ones, in file order."""
        where = where_to_get(folder.parent)
        texts, labels = [], []
        for label, name in FILES.items():
            snippets = read_snippets(folder / name, where)
            texts += snippets
            labels += [label] * len(snippets)
        return np.array(texts, dtype=object), np.array(labels, dtype=np.int64)

    def load(self, split: str | None, ctx: LoadContext) -> Task:
        split = self.check_split(split)
        seed = self.split_seed_for(split, ctx)
        folder = self.require_files(ctx.data_dir)
        X, y = self.read(folder)
        try:
            parts = fold_split(y, split, seed)
        except ValueError as e:
            raise ValueError(f"dataset {self.name}: {folder}: {e}. {where_to_get(ctx.data_dir)}") from None
        s = parts.sizes()
        n_neg, n_pos = int((y == 0).sum()), int((y == 1).sum())
        return Task(dataset=self.name, kind=self.kind, target=self.target, metrics=self.metrics,
                    schema=Schema(n_classes=2), X=X, y=y, split=parts,
                    description=(f"MR (Pang & Lee sentence polarity v1.0): {len(y):,} snippets ({n_neg:,} "
                                 f"negative, {n_pos:,} positive); split {split} of {N_FOLDS} (split seed "
                                 f"{seed}): train {s['train']:,}, valid {s['valid']:,}, test {s['test']:,}"),
                    categories={"label": list(LABELS)})


__all__ = ["MR", "FilesMissing", "read_snippets", "fold_split", "FOLDS", "FILES", "FOLDER", "LABELS",
           "N_FOLDS", "PAGE", "VALID_SHARE", "where_to_get"]
