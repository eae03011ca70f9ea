"""Text as features for the classic baselines: TF-IDF of word n-grams, or a network's word
embeddings averaged per text (the "with EE" column of a text table).

Both are fitted on the train texts only: the vocabulary and the document frequencies of the TF-IDF
never see valid or test. Tokens are the whitespace-separated words of the text, lower-cased
(punctuation tokens kept: "!" and "n't" carry sentiment), as the MR release tokenized them.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from bench.core.task import Part

TEXT_KIND = "text-classification"
TOKEN_PATTERN = r"(?u)\S+"  # a token is a run of non-space characters


class TfidfText:
    """Word 1..``ngram_max``-gram TF-IDF (sublinear tf, l2-normalized rows; scikit-learn's
    ``TfidfVectorizer``), scipy CSR; ``svd=k`` reduces it to k dense columns with a seeded
    truncated SVD (latent semantic analysis), for models that want dense inputs.

    ``min_df=2`` keeps the n-grams seen in at least two train texts: on MR (one fold, 9,600
    texts) that cuts the columns about fivefold, lifts logistic regression (0.780 -> 0.787) and lets
    trees use the sparse matrix directly (random forest 6 s instead of 23 s on an SVD, 0.69 vs 0.65).
    A train part too small to have any such n-gram falls back to every n-gram."""

    def __init__(self, svd: int | None = None, seed: int = 0, scale: bool = False, ngram_max: int = 2,
                 min_df: int = 2):
        self.svd = svd
        self.seed = seed
        self.scale = scale
        self.ngram_max = ngram_max
        self.min_df = min_df

    def fit_transform(self, X: Any):
        from sklearn.feature_extraction.text import TfidfVectorizer

        texts = _texts(X)
        for min_df in dict.fromkeys((self.min_df, 1)):  # the fallback: a tiny train part
            self.vectorizer_ = TfidfVectorizer(token_pattern=TOKEN_PATTERN, ngram_range=(1, self.ngram_max),
                                               min_df=min_df, sublinear_tf=True, dtype=np.float32)
            try:
                M = self.vectorizer_.fit_transform(texts)
                break
            except ValueError:  # "After pruning, no terms remain"
                if min_df == 1:
                    raise
        self.svd_ = None
        if self.svd:
            from sklearn.decomposition import TruncatedSVD

            k = int(self.svd)
            if k < 1:
                raise ValueError(f"pca (text: SVD components) must be a positive number, not {self.svd!r}")
            k = max(1, min(k, M.shape[1] - 1, M.shape[0] - 1))
            self.svd_ = TruncatedSVD(n_components=k, random_state=self.seed).fit(M)
            M = self.svd_.transform(M).astype(np.float32)
        self.scaler_ = _Standardizer().fit(M) if self.scale and self.svd_ is not None else None
        return self._finish(M)

    def fit(self, X: Any) -> "TfidfText":
        self.fit_transform(X)
        return self

    def transform(self, X: Any):
        if not hasattr(self, "vectorizer_"):
            raise RuntimeError("TfidfText.transform called before fit")
        M = self.vectorizer_.transform(_texts(X))
        if self.svd_ is not None:
            M = self.svd_.transform(M).astype(np.float32)
        return self._finish(M)

    def _finish(self, M: Any):
        return self.scaler_.transform(M) if self.scaler_ is not None else M

    def __repr__(self) -> str:
        return f"TfidfText(svd={self.svd}, ngram_max={self.ngram_max})"


class AveragedEmbeddings:
    """Each text as the mean of its words' vectors in a fitted text network (``text_vectors``):
    what a baseline sees "with EE"."""

    def __init__(self, network: Any, scale: bool = False):
        self.network = network
        self.scale = scale

    def fit_transform(self, X: Any) -> np.ndarray:
        M = self._vectors(X)
        self.scaler_ = _Standardizer().fit(M) if self.scale else None
        return self.scaler_.transform(M) if self.scaler_ is not None else M

    def fit(self, X: Any) -> "AveragedEmbeddings":
        self.fit_transform(X)
        return self

    def transform(self, X: Any) -> np.ndarray:
        if not hasattr(self, "scaler_"):
            raise RuntimeError("AveragedEmbeddings.transform called before fit")
        M = self._vectors(X)
        return self.scaler_.transform(M) if self.scaler_ is not None else M

    def _vectors(self, X: Any) -> np.ndarray:
        return np.asarray(self.network.text_vectors(_texts(X)), dtype=np.float32)

    def __repr__(self) -> str:
        return f"AveragedEmbeddings({type(self.network).__name__})"


class _Standardizer:
    """Column mean and standard deviation of the fitted rows (constant columns left as they are)."""

    def fit(self, M: np.ndarray) -> "_Standardizer":
        M = np.asarray(M, dtype=np.float64)
        self.mean_, std = M.mean(axis=0), M.std(axis=0)
        std[std < 1e-12] = 1.0
        self.std_ = std
        return self

    def transform(self, M: np.ndarray) -> np.ndarray:
        return ((np.asarray(M, dtype=np.float64) - self.mean_) / self.std_).astype(np.float32)


def text_encoder(encoding: str, train: Part, ctx: Any = None, valid: Part | None = None,
                 ee_variant: str = "ee", svd: int | None = None, seed: int = 0, scale: bool = False):
    """An unfitted encoder of texts for a baseline's ``encoding``: ``ordinal`` (the plain inputs
    of the kind) is the TF-IDF, ``ee`` the averaged word embeddings of network ``ee_variant``."""
    if encoding == "ordinal":
        return TfidfText(svd=svd, seed=seed, scale=scale)
    if encoding == "ee":
        return AveragedEmbeddings(_text_network(ctx, train, valid, ee_variant), scale=scale)
    raise ValueError(f"encoding {encoding!r} is not for text; text tasks take 'ordinal' "
                     "(TF-IDF of word 1-2-grams) or 'ee' (a text network's word embeddings, averaged)")


def _text_network(ctx: Any, train: Part, valid: Part | None, variant: str) -> Any:
    """The text network ``variant`` fitted once on the same train part and seed (``ctx.fitted``)."""
    if getattr(ctx, "resolve_method", None) is None:
        raise ValueError("encoding 'ee' needs a text network fitted through the fit context "
                         "(ctx.resolve_method); run it through the runner (bench run)")
    network = ctx.fitted(variant, train, valid)
    if not hasattr(network, "text_vectors"):
        raise ValueError(f"encoding 'ee' on text: method {variant!r} has no text_vectors(); "
                         "name a text network variant in ee_variant (e.g. 'fasttext')")
    return network


def _texts(X: Any) -> list[str]:
    """The texts of a part as a list of str (a 1-D array or sequence of documents)."""
    arr = np.asarray(X, dtype=object)
    if arr.ndim != 1:
        raise TypeError(f"text features expect a 1-D array of texts, got shape {arr.shape}")
    return [str(t) for t in arr]
