"""k-nearest neighbours: the simplest classic baseline of the entity-embedding paper."""
from __future__ import annotations

from bench.methods import TabularBaseline


class KNN(TabularBaseline):
    name = "knn"
    kinds = ("regression", "classification", "image-classification",  # ratings: codes are no distance
             "text-classification")
    description = "k-nearest neighbours (scikit-learn) on normalized inputs, as in the paper's code"
    defaults = {
        "n_neighbors": 10,        # the paper's k
        "weights": "distance",    # closer neighbours count more ("uniform": plain average)
        "p": 1,                   # Minkowski power: 1 = Manhattan (the paper's), 2 = Euclidean
        "normalize": "rows",      # rows: each row to unit L2 norm (the paper's sklearn Normalizer);
                                  # standard: standardize columns with train statistics; None: raw
        **TabularBaseline.defaults,  # encoding, ee_variant, target_transform, max_train_rows, pca
    }
    variants = {
        "knn": {},                               # the paper's KNN (its table: MAPE 0.290 on Rossmann)
        "knn-standardized": {"normalize": "standard"},
        "knn-raw": {"normalize": None},          # raw codes: on Rossmann the store code dominates
    }                                            # the distance, so neighbours are the same store

    def check_params(self) -> None:
        if self.params["normalize"] not in ("rows", "standard", None):
            raise ValueError(f"{self.name}: normalize must be 'rows', 'standard' or None, "
                             f"not {self.params['normalize']!r}")

    def encoder_options(self) -> dict:
        return {"scale": self.params["normalize"] == "standard"}

    def features(self, M):
        from sklearn.preprocessing import normalize  # here, so listing plugins never imports sklearn

        return normalize(M, norm="l2") if self.params["normalize"] == "rows" else M

    def estimator(self, classify, ctx):
        from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

        p = self.params
        Neighbours = KNeighborsClassifier if classify else KNeighborsRegressor
        return Neighbours(n_neighbors=min(p["n_neighbors"], self.n_rows_), weights=p["weights"], p=p["p"],
                          n_jobs=-1)
