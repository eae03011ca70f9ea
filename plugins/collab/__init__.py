"""Collaborative filtering for ``rating`` tasks (user, item -> rating): the classic ladder.

- ``global-mean``: every prediction is the train mean (the floor every method must beat).
- ``bias``: ``mu + b_user + b_item``, the regularized biases fitted by alternating least squares
  (Koren's baseline predictor; Surprise's ``BaselineOnly`` with its defaults).
- ``mf``: dot-product matrix factorization with biases and a sigmoid y-range, fastai's collab
  model (``EmbeddingDotBias``), trained by the shared ``bench.nn`` loop.
- ``ncf``, ``ncf-dropout``, ``ncf-bn``: neural CF, concatenated user and item embeddings
  through an MLP (fastai's ``EmbeddingNN``), with dropout or batchnorm.
- ``item-knn``, ``item-knn-cosine``: item-based neighbours over co-ratings with shrinkage;
  by default Pearson correlation of the baseline residuals and a baseline-plus-residuals
  prediction (Koren 2010; Surprise's ``KNNBaseline``), or plain cosine on raw ratings.

The task's categorical columns ``user`` and ``item`` are the ids; other columns (side
features) are ignored here and used by the tree baselines. ``mf`` and ``ncf`` hand their
learned user and item vectors to the tree baselines through ``embeddings()`` (their
``encoding="ee"`` with ``ee_variant="mf"``), as the tabular "with EE" column does.

This module holds the cards; ``baselines`` the bias fit, ``similarity`` the item x item
similarity (scipy), ``nets`` the torch modules.
"""
from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from bench import FitContext, Method, NotFittedError, Part
from bench.methods.torch import TorchMethod

from .baselines import fit_biases

if TYPE_CHECKING:  # annotations only
    import pandas as pd
    from torch import nn

# The cards import light: torch and scipy come in with the fits that need them (``nets``,
# ``similarity``), pandas with the parts' frames, so listing plugins and tables import none.


def ids(X: pd.DataFrame, schema) -> tuple[np.ndarray, np.ndarray, int, int]:
    """User and item codes of a rating part, with the schema's cardinalities."""
    missing = [c for c in ("user", "item") if c not in getattr(X, "columns", ())]
    if missing:
        raise ValueError(f"a rating task needs categorical columns 'user' and 'item'; missing {missing}")
    return (X["user"].to_numpy(np.int64), X["item"].to_numpy(np.int64),
            int(schema.categorical["user"]), int(schema.categorical["item"]))


def rating_range(y: np.ndarray) -> tuple[float, float]:
    return float(np.min(y)), float(np.max(y))


class GlobalMean(Method):
    name = "global-mean"
    kinds = ("rating",)
    description = "the train mean for every rating (the floor)"
    defaults: dict[str, Any] = {}

    def fit(self, train: Part, valid: Part | None, ctx: FitContext) -> "GlobalMean":
        self.mean_ = float(np.mean(train.y))
        return self

    def predict(self, data: Part) -> np.ndarray:
        if not hasattr(self, "mean_"):
            raise NotFittedError(f"{self.name}: predict called before fit")
        return np.full(len(data), self.mean_)


class Biases(Method):
    name = "bias"
    kinds = ("rating",)
    description = "global mean + regularized user and item biases (ALS; Surprise's BaselineOnly)"
    defaults = {
        "reg_user": 15.0,  # ridge penalty of the user biases (Surprise's default)
        "reg_item": 10.0,  # ridge penalty of the item biases
        "epochs": 10,      # ALS sweeps
    }

    def fit(self, train: Part, valid: Part | None, ctx: FitContext) -> "Biases":
        p = self.params
        u, i, nu, ni = ids(train.X, train.schema)
        self.mu_, self.bu_, self.bi_ = fit_biases(u, i, np.asarray(train.y, np.float64), nu, ni,
                                                  p["reg_user"], p["reg_item"], int(p["epochs"]))
        self.range_ = rating_range(train.y)
        return self

    def predict(self, data: Part) -> np.ndarray:
        if not hasattr(self, "mu_"):
            raise NotFittedError(f"{self.name}: predict called before fit")
        u, i, _, _ = ids(data.X, data.schema)
        return np.clip(self.mu_ + self.bu_[u] + self.bi_[i], *self.range_)


# -- item-based neighbours --------------------------------------------------------------------

class ItemKNN(Method):
    name = "item-knn"
    kinds = ("rating",)
    description = "item-based k nearest neighbours over co-ratings, shrunk similarities"
    defaults = {
        "k": 40,                          # neighbours per prediction (items the user rated)
        "similarity": "pearson_baseline",  # pearson_baseline | pearson | cosine
        "shrinkage": 100.0,               # sim * (n_common - 1) / (n_common - 1 + shrinkage)
        "baseline": True,                 # predict baseline + neighbours' residuals (else item mean)
        "reg_user": 15.0,                 # the baseline's ridge penalties (see ``bias``)
        "reg_item": 10.0,
        "max_memory_gb": None,            # the dense float32 item x item similarity may use this much;
                                          # None: the memory available at fit (psutil)
        "damping": 0.5,                   # added to the sum of weights: few weak neighbours say little
    }
    variants = {
        "item-knn": {},
        "item-knn-cosine": {"similarity": "cosine", "shrinkage": 0.0, "baseline": False, "damping": 0.0},
    }

    def fit(self, train: Part, valid: Part | None, ctx: FitContext) -> "ItemKNN":
        from scipy import sparse

        from .similarity import item_similarity

        p = self.params
        u, i, nu, ni = ids(train.X, train.schema)
        self._check_memory(ni)
        if p["similarity"] not in ("pearson_baseline", "pearson", "cosine"):
            raise ValueError(f"similarity must be pearson_baseline, pearson or cosine, not {p['similarity']!r}")
        r = np.asarray(train.y, np.float64)
        mu, bu, bi = fit_biases(u, i, r, nu, ni, p["reg_user"], p["reg_item"], 10)
        item_mean = np.bincount(i, weights=r, minlength=ni) / np.maximum(np.bincount(i, minlength=ni), 1)
        item_mean[np.bincount(i, minlength=ni) == 0] = mu
        # the values whose co-rating correlation is the similarity
        centred = {"pearson_baseline": r - (mu + bu[u] + bi[i]), "pearson": r - item_mean[i],
                   "cosine": r}[p["similarity"]]
        self.sim_ = item_similarity(u, i, centred, nu, ni, float(p["shrinkage"]))
        # the residuals the prediction averages: from the baseline, or from the item means
        self.offset_ = (mu, bu, bi) if p["baseline"] else None
        self.item_mean_ = item_mean
        resid = r - (mu + bu[u] + bi[i]) if p["baseline"] else r - item_mean[i]
        self.ratings_ = sparse.csr_matrix((resid, (u, i)), shape=(nu, ni))
        self.rated_ = sparse.csr_matrix((np.ones_like(r), (u, i)), shape=(nu, ni))
        self.range_ = rating_range(r)
        return self

    def _check_memory(self, n_items: int) -> None:
        """Refuse, with the figures, a similarity bigger than the memory it may use (not an OOM kill)."""
        from .similarity import similarity_bytes

        need, limit = similarity_bytes(n_items) / 2**30, self.params["max_memory_gb"]
        if limit is None:
            import psutil

            limit = psutil.virtual_memory().available / 2**30
            have = f"{limit:.2f} GB available (psutil.virtual_memory().available)"
        else:
            have = f"max_memory_gb = {limit}"
        if need > limit:
            raise MemoryError(f"{self.name}: {n_items:,} items need a dense {n_items:,} x {n_items:,} float32 "
                              f"similarity, {need:.2f} GB with its blocks of rows, but there is {have}; free "
                              f"memory, keep fewer items, or set the parameter max_memory_gb (GB) to allow more")

    def predict(self, data: Part) -> np.ndarray:
        if not hasattr(self, "sim_"):
            raise NotFittedError(f"{self.name}: predict called before fit")
        u, i, _, _ = ids(data.X, data.schema)
        if self.offset_ is not None:
            mu, bu, bi = self.offset_
            base = mu + bu[u] + bi[i]
        else:
            base = self.item_mean_[i].copy()
        k = int(self.params["k"])
        out = base.copy()
        order = np.argsort(u, kind="stable")
        bounds = np.flatnonzero(np.diff(u[order])) + 1
        for rows in np.split(order, bounds):
            if not len(rows):
                continue
            user = u[rows[0]]
            lo, hi = self.ratings_.indptr[user], self.ratings_.indptr[user + 1]
            seen, resid = self.ratings_.indices[lo:hi], self.ratings_.data[lo:hi]
            if not len(seen):
                continue
            S = self.sim_[np.ix_(i[rows], seen)]  # (targets, items the user rated)
            if len(seen) > k:  # keep the k most similar rated items per target
                cut = np.argpartition(-S, k - 1, axis=1)[:, k:]
                np.put_along_axis(S, cut, 0.0, axis=1)
            S = np.maximum(S, 0.0)  # only positively correlated neighbours vote
            weight = S.sum(1)
            has = weight > 0
            out[rows[has]] += (S[has] @ resid) / (weight[has] + self.params["damping"])
        return np.clip(out, *self.range_)


# -- embedding models through the shared NN core ---------------------------------------------

EMBEDDING_DEFAULTS: dict[str, Any] = {
    "y_range": "auto",   # (low, high) of the sigmoid; auto: from the train ratings, 1..5 -> (0, 5.5)
    "epochs": 5,
    "batch_size": 64,     # fastai's collab recipe: 5 one-cycle epochs, AdamW 5e-3, wd 0.1
    "optimizer": "adamw",
    "lr": 5e-3,
    "weight_decay": 0.1,  # decoupled, on every embedding row; per epoch it shrinks ~ lr x wd x steps
    "wd_reference_rows": None,  # set: weight_decay is for this many train ratings, scaled by
                                # sqrt(reference / train ratings) on larger data (see wd_for_size)
    "schedule": "onecycle",
    "ensemble": 1,       # models averaged, each its own seed
    "amp": False,        # tiny embedding models gain nothing from bf16
    "train_options": None,  # any other bench.nn.TrainConfig field
    "cpu_threads": 1,    # torch threads on the CPU: ops on a batch of 256 x 50 are too small to split
}


def wd_for_size(weight_decay: float, reference_rows: int | None, n_train: int) -> float:
    """The weight decay for ``n_train`` ratings: ``weight_decay`` up to ``reference_rows``, then
    scaled by sqrt(reference_rows / n_train). Decoupled decay shrinks every row every step, so its
    pull per epoch grows with the steps an epoch takes while the data's pull per row grows slower;
    valid RMSE of ``mf`` on movielens-sim put the best decay near this curve (0.4 tuned at 76,000
    ratings; best of 0.04 / 0.1 / 0.2 / 0.4 near 0.2 at 300k ratings and 0.1 at 1M, where the curve
    gives 0.23 and 0.12). Never scaled up: on smaller data, more decay did not help."""
    if reference_rows is None or n_train <= reference_rows:
        return float(weight_decay)
    return float(weight_decay) * math.sqrt(reference_rows / n_train)


class _EmbeddingCF(TorchMethod):
    """Shared fit/predict of the embedding models: ids as one int tensor, MSE, the NN core."""

    kinds = ("rating",)
    test_params = {"epochs": 2, "n_factors": 8}  # `bench check` on tiny data

    def _network(self, n_users: int, n_items: int, y_range: tuple[float, float]) -> nn.Module:
        raise NotImplementedError

    def fit(self, train: Part, valid: Part | None, ctx: FitContext) -> "_EmbeddingCF":
        import torch
        import torch.nn.functional as F

        from bench import nn as bnn

        p = self.params
        self.check_kind(train)
        u, i, nu, ni = ids(train.X, train.schema)
        y = np.asarray(train.y, np.float64)
        if p["y_range"] == "auto":
            lo, hi = rating_range(y)
            y_range = (lo - (hi - lo) / 4, hi + (hi - lo) / 8)  # 1..5 stars -> fastai's (0, 5.5)
        else:
            y_range = tuple(float(v) for v in p["y_range"])
        device = bnn.resolve_device(ctx.device)
        x = torch.from_numpy(np.stack([u, i], 1))
        target = torch.from_numpy(y.astype(np.float32))
        valid_data = metric = None
        if valid is not None and len(valid):
            vu, vi, _, _ = ids(valid.X, valid.schema)
            valid_data = ((torch.from_numpy(np.stack([vu, vi], 1)),),
                          torch.from_numpy(np.asarray(valid.y, np.float32)))
            metric = lambda out, t: float(torch.sqrt(F.mse_loss(out.float(), t.float())))  # noqa: E731
        # valid is for the record (and blends), not for picking an epoch
        wd = wd_for_size(p["weight_decay"], p["wd_reference_rows"], len(y))
        cfg = self.train_config(device, restore_best=False, weight_decay=wd)
        results = self.fit_members(lambda: self._network(nu, ni, y_range), ((x,), target), cfg, ctx, device,
                                   valid=valid_data, loss_fn=F.mse_loss, metric=metric, metric_name="valid_rmse")
        ctx.info.update({"nn_fits": self.member_fits(results), "device": str(device), "weight_decay": wd,
                         "n_parameters": self.n_parameters()})
        return self

    def training_scope(self, device):
        """``cpu_threads`` torch threads while a net trains on the CPU."""
        from .nets import torch_threads

        return torch_threads(self.params["cpu_threads"] if device.type == "cpu" else None)

    def predict(self, data: Part) -> np.ndarray:
        import torch

        from bench import nn as bnn

        self.check_fitted()
        u, i, _, _ = ids(data.X, data.schema)
        x = torch.from_numpy(np.stack([u, i], 1))
        outs = [bnn.predict(m, (x,), 65536, amp=bool(self.params["amp"])).cpu().numpy() for m in self.members_]
        return np.mean(outs, 0).astype(np.float64)

    def embeddings(self) -> dict[str, np.ndarray]:
        """Learned vectors per user and item (averaged over ensemble members would mix bases: the first)."""
        self.check_fitted("embeddings")
        return self.members_[0].vectors()


class MatrixFactorization(_EmbeddingCF):
    name = "mf"
    description = "dot-product matrix factorization with biases and a sigmoid y-range (fastai collab)"
    # Tuned on the valid parts of ml-100k's folds (never on their test rows): fastai's recipe
    # with a larger batch and four times its weight decay, that decay scaled down on larger data
    # (wd_for_size); ``mf-fastai`` is the recipe as is.
    defaults = {**EMBEDDING_DEFAULTS, "n_factors": 50, "batch_size": 256, "lr": 1e-2, "weight_decay": 0.4,
                "wd_reference_rows": 76_000}
    variants = {"mf": {}, "mf-fastai": {"batch_size": 64, "lr": 5e-3, "weight_decay": 0.1, "wd_reference_rows": None}}

    def _network(self, n_users, n_items, y_range):
        from .nets import DotBias

        return DotBias(n_users, n_items, int(self.params["n_factors"]), y_range)


class NeuralCF(_EmbeddingCF):
    name = "ncf"
    description = "neural CF: concatenated user and item embeddings through an MLP (fastai EmbeddingNN)"
    # the batch and weight decay found for ``mf`` (same valid RMSE as fastai's recipe, 4x fewer steps)
    defaults = {**EMBEDDING_DEFAULTS, "n_factors": 50, "hidden": (100,), "dropout": 0.0,
                "batchnorm": False, "emb_dropout": 0.0, "batch_size": 256, "lr": 1e-2, "weight_decay": 0.4,
                "wd_reference_rows": 76_000}
    test_params = {"epochs": 2, "n_factors": 8, "hidden": (16,)}
    variants = {
        "ncf": {},
        "ncf-dropout": {"dropout": 0.3, "emb_dropout": 0.05},
        "ncf-bn": {"batchnorm": True},
    }

    def _network(self, n_users, n_items, y_range):
        from .nets import ConcatMLP

        p = self.params
        k = int(p["n_factors"])
        return ConcatMLP(n_users, n_items, k, k, [int(h) for h in p["hidden"]], float(p["dropout"]),
                         bool(p["batchnorm"]), float(p["emb_dropout"]), y_range)


EmbeddingCF = _EmbeddingCF  # the base, for the cards of ``implicit``
from .implicit import AutoRec, SVDpp  # noqa: E402  (``autorec``, ``svdpp``: they need the above)

# -- a blend of the above ---------------------------------------------------------------------

MEMBERS: dict[str, tuple[type[Method], dict[str, Any]]] = {
    variant: (cls, params) for cls in (Biases, ItemKNN, MatrixFactorization, NeuralCF, AutoRec, SVDpp)
    for variant, params in cls.all_variants().items()}


class Blend(Method):
    name = "blend"
    kinds = ("rating",)
    description = "a linear blend of CF models, its weights fitted on the valid part (Netflix-prize style)"
    defaults = {
        # variants of this package, each with its own defaults; chosen by the blend's RMSE in 10-fold
        # cross-validation inside the valid parts of ml-100k's u1..u5 (never their test rows):
        # these 0.8587, with mf 0.8588, all five 0.8590, mf + item-knn + ncf (the former) 0.8786
        "members": ("item-knn", "autorec", "svdpp"),
        "member_params": None,                # {variant: {param: value}} on top of those
        "ridge": 1.0,                         # L2 penalty of the blend weights (valid has few rows)
    }
    variants = {"blend": {}}

    @classmethod
    def depends_on(cls, params: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        """Every member fit is part of a blend's identity."""
        extra = dict(params.get("member_params") or {})
        return [(m, dict(extra.get(m, {}))) for m in params.get("members", ())]

    def fit(self, train: Part, valid: Part | None, ctx: FitContext) -> "Blend":
        p = self.params
        if valid is None or not len(valid):
            raise ValueError(f"{self.name}: the blend weights are fitted on the valid part; this split has none")
        unknown = [m for m in p["members"] if m not in MEMBERS]
        if unknown:
            raise ValueError(f"{self.name}: unknown members {unknown}; choose from {sorted(MEMBERS)}")
        extra = dict(p["member_params"] or {})
        self.members_ = []
        for variant in p["members"]:
            cls, params = MEMBERS[variant]
            t0 = time.perf_counter()
            self.members_.append(cls(**{**params, **extra.get(variant, {})}).fit(train, valid, ctx))
            ctx.info.setdefault("member_fit_seconds", {})[variant] = round(time.perf_counter() - t0, 3)
        P = self._stack(valid)
        y = np.asarray(valid.y, np.float64)
        centre = P.mean(0)
        A = P - centre
        w = np.linalg.solve(A.T @ A + p["ridge"] * np.eye(A.shape[1]), A.T @ (y - y.mean()))
        self.weights_, self.intercept_ = w, float(y.mean() - centre @ w)
        self.range_ = rating_range(train.y)
        ctx.info["blend_weights"] = dict(zip(p["members"], np.round(w, 4).tolist()))
        return self

    def _stack(self, part: Part) -> np.ndarray:
        return np.column_stack([m.predict(part) for m in self.members_])

    def predict(self, data: Part) -> np.ndarray:
        if not hasattr(self, "weights_"):
            raise NotFittedError(f"{self.name}: predict called before fit")
        return np.clip(self._stack(data) @ self.weights_ + self.intercept_, *self.range_)
