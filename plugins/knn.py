"""k-nearest neighbours: the simplest classic baseline of the entity-embedding paper."""
from __future__ import annotations

import numpy as np
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.preprocessing import normalize

from bench import FitContext, Method, NotFittedError, Part
from bench.methods.features import encoder_for, note_rows, take, train_rows, use_log_target


class KNN(Method):
    name = "knn"
    kinds = ("regression", "classification", "image-classification")
    description = "k-nearest neighbours (scikit-learn) on normalized inputs, as in the paper's code"
    defaults = {
        "n_neighbors": 10,        # the paper's k
        "weights": "distance",    # closer neighbours count more ("uniform": plain average)
        "p": 1,                   # Minkowski power: 1 = Manhattan (the paper's), 2 = Euclidean
        "normalize": "rows",      # rows: each row to unit L2 norm (the paper's sklearn Normalizer);
                                  # standard: standardize columns with train statistics; None: raw
        "encoding": "ordinal",    # ordinal | onehot | ee (categorical columns -> learned embeddings)
        "ee_variant": "ee",       # the embedding network behind encoding='ee' (fitted once, shared)
        "log_target": "auto",     # regression: average log(y); "auto" follows the dataset's hint
        "max_train_rows": None,   # random subset of train rows (KNN keeps all of them in memory)
        "pca": None,              # images: PCA components of the flattened pixels (None: all pixels)
    }
    variants = {
        "knn": {},                               # the paper's KNN (its table: MAPE 0.290 on Rossmann)
        "knn-standardized": {"normalize": "standard"},
        "knn-raw": {"normalize": None},          # raw codes: on Rossmann the store code dominates
    }                                            # the distance, so neighbours are the same store

    def fit(self, train: Part, valid: Part | None, ctx: FitContext) -> "KNN":
        p = self.params
        rows = train_rows(len(train), p["max_train_rows"], ctx.seed)
        X, y = take(train, rows)
        note_rows(ctx, len(train), rows)
        if p["normalize"] not in ("rows", "standard", None):
            raise ValueError(f"{self.name}: normalize must be 'rows', 'standard' or None, "
                             f"not {p['normalize']!r}")
        encoder = encoder_for(p["encoding"], train, ctx, valid, scale=p["normalize"] == "standard",
                              ee_variant=p["ee_variant"], pca=p["pca"], seed=ctx.seed)
        self.encoder_ = encoder
        M = self._features(X, fitting=True)
        self.log_target_ = use_log_target(p["log_target"], train)
        if train.kind in ("classification", "image-classification"):
            model = KNeighborsClassifier(n_neighbors=min(p["n_neighbors"], len(y)),
                                         weights=p["weights"], p=p["p"], n_jobs=-1)
        else:
            model = KNeighborsRegressor(n_neighbors=min(p["n_neighbors"], len(y)),
                                        weights=p["weights"], p=p["p"], n_jobs=-1)
            y = np.log(y.astype(np.float64)) if self.log_target_ else y.astype(np.float64)
        self.model_ = model.fit(M, y)
        return self

    def predict(self, data: Part) -> np.ndarray:
        if not hasattr(self, "model_"):
            raise NotFittedError(f"{self.name}: predict called before fit")
        pred = self.model_.predict(self._features(data.X))
        return np.exp(pred) if self.log_target_ else pred

    def _features(self, X, fitting: bool = False):
        M = self.encoder_.fit_transform(X) if fitting else self.encoder_.transform(X)
        return normalize(M, norm="l2") if self.params["normalize"] == "rows" else M
