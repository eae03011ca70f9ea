"""Gradient-boosted trees (XGBoost): the entity-embedding paper's boosting baseline."""
from __future__ import annotations

import numpy as np

from bench.methods import TabularBaseline


class XGBoost(TabularBaseline):
    name = "xgboost"
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
        **TabularBaseline.defaults,     # encoding, ee_variant, target_transform, max_train_rows, pca
    }
    variants = {"xgboost": {}}

    def check_params(self) -> None:
        if self.params["tree_method"] not in ("hist", "exact", "approx"):
            raise ValueError(f"{self.name}: tree_method must be 'hist', 'exact' or 'approx', "
                             f"not {self.params['tree_method']!r}")

    def fit_model(self, M, y, train, valid, ctx):
        p, k = self.params, 0 if self.classes_ is None else len(self.classes_)
        cards = train.schema.categorical.values() if p["encoding"] == "ordinal" else ()
        self.max_bin_ = max([256] + [c + 1 for c in cards]) if p["max_bin"] == "auto" else int(p["max_bin"])
        import xgboost as xgb  # here, so listing plugins never imports xgboost

        on_gpu = ctx.device.startswith("cuda") and p["tree_method"] != "exact"  # exact: CPU only
        device = ctx.device if on_gpu else "cpu"
        objective = ({"objective": "reg:squarederror"} if k == 0 else {"objective": "binary:logistic"}
                     if k <= 2 else {"objective": "multi:softprob", "num_class": k})
        params = {"max_depth": p["max_depth"], "eta": p["learning_rate"], "subsample": p["subsample"],
                  "colsample_bytree": p["colsample_bytree"], "tree_method": p["tree_method"],
                  "max_bin": self.max_bin_, "seed": ctx.seed, "device": device, "verbosity": 0, **objective}
        stop = p["early_stopping_rounds"] if valid is not None else None
        evals = [] if stop is None else [
            (xgb.DMatrix(self.transform(valid.X), label=self.encode_target(valid.y)), "valid")]
        booster = xgb.train(params, xgb.DMatrix(M, label=y), num_boost_round=p["n_rounds"], evals=evals,
                            early_stopping_rounds=stop, verbose_eval=False)
        self.n_rounds_ = booster.best_iteration + 1 if evals else p["n_rounds"]
        # Predict on the CPU: a pickled model then works anywhere, with no device-mismatch warning.
        booster.set_param({"device": "cpu"})
        ctx.info.update({"device": device, "tree_method": p["tree_method"], "n_rounds": self.n_rounds_,
                         **({"max_bin": self.max_bin_} if p["tree_method"] != "exact" else {})})
        return booster

    def predict_model(self, M):
        import xgboost as xgb

        out = self.model_.predict(xgb.DMatrix(M), iteration_range=(0, self.n_rounds_))
        if self.classes_ is None:
            return out
        # classes: per-class probabilities, or for one or two classes the probability of the second
        return np.argmax(out, axis=1) if out.ndim == 2 else np.minimum(out > 0.5, len(self.classes_) - 1)
