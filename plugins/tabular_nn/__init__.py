"""Tabular neural networks: the one-hot MLP family and the entity-embedding (``ee``) family.

Both are the network of Guo & Berkhahn (2016), "Entity Embeddings of Categorical Variables":
dense 1000 -> 500 ReLU layers and one output. They differ in how categorical columns enter:

- ``mlp``: each column one-hot encoded. The first layer is computed as a sum of weight rows
  (``F.embedding_bag``), which is exactly a one-hot matmul without the zeros;
  ``onehot_impl="dense"`` builds the one-hot matrix to compare speed.
- ``ee``: one learned ``nn.Embedding`` per column, concatenated with the continuous
  columns. Sizes: fastai's rule ``min(600, round(1.6 * card**0.56))``; ``emb_sizes="paper"``
  uses the paper's Rossmann sizes for the columns it names; a dict overrides per column.
  ``embeddings()`` returns the learned matrices for the "with EE" baselines.

Variants: ``-dropout`` (dropout after each hidden layer), ``-bn`` (batchnorm after each
ReLU), ``resmlp`` / ``ee-res`` (a stem to width 512, then three 512-wide layers with identity
skips ``x + block(x)``), ``ee-1cycle`` (batchnorm, embedding dropout, batch 1024, AdamW with a
one-cycle schedule: faster and better than the paper's recipe).
Discriminative learning rates: ``lr_mult={"stem.embeds": 3.0}`` (ee embeddings) or
``{"stem.linear": ...}`` (the one-hot first layer).

Regression and rating targets: log (when the task hints ``target_transform="log"``, or
``target_transform="log"``) then standardised with the train mean and std; the output is a
sigmoid squashed into the train range widened by ``y_range_margin`` of its span (fastai's
``y_range``, which works better than the paper's sigmoid on ``log y / max log y`` because the
train extremes are not pinned to the sigmoid's asymptotes). The default loss on a log target
is L1, since |log p - log y| ~ |p - y| / y is the absolute percentage error MAPE measures (the
paper's choice too); MSE otherwise. Classification: cross-entropy, argmax labels.

Training is the shared ``bench.nn`` loop: paper recipe by default (batch 128, Adam 1e-3,
constant lr; 10 epochs on Rossmann), validation MAPE/RMSE/accuracy after each epoch, best epoch
kept. ``epochs="auto"`` sizes the run by the data: enough epochs to see ~2M samples (10 on
Rossmann's 200,000 train rows, 100 on 20,000), 10 at least and 200 at most, with early stopping
after 10 epochs without a better valid score, so small tables train long enough and stop on
their own.
``ensemble=k`` averages k nets with different seeds (the paper averages 5) on the original
scale.

This module is the plugin's card: it imports no torch or pandas, so listing plugins and
rendering tables stay light; the networks live in ``nets`` (imported by fit and predict).
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.methods.torch import TorchMethod
from bench.core.metrics import get_metric

if TYPE_CHECKING:
    import pandas as pd
    import torch
    from torch import nn

    from .nets import Block, TabularNet

# The network classes, importable from the package as before (tests, bench.perf, older pickles):
# resolved from ``nets`` on first use, so importing the card does not import torch.
NET_NAMES = ("OneHotLinear", "EmbeddingStem", "Block", "TabularNet")


def __getattr__(name: str) -> Any:
    if name in NET_NAMES:
        from . import nets
        return getattr(nets, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

# Embedding sizes of the paper's Rossmann network (its public code), by bench's column names.
# Promo enters that network as one plain input; a 1-d embedding is the same thing.
PAPER_EMB_SIZES = {"store": 10, "day_of_week": 6, "promo": 1, "year": 2, "month": 6, "day": 10, "state": 6}

COMMON_DEFAULTS: dict[str, Any] = {
    # network
    "hidden": (1000, 500),  # widths of the hidden layers (paper: 1000, 500)
    "dropout": 0.0,  # after every hidden layer
    "batchnorm": False,  # after every hidden ReLU
    "residual": False,  # identity skips around hidden layers of equal width
    "init": "kaiming",  # kaiming (He normal for the ReLU layers) | default (PyTorch's own)
    # target
    "target_transform": "auto",  # auto (the task's hint) | log | none
    "y_range": True,  # sigmoid output over the (widened) train range of the scaled target
    "y_range_margin": 0.1,
    "loss": "auto",  # auto (l1 on a log target, else mse) | l1 | mse | huber
    # training (paper recipe)
    "epochs": "auto",  # or a number; auto: ~2M samples seen (auto_epochs), 10..200 epochs
    "batch_size": 128,
    "optimizer": "adam",  # sgd | rmsprop | adam | adamw
    "lr": 1e-3,
    "weight_decay": 0.0,
    "momentum": 0.9,  # sgd / rmsprop
    "schedule": "constant",  # constant | step | cosine | onecycle
    "lr_mult": None,  # {param-name prefix: lr multiplier}, e.g. {"embeds": 3.0}
    "valid_metric": "auto",  # auto (mape on a log target, rmse, accuracy) | a bench metric name
    "patience": 10,  # early stopping on the valid metric (epochs without improvement); None: never
    "restore_best": True,  # keep the weights of the best valid epoch
    "ensemble": 1,  # nets averaged (paper: 5)
    "amp": True,  # bf16 autocast on CUDA
    "eval_batch_size": 8192,
    "train_options": None,  # any other bench.nn.TrainConfig field, e.g. {"pct_start": 0.3}
}


AUTO_SAMPLES, AUTO_MIN_EPOCHS, AUTO_MAX_EPOCHS = 2_000_000, 10, 200


def auto_epochs(epochs: int | str, n_rows: int) -> int:
    """``epochs``, or for "auto" the epochs that show the net ~2M samples, within 10..200: the
    paper's 10 epochs of Rossmann (200,000 rows) stay, and a table of a few thousand rows gets
    the steps it needs instead of ~700 (early stopping ends it when the valid score stalls)."""
    if epochs != "auto":
        return int(epochs)
    return int(min(AUTO_MAX_EPOCHS, max(AUTO_MIN_EPOCHS, math.ceil(AUTO_SAMPLES / max(n_rows, 1)))))


def fastai_emb_size(card: int) -> int:
    return int(min(600, round(1.6 * card ** 0.56)))


# -- the method families ---------------------------------------------------------------------

class _TabularNN(TorchMethod):
    """Shared fit/predict: encode the table as tensors, fit nets with bench.nn, decode outputs."""

    kinds = ("regression", "classification", "rating")
    budget_share = 0.9  # of ctx.time_budget for training; the rest for predicting with every net
    test_params = {"epochs": 2, "hidden": (32, 32)}  # `bench check`: equal widths keep the skips

    # subclasses build the net
    def _stem(self, cards: list[int], n_cont: int) -> tuple[nn.Module, Block | None, int]:
        raise NotImplementedError

    def _network(self, out: int, y_range) -> TabularNet:
        from torch import nn

        from bench import nn as bnn

        from .nets import EmbeddingStem, OneHotLinear, TabularNet, hidden_blocks

        p = self.params
        hidden = [int(h) for h in p["hidden"]]
        if not hidden:
            raise ValueError("hidden must name at least one layer width")
        stem, first, width = self._stem(self.cards_, len(self.cont_cols_))
        blocks, width = hidden_blocks(hidden[1:], width, p)
        net = TabularNet(stem, first, blocks, width, out, y_range)
        bnn.init_weights(net, p["init"])
        for m in net.modules():  # the layers that know their own init
            if isinstance(m, (OneHotLinear, EmbeddingStem)):
                m.reset_parameters(p["init"])
        if p["init"] == "kaiming":
            # Start every prediction at the train mean (uniform odds for classes), not on the
            # sigmoid's flat tails: the range is set by the extremes and can be lopsided
            # (log sales: a long low tail), so its middle may be far from the mean (z = 0).
            nn.init.zeros_(net.head.weight)
            nn.init.zeros_(net.head.bias)
            if y_range is not None:
                lo, hi = y_range
                q = min(max((0.0 - lo) / (hi - lo), 1e-3), 1 - 1e-3)
                nn.init.constant_(net.head.bias, math.log(q / (1 - q)))
        return net

    # data -> tensors
    def _tensors(self, X: pd.DataFrame) -> tuple[torch.Tensor, torch.Tensor]:
        import torch

        missing = [c for c in self.cat_cols_ + self.cont_cols_ if c not in X.columns]
        if missing:
            raise ValueError(f"{self.name}: the data has no columns {missing}")
        if self.cat_cols_:
            cat = np.stack([X[c].to_numpy(dtype=np.int64) for c in self.cat_cols_], 1)
            bad = (cat < 0) | (cat >= np.asarray(self.cards_))
            if bad.any():
                col = self.cat_cols_[int(np.argwhere(bad)[0][1])]
                raise ValueError(f"{self.name}: column {col!r} has codes outside 0..cardinality-1 "
                                 f"(cardinality {self.cards_[self.cat_cols_.index(col)]} from the schema)")
        else:
            cat = np.zeros((len(X), 0), dtype=np.int64)
        if self.cont_cols_:
            cont = np.stack([X[c].to_numpy(dtype=np.float64) for c in self.cont_cols_], 1)
            cont = (cont - self.cont_mean_) / self.cont_std_
            cont = np.nan_to_num(cont, nan=0.0)  # a missing value becomes the train mean
        else:
            cont = np.zeros((len(X), 0))
        return torch.from_numpy(cat), torch.from_numpy(cont.astype(np.float32))

    def _encode_y(self, y: np.ndarray) -> np.ndarray:
        t = np.log(y) if self.log_target_ else y.astype(np.float64)
        return ((t - self.y_mean_) / self.y_std_).astype(np.float32)

    def _decode_y(self, z: np.ndarray) -> np.ndarray:
        t = z.astype(np.float64) * self.y_std_ + self.y_mean_
        return np.exp(t) if self.log_target_ else t

    def fit(self, train, valid, ctx) -> "_TabularNN":
        import pandas as pd
        import torch
        import torch.nn.functional as F

        from bench import nn as bnn

        p = self.params
        self.check_kind(train)
        if not isinstance(train.X, pd.DataFrame):
            raise ValueError(f"{self.name} needs a DataFrame of columns, not {type(train.X).__name__}")
        schema = train.schema
        self.cat_cols_ = list(schema.categorical)
        self.cards_ = [int(schema.categorical[c]) for c in self.cat_cols_]
        self.cont_cols_ = list(schema.continuous)
        if self.cont_cols_:
            cont = train.X[self.cont_cols_].to_numpy(dtype=np.float64)
            self.cont_mean_ = np.nan_to_num(np.nanmean(cont, 0))
            std = np.nan_to_num(np.nanstd(cont, 0))
            self.cont_std_ = np.where(std > 0, std, 1.0)
        self.classify_ = train.kind == "classification"
        y = np.asarray(train.y)
        if self.classify_:
            self.classes_ = np.unique(y)
            out, y_range, loss_name = len(self.classes_), None, "cross_entropy"
            y_t = torch.from_numpy(np.searchsorted(self.classes_, y).astype(np.int64))
        else:
            tt = p["target_transform"]
            if tt not in ("auto", "log", "none"):
                raise ValueError(f"target_transform must be auto, log or none, not {tt!r}")
            self.log_target_ = tt == "log" or (tt == "auto" and train.target_transform == "log")
            if self.log_target_ and np.any(y <= 0):
                raise ValueError(f"{self.name}: a log target needs positive targets; "
                                 "set target_transform='none'")
            t = np.log(y) if self.log_target_ else y.astype(np.float64)
            self.y_mean_, self.y_std_ = float(t.mean()), float(t.std()) or 1.0
            z = self._encode_y(y)
            m = p["y_range_margin"] * float(z.max() - z.min())
            y_range = (float(z.min()) - m, float(z.max()) + m) if p["y_range"] else None
            out = 0  # a regression head: one output, as a vector
            loss_name = p["loss"] if p["loss"] != "auto" else ("l1" if self.log_target_ else "mse")
            y_t = torch.from_numpy(z)
        loss_fn = {"l1": F.l1_loss, "mse": F.mse_loss, "huber": F.smooth_l1_loss,
                   "cross_entropy": F.cross_entropy}.get(loss_name)
        if loss_fn is None:
            raise ValueError(f"unknown loss {loss_name!r}; known: auto, l1, mse, huber")

        device = bnn.resolve_device(ctx.device)
        x_train = self._tensors(train.X)
        valid_data, metric, metric_name, maximize = None, None, "valid_loss", False
        if valid is not None and len(valid):
            # the metric scores against valid.y on the original scale; the target tensor is unused
            valid_data = (self._tensors(valid.X), torch.zeros(len(valid)))
            metric, metric_name, maximize = self._valid_metric(valid, train)

        results = self.fit_members(lambda: self._network(out, y_range), (x_train, y_t),
                                   self.train_config(device, epochs=auto_epochs(p["epochs"], len(y))),
                                   ctx, device, valid=valid_data, loss_fn=loss_fn,
                                   metric=metric, metric_name=metric_name, maximize=maximize)
        self.device_ = str(device)
        ctx.info.update({"nn_fits": self.member_fits(results, metric_name), "device": str(device),
                         "loss": loss_name, "n_parameters": self.n_parameters()})
        return self

    def _valid_metric(self, valid, train):
        """The per-epoch score on valid: on the original scale, as the task's tables score it."""
        name = self.params["valid_metric"]
        if name == "auto":
            name = "accuracy" if self.classify_ else ("mape" if self.log_target_ else "rmse")
        m = get_metric(name)
        y_true = np.asarray(valid.y)
        if self.classify_:
            def score(out: torch.Tensor, _target) -> float:
                return m.fn(y_true, self.classes_[out.argmax(1).cpu().numpy()])
        else:
            def score(out: torch.Tensor, _target) -> float:
                return m.fn(y_true, self._decode_y(out.cpu().numpy()))
        return score, f"valid_{name}", not m.lower_is_better

    def predict(self, data) -> np.ndarray:
        from bench import nn as bnn

        self.check_fitted()
        x = self._tensors(data.X)
        bs, amp = int(self.params["eval_batch_size"]), bool(self.params["amp"])
        outs = [bnn.predict(m, x, bs, amp=amp).cpu().numpy() for m in self.members_]
        if self.classify_:
            probs = np.mean([_softmax(o) for o in outs], 0)
            return self.classes_[probs.argmax(1)]
        return np.mean([self._decode_y(o) for o in outs], 0)


class MLP(_TabularNN):
    """The paper's plain network on one-hot inputs (1000-500 ReLU), with dropout/batchnorm/skips."""

    name = "mlp"
    description = "one-hot MLP 1000-500 (Guo & Berkhahn 2016); dropout, batchnorm, residual variants"
    defaults = {**COMMON_DEFAULTS, "onehot_impl": "embedding"}
    variants = {
        "mlp": {},
        "mlp-dropout": {"dropout": 0.2},
        "mlp-bn": {"batchnorm": True},
        "resmlp": {"residual": True, "hidden": (512, 512, 512, 512)},
    }

    def _stem(self, cards, n_cont):
        from .nets import Block, OneHotLinear

        p = self.params
        width = int(p["hidden"][0])
        first = OneHotLinear(cards, n_cont, width, p["onehot_impl"])
        return Block(first, width, p["dropout"], p["batchnorm"], residual=False), None, width


class EntityEmbeddingNN(_TabularNN):
    """Entity embeddings per categorical column + continuous columns -> dense 1000-500 ReLU net."""

    name = "ee"
    description = "entity-embedding network (Guo & Berkhahn 2016); dropout, batchnorm, residual variants"
    defaults = {**COMMON_DEFAULTS, "emb_sizes": "auto", "emb_dropout": 0.0}
    variants = {
        "ee": {},
        "ee-dropout": {"dropout": 0.1, "emb_dropout": 0.05},
        "ee-bn": {"batchnorm": True},
        "ee-res": {"residual": True, "hidden": (512, 512, 512, 512)},
        # a faster, better recipe (fastai-like) with the paper's embedding sizes where it names the
        # column (small vectors keep the "with EE" baselines fast); Rossmann paper split, seed 0, CPU,
        # fastai sizes: test MAPE 0.098 in 128 s vs 0.104 in 167 s for `ee`
        "ee-1cycle": {"batchnorm": True, "emb_dropout": 0.04, "batch_size": 1024, "schedule": "onecycle",
                      "optimizer": "adamw", "lr": 3e-3, "weight_decay": 0.01, "emb_sizes": "paper"},
    }

    def emb_dims(self, cat_cols: list[str], cards: list[int]) -> list[int]:
        """Embedding width per column: a dict overrides; "paper" names Rossmann's; else fastai's rule."""
        rule = self.params["emb_sizes"]
        if isinstance(rule, str) and rule not in ("auto", "fastai", "paper"):
            raise ValueError(f"emb_sizes must be 'auto', 'paper' or a dict, not {rule!r}")
        given = PAPER_EMB_SIZES if rule == "paper" else (dict(rule) if isinstance(rule, dict) else {})
        return [int(given.get(c, fastai_emb_size(k))) for c, k in zip(cat_cols, cards)]

    def _stem(self, cards, n_cont):
        from torch import nn

        from .nets import Block, EmbeddingStem

        p = self.params
        self.emb_dims_ = self.emb_dims(self.cat_cols_, cards)
        stem = EmbeddingStem(cards, self.emb_dims_, n_cont, p["emb_dropout"])
        width = int(p["hidden"][0])
        first = Block(nn.Linear(stem.width, width), width, p["dropout"], p["batchnorm"],
                      p["residual"] and stem.width == width)
        return stem, first, width

    def embeddings(self) -> dict[str, np.ndarray]:
        """The learned matrices ``{column: (cardinality, dim)}`` (of the first net of an ensemble)."""
        self.check_fitted("embeddings")
        stem = self.members_[0].stem
        return {c: e.weight.detach().float().cpu().numpy().copy()
                for c, e in zip(self.cat_cols_, stem.embeds)}


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)
