"""``TabularBaseline``: the plumbing every classic baseline shares, so a plugin is its card and its model.

What it does for a subclass, in ``fit``: a seeded subset of at most ``max_train_rows`` train rows
(recorded in the run's info), the feature encoding (``encoding`` ordinal | onehot | ee, ``pca``),
the target (regression and ratings: ``log`` when ``target_transform`` says so; classification:
codes 0..k-1 of the sorted labels, ``classes_``); in ``predict``: the not-fitted guard, the same
encoding, and the way back (``exp``, or codes to labels). A subclass names its estimator
(README.md, "A scikit-learn model as a baseline", has a complete plugin):

    class RidgeBaseline(TabularBaseline):    # sklearn.linear_model's Ridge, LogisticRegression
        name = "ridge"
        defaults = {**TabularBaseline.defaults, "alpha": 1.0}

        def estimator(self, classify, ctx):
            return LogisticRegression() if classify else Ridge(alpha=self.params["alpha"])

Hooks for more (each has a default): ``check_params`` (fail fast on a bad value),
``encoder_options`` (extra arguments of ``encoder_for``, e.g. ``scale``), ``features`` (after the
encoding, e.g. row normalisation), ``fit_model`` (a model that is not a scikit-learn estimator)
and ``predict_model`` (its raw output: numbers, or class codes).
"""
from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from bench.core.method import FitContext, Method, NotFittedError
from bench.core.task import LABEL_KINDS, Part

CLASSIFY = LABEL_KINDS


class TabularBaseline(Method):
    """A baseline on encoded table columns (or flattened pixels) through one estimator."""

    kinds: ClassVar[tuple[str, ...]] = ("regression", "classification", "image-classification", "rating",
                                        "text-classification")
    defaults: ClassVar[dict[str, Any]] = {
        "encoding": "ordinal",        # ordinal | onehot | ee (categorical columns -> learned embeddings);
                                      # text: ordinal = TF-IDF of word 1-2-grams, ee = the network's
                                      # word embeddings averaged per text (bench.methods.text_features)
        "ee_variant": "ee",           # the embedding network behind encoding='ee' (fitted once, shared)
        "target_transform": "auto",   # auto (the dataset's hint) | log (fit log(y), predict exp) | none
        "max_train_rows": None,       # seeded random subset of train rows (recorded in the run's info)
        "pca": None,                  # images: PCA components of the flattened pixels (None: all pixels);
                                      # text: truncated-SVD components of the TF-IDF (None: sparse)
    }
    renamed: ClassVar[dict[str, str]] = {"log_target": "target_transform"}

    # -- hooks --------------------------------------------------------------------------------

    def estimator(self, classify: bool, ctx: FitContext) -> Any:
        """An unfitted scikit-learn style estimator (``fit(M, y)``, ``predict(M)``)."""
        raise NotImplementedError(f"{type(self).__name__} must define estimator() or fit_model()")

    def check_params(self) -> None:
        """Raise ValueError for a parameter value the method cannot use, before any work."""

    def encoder_options(self) -> dict[str, Any]:
        """Extra keyword arguments of ``encoder_for`` (``scale``, ``sparse``)."""
        return {}

    def features(self, M: Any) -> Any:
        """The encoded matrix as the model sees it (train and predict alike)."""
        return M

    def fit_model(self, M: Any, y: np.ndarray, train: Part, valid: Part | None, ctx: FitContext) -> Any:
        """The fitted model on features ``M`` and target ``y`` (log values, or class codes)."""
        return self.estimator(self.classes_ is not None, ctx).fit(M, y)

    def predict_model(self, M: Any) -> np.ndarray:
        """Raw predictions on features ``M``: target values (log scale if fitted so) or class codes."""
        return self.model_.predict(M)

    # -- the shared plumbing ------------------------------------------------------------------

    def fit(self, train: Part, valid: Part | None, ctx: FitContext) -> "TabularBaseline":
        # here, not at the top: a plugin file built on this base imports without pandas or scipy
        from bench.methods.features import encoder_for, note_rows, take, train_rows, use_log_target

        p = self.params
        self.check_params()
        self.log_target_ = use_log_target(p["target_transform"], train)
        rows = train_rows(len(train), p["max_train_rows"], ctx.seed)
        X, y = take(train, rows)
        note_rows(ctx, len(train), rows)
        self.encoder_ = encoder_for(p["encoding"], train, ctx, valid, ee_variant=p["ee_variant"],
                                    pca=p["pca"], seed=ctx.seed, **self.encoder_options())
        M = self.features(self.encoder_.fit_transform(X))
        self.n_rows_ = len(y)  # rows the model sees (after max_train_rows)
        self.classes_ = None
        if train.kind in CLASSIFY:
            self.classes_, y = np.unique(y, return_inverse=True)
        else:
            y = self.encode_target(y)
        self.model_ = self.fit_model(M, y, train, valid, ctx)
        return self

    def predict(self, data: Part) -> np.ndarray:
        if not hasattr(self, "model_"):
            raise NotFittedError(f"{self.name}: predict called before fit")
        out = self.predict_model(self.transform(data.X))
        if self.classes_ is not None:
            return self.classes_[out]
        out = np.asarray(out).astype(np.float64)
        return np.exp(out) if self.log_target_ else out

    def transform(self, X: Any) -> Any:
        """Features of new rows, encoded as the train rows were."""
        return self.features(self.encoder_.transform(X))

    def encode_target(self, y: Any) -> np.ndarray:
        """What the model fits for targets ``y`` (train's, or valid's for early stopping): float64,
        in logs when the target is logged; labels become their codes (one unseen in train gets a
        neighbouring code, so it counts as an error)."""
        y = np.asarray(y)
        if self.classes_ is not None:
            return np.clip(np.searchsorted(self.classes_, y), 0, len(self.classes_) - 1)
        return np.log(y.astype(np.float64)) if self.log_target_ else y.astype(np.float64)
