"""Gradient-boosted trees (XGBoost): the entity-embedding paper's boosting baseline."""
from __future__ import annotations

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
        from xgboost import XGBClassifier, XGBRegressor  # here, so listing plugins never imports xgboost

        p = self.params
        cards = train.schema.categorical.values() if p["encoding"] == "ordinal" else ()
        self.max_bin_ = max([256, *(c + 1 for c in cards)]) if p["max_bin"] == "auto" else int(p["max_bin"])
        device = ctx.device if ctx.device.startswith("cuda") and p["tree_method"] != "exact" else "cpu"
        stop = p["early_stopping_rounds"] if valid is not None else None
        model = (XGBRegressor if self.classes_ is None else XGBClassifier)(
            n_estimators=p["n_rounds"], max_depth=p["max_depth"], learning_rate=p["learning_rate"],
            subsample=p["subsample"], colsample_bytree=p["colsample_bytree"], tree_method=p["tree_method"],
            max_bin=self.max_bin_, random_state=ctx.seed, device=device, early_stopping_rounds=stop)
        evals = None if stop is None else [(self.transform(valid.X), self.encode_target(valid.y))]
        model.fit(M, y, eval_set=evals, verbose=False)
        self.n_rounds_ = model.best_iteration + 1 if evals else p["n_rounds"]
        model.set_params(device="cpu")  # predict on the CPU: a pickled model then works anywhere
        ctx.info.update({"device": device, "tree_method": p["tree_method"], "n_rounds": self.n_rounds_,
                         **({"max_bin": self.max_bin_} if p["tree_method"] != "exact" else {})})
        return model
