"""Gradient-boosted trees (XGBoost): the entity-embedding paper's boosting baseline."""
from __future__ import annotations

import numpy as np
import xgboost as xgb

from bench import FitContext, Method, NotFittedError, Part
from bench.methods.features import encoder_for, note_rows, take, train_rows, use_log_target


class XGBoost(Method):
    name = "xgboost"
    kinds = ("regression", "classification", "image-classification", "rating")
    description = "gradient-boosted trees (XGBoost) with the paper's settings, on the GPU when there is one"
    defaults = {
        "n_rounds": 3000,               # boosting rounds (the paper: 3000, no early stopping)
        "max_depth": 7,
        "learning_rate": 0.02,          # eta
        "subsample": 0.7,               # rows per tree
        "colsample_bytree": 0.7,        # columns per tree
        "tree_method": "hist",          # hist | exact (the paper's era; CPU only, slower)
        "max_bin": "auto",              # hist bins; "auto" = max(256, largest cardinality + 1) so
                                        # every level of an ordinal column gets its own bin
        "early_stopping_rounds": None,  # stop when valid stops improving (None: fixed rounds)
        "encoding": "ordinal",          # ordinal | onehot | ee (categorical columns -> learned embeddings)
        "ee_variant": "ee",             # the embedding network behind encoding='ee' (fitted once, shared)
        "log_target": "auto",           # regression: fit log(y), predict exp; "auto" follows the hint
        "max_train_rows": None,         # random subset of train rows (images: 3072 features are slow)
        "pca": None,  # images: PCA components of the flattened pixels (None: all pixels)
    }
    variants = {"xgboost": {}}

    def fit(self, train: Part, valid: Part | None, ctx: FitContext) -> "XGBoost":
        p = self.params
        if p["tree_method"] not in ("hist", "exact", "approx"):
            raise ValueError(f"{self.name}: tree_method must be 'hist', 'exact' or 'approx', "
                             f"not {p['tree_method']!r}")
        rows = train_rows(len(train), p["max_train_rows"], ctx.seed)
        X, y = take(train, rows)
        note_rows(ctx, len(train), rows)
        encoder = encoder_for(p["encoding"], train, ctx, valid, ee_variant=p["ee_variant"], pca=p["pca"],
                              seed=ctx.seed)
        M = encoder.fit_transform(X)
        self.log_target_ = use_log_target(p["log_target"], train)
        self.classes_ = None
        if train.kind in ("classification", "image-classification"):
            self.classes_, y = np.unique(y, return_inverse=True)
        else:
            y = np.log(y.astype(np.float64)) if self.log_target_ else y.astype(np.float64)

        self.max_bin_ = self._max_bin(train)
        on_gpu = ctx.device.startswith("cuda") and p["tree_method"] != "exact"  # exact: CPU only
        device = ctx.device if on_gpu else "cpu"
        params = {
            "max_depth": p["max_depth"], "eta": p["learning_rate"], "subsample": p["subsample"],
            "colsample_bytree": p["colsample_bytree"], "tree_method": p["tree_method"],
            "max_bin": self.max_bin_, "seed": ctx.seed, "device": device, "verbosity": 0,
            **self._objective(),
        }
        dtrain = xgb.DMatrix(M, label=y)
        evals, stop = [], p["early_stopping_rounds"]
        if stop is not None and valid is not None:
            yv = np.asarray(valid.y)
            if self.classes_ is not None:
                yv = np.searchsorted(self.classes_, yv)  # unseen labels just count as errors
                yv = np.clip(yv, 0, len(self.classes_) - 1)
            elif self.log_target_:
                yv = np.log(yv.astype(np.float64))
            evals = [(xgb.DMatrix(encoder.transform(valid.X), label=yv), "valid")]
        booster = xgb.train(params, dtrain, num_boost_round=p["n_rounds"], evals=evals,
                            early_stopping_rounds=stop if evals else None, verbose_eval=False)
        self.n_rounds_ = booster.best_iteration + 1 if evals else p["n_rounds"]
        # Predict on the CPU: a pickled model then works anywhere, with no device-mismatch warning.
        booster.set_param({"device": "cpu"})
        self.booster_ = booster
        self.encoder_ = encoder
        ctx.info.update({"device": device, "tree_method": p["tree_method"], "n_rounds": self.n_rounds_,
                         **({"max_bin": self.max_bin_} if p["tree_method"] != "exact" else {})})
        return self

    def predict(self, data: Part) -> np.ndarray:
        if not hasattr(self, "booster_"):
            raise NotFittedError(f"{self.name}: predict called before fit")
        M = self.encoder_.transform(data.X)
        out = self.booster_.predict(xgb.DMatrix(M), iteration_range=(0, self.n_rounds_))
        if self.classes_ is None:
            return np.exp(out.astype(np.float64)) if self.log_target_ else out.astype(np.float64)
        if len(self.classes_) == 1:
            return np.repeat(self.classes_, len(M))
        if len(self.classes_) == 2:
            return self.classes_[(out > 0.5).astype(np.int64)]
        return self.classes_[np.argmax(out, axis=1)]

    def _max_bin(self, train: Part) -> int:
        if self.params["max_bin"] != "auto":
            return int(self.params["max_bin"])
        cards = train.schema.categorical.values() if self.params["encoding"] == "ordinal" else ()
        return max([256] + [k + 1 for k in cards])

    def _objective(self) -> dict:
        if self.classes_ is None:
            return {"objective": "reg:squarederror"}
        if len(self.classes_) <= 2:
            return {"objective": "binary:logistic"}
        return {"objective": "multi:softprob", "num_class": len(self.classes_)}
