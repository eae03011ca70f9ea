"""k-nearest neighbours: the simplest classic baseline of the entity-embedding paper."""
from __future__ import annotations

import numpy as np
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

from bench import FitContext, Method, NotFittedError, Part
from bench.encoding import encoder_for, take, train_rows, use_log_target


class KNN(Method):
    name = "knn"
    kinds = ("regression", "classification", "image-classification")
    description = "k-nearest neighbours (scikit-learn) on standardized inputs"
    defaults = {
        "n_neighbors": 10,        # the paper's k
        "weights": "distance",    # closer neighbours count more ("uniform": plain average)
        "p": 2,                   # Minkowski power: 2 = Euclidean, 1 = Manhattan
        "encoding": "ordinal",    # ordinal | onehot | ee (categorical columns -> learned embeddings)
        "scale": True,            # standardize features with train statistics ("normalized inputs")
        "log_target": "auto",     # regression: average log(y); "auto" follows the dataset's hint
        "max_train_rows": None,   # random subset of train rows (KNN keeps all of them in memory)
    }
    variants = {"knn": {}}

    def fit(self, train: Part, valid: Part | None, ctx: FitContext) -> "KNN":
        p = self.params
        X, y = take(train, train_rows(len(train), p["max_train_rows"], ctx.seed))
        encoder = encoder_for(p["encoding"], train, ctx, scale=p["scale"])
        M = encoder.fit_transform(X)
        self.log_target_ = use_log_target(p["log_target"], train)
        if train.kind in ("classification", "image-classification"):
            model = KNeighborsClassifier(n_neighbors=min(p["n_neighbors"], len(y)),
                                         weights=p["weights"], p=p["p"], n_jobs=-1)
        else:
            model = KNeighborsRegressor(n_neighbors=min(p["n_neighbors"], len(y)),
                                        weights=p["weights"], p=p["p"], n_jobs=-1)
            y = np.log(y.astype(np.float64)) if self.log_target_ else y.astype(np.float64)
        self.model_ = model.fit(M, y)
        self.encoder_ = encoder
        return self

    def predict(self, data: Part) -> np.ndarray:
        if not hasattr(self, "model_"):
            raise NotFittedError(f"{self.name}: predict called before fit")
        pred = self.model_.predict(self.encoder_.transform(data.X))
        return np.exp(pred) if self.log_target_ else pred
