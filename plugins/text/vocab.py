"""Tokens and the vocabulary of the text networks, fitted on the train texts only.

A token is a whitespace-separated word of the lower-cased text (the MR and IMDB readers hand over
text as released; MR is already tokenized). The vocabulary is built from the train part alone:
a word seen only in valid or test maps to ``<unk>``, so nothing of them leaks into the features.
Ids: ``<pad>`` 0 (ignored by every network), ``<unk>`` 1, ``<bos>`` 2, ``<eos>`` 3, then the
words by descending train frequency (ties by the word itself: the same texts, the same ids).
"""
from __future__ import annotations

from collections import Counter
from typing import Iterable, Sequence

import numpy as np

PAD, UNK, BOS, EOS = 0, 1, 2, 3
SPECIALS = ("<pad>", "<unk>", "<bos>", "<eos>")


def tokens(text: str) -> list[str]:
    """The words of one text: lower-cased, split on whitespace."""
    return str(text).lower().split()


class Vocab:
    """Word <-> id. ``fit`` counts the train texts; ``min_freq`` and ``max_size`` prune it."""

    def __init__(self, min_freq: int = 1, max_size: int | None = None):
        self.min_freq = min_freq
        self.max_size = max_size

    def fit(self, texts: Iterable[str]) -> "Vocab":
        counts = Counter(w for t in texts for w in tokens(t))
        words = sorted((w for w, c in counts.items() if c >= self.min_freq and w not in SPECIALS),
                       key=lambda w: (-counts[w], w))
        if self.max_size is not None:
            words = words[: max(0, int(self.max_size) - len(SPECIALS))]
        self.itos_ = list(SPECIALS) + words
        self.stoi_ = {w: i for i, w in enumerate(self.itos_)}
        self.counts_ = np.array([0] * len(SPECIALS) + [counts[w] for w in words], dtype=np.int64)
        return self

    def __len__(self) -> int:
        return len(self.itos_)

    def ids(self, text: str) -> list[int]:
        get = self.stoi_.get
        return [get(w, UNK) for w in tokens(text)]

    def encode(self, texts: Sequence[str], max_len: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(ids, lengths)``: an int64 array (N, L) padded with ``<pad>`` on the right, L the
        longest text (at most ``max_len``: longer texts keep their first ``max_len`` words), and
        each text's length (at least 1: an empty text is one ``<unk>``)."""
        rows = [self.ids(t)[:max_len] if max_len else self.ids(t) for t in texts]
        rows = [r if r else [UNK] for r in rows]
        lengths = np.array([len(r) for r in rows], dtype=np.int64)
        out = np.full((len(rows), int(lengths.max()) if len(rows) else 1), PAD, dtype=np.int64)
        for i, r in enumerate(rows):
            out[i, : len(r)] = r
        return out, lengths

    def stream(self, texts: Iterable[str]) -> np.ndarray:
        """One long int64 sequence of every text's ids, each followed by ``<eos>`` (a language
        model's training stream)."""
        out: list[int] = []
        for t in texts:
            out += self.ids(t)
            out.append(EOS)
        return np.asarray(out, dtype=np.int64)

    def words(self, ids: Iterable[int]) -> list[str]:
        return [self.itos_[int(i)] for i in ids]
