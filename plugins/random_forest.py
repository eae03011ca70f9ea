"""Random forest: the entity-embedding paper's bagged-trees baseline."""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from bench.methods import TabularBaseline


class RandomForest(TabularBaseline):
    name = "random-forest"
    description = "random forest (scikit-learn), the paper's 200 trees of depth up to 35"
    defaults = {
        "n_estimators": 200,       # the paper's forest size
        "max_depth": 35,           # the paper's depth limit
        "min_samples_leaf": 1,
        "max_features": "auto",    # "auto": all features for regression (the paper), sqrt(n) for classes
        **TabularBaseline.defaults,  # encoding, ee_variant, target_transform, max_train_rows, pca
    }
    variants = {"random-forest": {}}

    def estimator(self, classify, ctx):
        p = self.params
        max_features = p["max_features"]
        if max_features == "auto":
            max_features = "sqrt" if classify else 1.0
        from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor  # here: listing stays light

        Forest = RandomForestClassifier if classify else RandomForestRegressor
        return Forest(n_estimators=p["n_estimators"], max_depth=p["max_depth"],
                      min_samples_leaf=p["min_samples_leaf"], max_features=max_features,
                      n_jobs=-1, random_state=ctx.seed)

    def predict_model(self, M):
        # Trees are summed in a fixed order: scikit-learn's threaded sum is not bitwise reproducible.
        classify = self.classes_ is not None
        with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
            total = sum(pool.map(lambda t: t.predict_proba(M) if classify else t.predict(M),
                                 self.model_.estimators_))
        return np.argmax(total, axis=1) if classify else total / len(self.model_.estimators_)
