"""text-sim: seeded synthetic two-class "movie snippets", embedded (no files), for smoke runs and CI.

Each snippet (8-25 tokens, punctuation as tokens of its own, like MR's) holds 1-3 sentiment
phrases among neutral filler (film words, punctuation): a sentiment word, sometimes after an
intensifier ("very good"), or negated: "not" / "never" flips the next sentiment word ("not
good" is negative). Every phrase means the snippet's class, except that a 3-phrase snippet is
sometimes mixed (one phrase the other way; the class still has two of three). Then 5 % of the
labels are flipped (noise). A bag of words cannot tell "not good ... bad" from "good ... not
bad", so it gets about 75-85 % accuracy; a model that sees word order (bigrams, RNNs) can do
better, up to the noise ceiling of ~95 %.

Splits ``fold1`` .. ``fold10`` as MR's: stratified seeded 10-fold cross-validation, test = fold
k, valid = a stratified 10 % of the other folds, train = the rest (the fold code is numpy here,
so the load needs no scikit-learn and takes milliseconds; its draw is not MR's draw).
"""
from __future__ import annotations

import numpy as np

from bench import Dataset, LoadContext, Schema, Split, Task

POSITIVE = ("good great superb moving funny brilliant charming clever gripping delightful touching "
            "beautiful").split()
NEGATIVE = "bad awful dull boring tedious clumsy bland lame predictable messy forgettable weak".split()
INTENSIFIERS = ("very", "really", "truly", "so", "utterly")
NEGATIONS = ("not", "never")
FILLER = tuple(u.split() for u in ("the film|this movie|the plot|the cast|the story|the script|the director|"
                                   "the acting|the ending|the score|it|its|is|was|feels|seems|and|with|a|"
                                   "of|,|--|...").split("|"))
LABELS = ["negative", "positive"]
N_FOLDS = 10
FOLDS = tuple(f"fold{k}" for k in range(1, N_FOLDS + 1))
MIN_TOKENS, MAX_TOKENS = 8, 25


def _pick(rng: np.random.Generator, seq):
    return seq[int(rng.integers(len(seq)))]


def _phrase(rng: np.random.Generator, meaning: int, p_negation: float, p_intensifier: float) -> list[str]:
    """Tokens that mean ``meaning`` (+1 positive, -1 negative): a word, "very word", or "not <opposite>"."""
    if rng.random() < p_negation:
        return [_pick(rng, NEGATIONS), _pick(rng, POSITIVE if meaning < 0 else NEGATIVE)]
    words = [_pick(rng, POSITIVE if meaning > 0 else NEGATIVE)]
    return [_pick(rng, INTENSIFIERS)] + words if rng.random() < p_intensifier else words


def snippet(rng: np.random.Generator, label: int, p_negation: float = 0.2, p_intensifier: float = 0.3,
            p_mixed: float = 0.25) -> str:
    """One snippet of class ``label``: its phrases with filler between them, ending with " ."."""
    sign = 1 if label else -1
    k = int(rng.integers(1, 4))
    meanings = [sign] * k
    if k == 3 and rng.random() < p_mixed:
        meanings[int(rng.integers(3))] = -sign
    phrases = [_phrase(rng, m, p_negation, p_intensifier) for m in meanings]
    n = sum(map(len, phrases)) + 1
    length = int(rng.integers(max(MIN_TOKENS, n), MAX_TOKENS + 1))
    gaps: list[list[str]] = [[] for _ in range(k + 1)]
    while n < length:
        unit = _pick(rng, FILLER)
        unit = unit[-(length - n):]  # never past the length: "the film" may end as "film"
        gaps[int(rng.integers(k + 1))] += unit
        n += len(unit)
    tokens = [t for i in range(k) for t in gaps[i] + phrases[i]] + gaps[k] + ["."]
    return " ".join(tokens)


def generate(n: int = 2000, seed: int = 0, noise: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """(texts, labels): ``n`` snippets, exactly half of each class in a seeded order, then
    ``noise`` of the labels flipped."""
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(n) % 2)
    texts = np.array([snippet(rng, int(c)) for c in y], dtype=object)
    flip = rng.random(n) < noise
    return texts, np.where(flip, 1 - y, y).astype(np.int64)


def fold_split(y: np.ndarray, split: str, split_seed: int = 0, valid_share: float = 0.1) -> Split:
    """Stratified seeded 10-fold CV: each class's rows in a seeded order are dealt to the folds in
    turn (fold sizes, per class too, differ by at most one); test = fold k, valid = a seeded
    ``valid_share`` of each class among the other folds, train = the rest."""
    rng = np.random.default_rng(split_seed)
    fold = np.empty(len(y), dtype=np.int64)
    dealt = 0
    for c in np.unique(y):
        rows = rng.permutation(np.flatnonzero(y == c))
        fold[rows] = (dealt + np.arange(len(rows))) % N_FOLDS
        dealt += len(rows)
    k = FOLDS.index(split)
    valid = []
    for c in np.unique(y):
        rest = rng.permutation(np.flatnonzero((y == c) & (fold != k)))
        valid.append(rest[:int(round(valid_share * len(rest)))])
    valid = np.sort(np.concatenate(valid))
    test = np.flatnonzero(fold == k)
    train = np.setdiff1d(np.flatnonzero(fold != k), valid)
    return Split(split, train.astype(np.int64), valid.astype(np.int64), test.astype(np.int64))


class TextSim(Dataset):
    name = "text-sim"
    kind = "text-classification"
    target = "label"
    metrics = ("accuracy",)
    splits = FOLDS
    seeded_splits = FOLDS
    synthetic = True
    embedded = True
    defaults = {"n": 2000, "seed": 0, "noise": 0.05}
    description = ("Synthetic movie snippets (seeded generator, embedded): 2,000 two-class texts of 8-25 "
                   "tokens; sentiment words, intensifiers, negation that flips the next sentiment word "
                   "('not good'), neutral filler; 5 % label noise. Bag of words ~80 %, word order helps. "
                   "Splits fold1..fold10 as MR's.")
    how_to_get = "Generated in code; nothing to download."

    def load(self, split: str | None, ctx: LoadContext | None = None) -> Task:
        split = self.check_split(split)
        seed = self.split_seed_for(split, ctx)
        p = self.params
        X, y = generate(int(p["n"]), int(p["seed"]), float(p["noise"]))
        parts = fold_split(y, split, seed)
        s = parts.sizes()
        return Task(dataset=self.name, kind=self.kind, target=self.target, metrics=self.metrics,
                    schema=Schema(n_classes=2), X=X, y=y, split=parts, synthetic=True,
                    description=(f"text-sim (synthetic movie snippets; n {p['n']}, seed {p['seed']}, label "
                                 f"noise {p['noise']}); split {split} of {N_FOLDS} (split seed {seed}): train "
                                 f"{s['train']:,}, valid {s['valid']:,}, test {s['test']:,}"),
                    categories={"label": list(LABELS)})
