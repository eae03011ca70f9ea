"""Random forest: the entity-embedding paper's bagged-trees baseline."""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

from bench import FitContext, Method, NotFittedError, Part
from bench.methods.features import encoder_for, note_rows, take, train_rows, use_log_target


class RandomForest(Method):
    name = "random-forest"
    kinds = ("regression", "classification", "image-classification", "rating")
    description = "random forest (scikit-learn), the paper's 200 trees of depth up to 35"
    defaults = {
        "n_estimators": 200,       # the paper's forest size
        "max_depth": 35,           # the paper's depth limit
        "min_samples_leaf": 1,
        "max_features": "auto",    # "auto": all features for regression (the paper), sqrt(n) for classes
        "encoding": "ordinal",     # ordinal | onehot | ee (categorical columns -> learned embeddings)
        "ee_variant": "ee",        # the embedding network behind encoding='ee' (fitted once, shared)
        "log_target": "auto",      # regression: fit log(y), predict exp; "auto" follows the dataset's hint
        "max_train_rows": None,    # random subset of train rows (images: trees on pixels are slow)
        "pca": None,  # images: PCA components of the flattened pixels (None: all pixels)
    }
    variants = {"random-forest": {}}

    def fit(self, train: Part, valid: Part | None, ctx: FitContext) -> "RandomForest":
        p = self.params
        rows = train_rows(len(train), p["max_train_rows"], ctx.seed)
        X, y = take(train, rows)
        note_rows(ctx, len(train), rows)
        encoder = encoder_for(p["encoding"], train, ctx, valid, ee_variant=p["ee_variant"], pca=p["pca"],
                              seed=ctx.seed)
        M = encoder.fit_transform(X)
        self.log_target_ = use_log_target(p["log_target"], train)
        classify = train.kind in ("classification", "image-classification")
        max_features = p["max_features"]
        if max_features == "auto":
            max_features = "sqrt" if classify else 1.0
        Forest = RandomForestClassifier if classify else RandomForestRegressor
        model = Forest(n_estimators=p["n_estimators"], max_depth=p["max_depth"],
                       min_samples_leaf=p["min_samples_leaf"], max_features=max_features,
                       n_jobs=-1, random_state=ctx.seed)
        if not classify:
            y = np.log(y.astype(np.float64)) if self.log_target_ else y.astype(np.float64)
        self.model_ = model.fit(M, y)
        self.encoder_ = encoder
        return self

    def predict(self, data: Part) -> np.ndarray:
        if not hasattr(self, "model_"):
            raise NotFittedError(f"{self.name}: predict called before fit")
        M = self.encoder_.transform(data.X)
        # Trees are summed in a fixed order: scikit-learn's threaded sum is not bitwise reproducible.
        classify = hasattr(self.model_, "classes_")
        with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
            per_tree = pool.map(lambda t: t.predict_proba(M) if classify else t.predict(M),
                                self.model_.estimators_)
            total = np.zeros((M.shape[0], len(self.model_.classes_)) if classify else M.shape[0])
            for p in per_tree:
                total += p
        if classify:
            return self.model_.classes_[np.argmax(total, axis=1)]
        pred = total / len(self.model_.estimators_)
        return np.exp(pred) if self.log_target_ else pred
