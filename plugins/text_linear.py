"""Linear baselines for text: TF-IDF + logistic regression, NB-SVM and multinomial naive Bayes.

The strong classic family of sentence classification (Wang & Manning 2012, "Baselines and
Bigrams"): on MR their NBSVM (uni+bigrams) got 79.4 % and MNB 79.0 %, ahead of many networks.

- ``tfidf-logreg``: word 1-2-gram TF-IDF (bench.methods.text_features, fitted on train texts)
  and an L2 logistic regression whose ``C`` is chosen on the VALID part from a small grid.
- ``nbsvm``: binarized 1-2-gram counts scaled by the naive-Bayes log-count ratio r, a linear SVM
  (squared hinge, ``C``) on them, and the paper's interpolation ``w' = (1 - beta) mean|w| + beta w``.
- ``mnb``: multinomial naive Bayes on the binarized 1-2-gram counts (the paper's MNB).

NB-SVM and MNB choose nothing on the valid part, so by default (``fit_valid``) they train on
train and valid together: every non-test text, as in the papers' cross-validation.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from bench import FitContext, Method, NotFittedError, Part
from bench.methods import TabularBaseline

TEXT = ("text-classification",)
TOKEN_PATTERN = r"(?u)\S+"  # whitespace tokens, punctuation kept (as the TF-IDF baselines see them)


class TfidfLogReg(TabularBaseline):
    name = "tfidf-logreg"
    kinds = TEXT
    description = "word 1-2-gram TF-IDF + logistic regression, C chosen on the valid part"
    defaults = {
        "C": "auto",                    # inverse L2 strength; "auto": the best of C_GRID on valid
        **TabularBaseline.defaults,     # encoding (text: ordinal = TF-IDF), max_train_rows, ...
    }
    variants = {"tfidf-logreg": {}}
    C_GRID = (0.3, 1.0, 3.0, 10.0, 30.0)

    def fit_model(self, M, y, train, valid, ctx):
        from sklearn.linear_model import LogisticRegression

        def model(C: float):
            return LogisticRegression(C=C, max_iter=2000).fit(M, y)

        if self.params["C"] != "auto":
            return model(float(self.params["C"]))
        if valid is None or len(valid) == 0:
            return model(1.0)
        Mv, yv = self.transform(valid.X), self.encode_target(valid.y)
        scores = {C: float(np.mean(model(C).predict(Mv) == yv)) for C in self.C_GRID}
        best = max(self.C_GRID, key=lambda C: (scores[C], -C))  # ties: the stronger regularization
        ctx.info.update({"C": best, "valid_accuracy_by_C": scores})
        return model(best)


class _BinarizedNgrams(Method):
    """Shared by NB-SVM and MNB: binarized word 1..ngram_max-gram counts fitted on train texts."""

    kinds = TEXT

    def _fit_counts(self, train: Part, valid: Part | None = None):
        from sklearn.feature_extraction.text import CountVectorizer

        if self.params["fit_valid"] and valid is not None and len(valid):
            train = Part(np.concatenate([np.asarray(train.X, dtype=object), np.asarray(valid.X, dtype=object)]),
                         np.concatenate([np.asarray(train.y), np.asarray(valid.y)]), train.schema, train.kind)

        self.vectorizer_ = CountVectorizer(token_pattern=TOKEN_PATTERN, ngram_range=(1, self.params["ngram_max"]),
                                           binary=True, dtype=np.float32)
        M = self.vectorizer_.fit_transform(_texts(train.X))
        self.classes_, y = np.unique(np.asarray(train.y), return_inverse=True)
        return M, y

    def _counts(self, data: Part):
        if not hasattr(self, "vectorizer_"):
            raise NotFittedError(f"{self.name}: predict called before fit")
        return self.vectorizer_.transform(_texts(data.X))


class NBSVM(_BinarizedNgrams):
    name = "nbsvm"
    description = "NB-SVM (Wang & Manning 2012): naive-Bayes log-count ratios as feature weights, linear SVM"
    defaults = {
        "ngram_max": 2,    # uni+bigrams (the paper's best on MR)
        "alpha": 1.0,      # smoothing of the log-count ratio
        "C": 1.0,          # SVM's inverse regularization (liblinear's default, the paper's)
        "beta": 0.25,      # interpolation with the mean weight magnitude (the paper's)
        "fit_valid": True,  # train on train + valid (nothing is chosen on valid)
    }
    variants = {"nbsvm": {}}

    def fit(self, train: Part, valid: Part | None, ctx: FitContext) -> "NBSVM":
        from sklearn.svm import LinearSVC

        M, y = self._fit_counts(train, valid)
        if len(self.classes_) != 2:
            raise ValueError(f"{self.name}: NB-SVM is a two-class method; the train part has "
                             f"{len(self.classes_)} classes")
        a = self.params["alpha"]
        p = a + np.asarray(M[y == 1].sum(axis=0)).ravel()
        q = a + np.asarray(M[y == 0].sum(axis=0)).ravel()
        self.r_ = (np.log(p / p.sum()) - np.log(q / q.sum())).astype(np.float32)
        svm = LinearSVC(C=self.params["C"], loss="squared_hinge", max_iter=10000,
                        random_state=ctx.seed).fit(M.multiply(self.r_).tocsr(), y)
        self.coef_, beta = svm.coef_.ravel(), self.params["beta"]  # the SVM's own weights
        self.w_ = (1 - beta) * np.abs(self.coef_).mean() + beta * self.coef_
        self.b_ = float(svm.intercept_[0])
        ctx.info["n_features"] = int(M.shape[1])
        return self

    def decision(self, data: Part) -> np.ndarray:
        X = self._counts(data).multiply(self.r_).tocsr()
        return np.asarray(X @ self.w_).ravel() + self.b_

    def predict(self, data: Part) -> np.ndarray:
        return self.classes_[(self.decision(data) > 0).astype(np.int64)]


class MNB(_BinarizedNgrams):
    name = "mnb"
    description = "multinomial naive Bayes on binarized word 1-2-grams (Wang & Manning's MNB)"
    defaults = {"ngram_max": 2, "alpha": 1.0,
                "fit_valid": True}  # train on train + valid (nothing is chosen on valid)
    variants = {"mnb": {}}

    def fit(self, train: Part, valid: Part | None, ctx: FitContext) -> "MNB":
        from sklearn.naive_bayes import MultinomialNB

        M, y = self._fit_counts(train, valid)
        self.model_ = MultinomialNB(alpha=self.params["alpha"]).fit(M, y)
        return self

    def predict(self, data: Part) -> np.ndarray:
        return self.classes_[self.model_.predict(self._counts(data))]


def _texts(X: Any) -> list[str]:
    return [str(t) for t in np.asarray(X, dtype=object)]
