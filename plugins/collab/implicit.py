"""Two stronger CF cards, both trained by the shared ``bench.nn`` loop.

- ``autorec``: item-based AutoRec (I-AutoRec, Sedhain et al. 2015). Each item is the vector of
  its ratings by every user; one sigmoid hidden layer and an identity decoder reconstruct it,
  the loss counts the observed entries only, and the prediction for (u, i) is item i's
  reconstruction at user u. Batches are items (rows of a dense item x user float32 matrix).
- ``svdpp``: SVD++ (Koren 2008), ``mu + b_u + b_i + q_i . (p_u + |N(u)|^-1/2 sum_{j in N(u)} y_j)``
  with N(u) the items u rated in train: ``mf`` with each user's implicit feedback, summed per
  batch by an ``EmbeddingBag`` over the CSR of the users' items.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from bench import FitContext, Part

from . import EMBEDDING_DEFAULTS, EmbeddingCF, ids, rating_range
from .baselines import fit_biases


def check_dense_memory(name: str, rows: int, cols: int, copies: int, limit_gb: float | None) -> None:
    """Refuse, with the figures, ``copies`` dense float32 rows x cols matrices bigger than the
    memory they may use (a clear error instead of an OOM kill)."""
    need = copies * rows * cols * 4 / 2**30
    if limit_gb is None:
        import psutil

        limit_gb = psutil.virtual_memory().available / 2**30
        have = f"{limit_gb:.2f} GB available (psutil.virtual_memory().available)"
    else:
        have = f"max_memory_gb = {limit_gb}"
    if need > limit_gb:
        raise MemoryError(f"{name}: {rows:,} items x {cols:,} users need {copies} dense float32 matrices, "
                          f"{need:.2f} GB, but there is {have}; free memory, keep fewer users or items, "
                          f"or set the parameter max_memory_gb (GB) to allow more")


class AutoRec(EmbeddingCF):
    name = "autorec"
    description = "item-based AutoRec: each item's ratings through a 1-hidden-layer autoencoder (I-AutoRec)"
    # hidden 500, a sigmoid encoder and an identity decoder are the paper's. The rest was chosen by
    # the mean valid RMSE over ml-100k's folds u1..u5 (never their test rows): weight decay (L2,
    # ~ the paper's lambda / n_items, the loss being per item) 0.1 -> 0.8765, 0.15 -> 0.8761; with
    # input dropout 0.2 -> 0.8735, 0.4 -> 0.8722, 0.6 -> 0.8731; dropout 0.5 with wd 0.03 -> 0.8735,
    # 0.05 -> 0.8711 (these defaults; 80 epochs at wd 0.1: 0.8711 too, 30 epochs: 0.8759, lr 2e-3:
    # 0.8743). Without dropout, weight decay 1e-3 over-fits after ~20 epochs (u1: 0.91 -> 1.05).
    defaults = {
        "hidden": 500,
        "epochs": 50,
        "batch_size": 32,         # items per step
        "optimizer": "adam",
        "lr": 1e-3,
        "weight_decay": 0.05,     # L2 on the two weight matrices (Adam's, coupled: the paper's penalty)
        "schedule": "onecycle",
        "dropout": 0.5,           # on the input ratings, while training (0: the paper's AutoRec)
        "ensemble": 1,
        "amp": False,
        "reg_user": 15.0,         # the fallback for unseen users / items: ``bias``'s baseline
        "reg_item": 10.0,
        "max_memory_gb": None,    # the dense item x user matrices may use this much; None: what is free
        "train_options": None,
        "cpu_threads": 1,
    }
    variants = {"autorec": {}}
    test_params = {"epochs": 2, "hidden": 8}
    copies = 5  # dense item x user matrices alive at once: inputs, targets, their permuted copies, outputs

    def fit(self, train: Part, valid: Part | None, ctx: FitContext) -> "AutoRec":
        import torch
        from scipy import sparse

        from bench import nn as bnn

        from .nets import ItemAutoEncoder, observed_sse

        p = self.params
        self.check_kind(train)
        u, i, nu, ni = ids(train.X, train.schema)
        check_dense_memory(self.name, ni, nu, self.copies, p["max_memory_gb"])
        r = np.asarray(train.y, np.float64)
        self.baseline_ = fit_biases(u, i, r, nu, ni, p["reg_user"], p["reg_item"], 10)
        self.range_ = rating_range(r)
        self.seen_user_ = np.bincount(u, minlength=nu) > 0
        self.seen_item_ = np.bincount(i, minlength=ni) > 0
        target = np.full((ni, nu), np.nan, np.float32)
        target[i, u] = r  # a repeated (user, item) keeps its last rating
        inputs = np.nan_to_num(target, nan=0.0)
        self.ratings_ = sparse.csr_matrix(inputs)  # the items' input rows, kept for predict
        device = bnn.resolve_device(ctx.device)
        x = torch.from_numpy(inputs)
        valid_data = metric = None
        if valid is not None and len(valid):
            vu, vi, _, _ = ids(valid.X, valid.schema)
            base = torch.from_numpy(self.baseline(vu, vi).astype(np.float32))
            known = torch.from_numpy(self.seen_user_[vu] & self.seen_item_[vi])
            rows, cols = torch.tensor(vi), torch.tensor(vu)  # copies: the parts' arrays are read-only
            lo, hi = self.range_

            def metric(out, t):  # valid RMSE of what predict gives: all items' reconstructions, read at (i, u)
                got = torch.where(known.to(out.device), out[rows, cols].float(), base.to(out.device))
                return float(torch.sqrt(((got.clamp(lo, hi) - t.float()) ** 2).mean()))

            valid_data = ((x,), torch.from_numpy(np.asarray(valid.y, np.float32)))
        cfg = self.train_config(device, restore_best=False, drop_last=False)
        results = self.fit_members(lambda: ItemAutoEncoder(nu, int(p["hidden"]), float(p["dropout"])),
                                   ((x,), torch.from_numpy(target)), cfg, ctx, device, valid=valid_data,
                                   loss_fn=observed_sse, metric=metric, metric_name="valid_rmse")
        ctx.info.update({"nn_fits": self.member_fits(results), "device": str(device),
                         "n_parameters": self.n_parameters()})
        return self

    def baseline(self, u: np.ndarray, i: np.ndarray) -> np.ndarray:
        mu, bu, bi = self.baseline_
        return mu + bu[u] + bi[i]

    def predict(self, data: Part) -> np.ndarray:
        import torch

        from bench import nn as bnn

        self.check_fitted()
        u, i, _, _ = ids(data.X, data.schema)
        out = self.baseline(u, i)
        known = self.seen_user_[u] & self.seen_item_[i]
        items, row = np.unique(i[known], return_inverse=True)
        if len(items):
            x = torch.from_numpy(self.ratings_[items].toarray())
            rec = np.mean([bnn.predict(m, (x,), 4096, amp=bool(self.params["amp"])).cpu().numpy()
                           for m in self.members_], 0)
            out[known] = rec[row, u[known]]
        return np.clip(out, *self.range_)

    def embeddings(self) -> dict[str, np.ndarray]:
        raise NotImplementedError(f"{self.name} learns no user or item vectors; for encoding='ee' "
                                  f"set ee_variant to mf, ncf or svdpp")


class SVDpp(EmbeddingCF):
    name = "svdpp"
    description = "SVD++: mf whose user vector adds the normalised sum of implicit vectors of the items they rated"
    # mf's recipe (batch 256, AdamW 1e-2, one cycle, wd 0.4), the implicit vectors at a tenth of
    # the lr. Chosen by the mean valid RMSE over ml-100k's folds u1..u5 (never their test rows;
    # mf: 0.8921): implicit_lr_mult 0.03 -> 0.8840, 0.1 -> 0.8837, 0.3 -> 0.8870 (1, i.e. none:
    # u1 0.9079 vs 0.9009 at 0.1); at 0.1, weight decay 0.3 -> 0.8875, 0.6 -> 0.8862, 7 epochs -> 0.8869.
    defaults = {**EMBEDDING_DEFAULTS, "n_factors": 50, "batch_size": 256, "lr": 1e-2, "weight_decay": 0.4,
                "wd_reference_rows": 76_000,  # mf's decay, scaled as mf's on larger data
                "implicit_lr_mult": 0.1}  # the y_j's lr (and so their decoupled decay) x this
    variants = {"svdpp": {}}

    def train_config(self, device: Any, **fields: Any) -> Any:
        """The embedding recipe, the implicit vectors at their own lr (``lr_mult`` of their name)."""
        mult = {"implicit": float(self.params["implicit_lr_mult"])}
        return super().train_config(device, lr_mult=mult, **fields)

    def fit(self, train: Part, valid: Part | None, ctx: FitContext) -> "SVDpp":
        u, i, nu, _ = ids(train.X, train.schema)
        order = np.argsort(u, kind="stable")
        self._user_items = (np.concatenate([[0], np.cumsum(np.bincount(u, minlength=nu))]), i[order])
        self.range_ = rating_range(np.asarray(train.y))
        try:
            return super().fit(train, valid, ctx)
        finally:
            del self._user_items  # the nets keep it as buffers

    def predict(self, data: Part) -> np.ndarray:
        """The nets' mean, clipped to the train ratings' range (the sigmoid's reaches past it)."""
        return np.clip(super().predict(data), *self.range_)

    def _network(self, n_users: int, n_items: int, y_range: tuple[float, float]) -> Any:
        from .nets import ImplicitDotBias

        return ImplicitDotBias(n_users, n_items, int(self.params["n_factors"]), y_range, *self._user_items)
