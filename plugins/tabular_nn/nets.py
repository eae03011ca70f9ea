"""The networks of the tabular_nn plugin (torch imported here, so the plugin's card is not).

One-hot first layer (``OneHotLinear``), embedding stem (``EmbeddingStem``), the hidden
``Block`` and the whole ``TabularNet``; see the package's docstring for the families.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class OneHotLinear(nn.Module):
    """``W^T onehot(x_cat) + V x_cont + b`` with W stored as (total levels, out).

    ``embedding``: sum of one W row per column (``F.embedding_bag``); ``dense``: the one-hot
    matrix times W. Same parameters, same result; only the speed differs.
    """

    def __init__(self, cards: list[int], n_cont: int, out: int, impl: str = "embedding"):
        super().__init__()
        if impl not in ("embedding", "dense"):
            raise ValueError(f"onehot_impl must be 'embedding' or 'dense', not {impl!r}")
        self.impl = impl
        self.register_buffer("offsets", torch.tensor(np.cumsum([0] + list(cards[:-1])), dtype=torch.long),
                             persistent=False)
        self.total = int(sum(cards))
        self.weight = nn.Parameter(torch.empty(self.total, out))
        self.cont = nn.Linear(n_cont, out, bias=False) if n_cont else None
        self.bias = nn.Parameter(torch.zeros(out))
        self.n_active = len(cards) + n_cont
        self.reset_parameters("kaiming")

    def reset_parameters(self, scheme: str) -> None:
        """kaiming: He normal with the fan-in a one-hot row really has (one 1 per column);
        default: nn.Linear's init for the full one-hot width."""
        with torch.no_grad():
            if scheme == "kaiming":
                std = math.sqrt(2.0 / max(1, self.n_active))
                self.weight.normal_(0, std)
                if self.cont is not None:
                    self.cont.weight.normal_(0, std)
                self.bias.zero_()
            else:
                bound = 1 / math.sqrt(max(1, self.total + (self.cont.in_features if self.cont else 0)))
                for p in (self.weight, self.bias, *((self.cont.weight,) if self.cont else ())):
                    p.uniform_(-bound, bound)

    def forward(self, x_cat: torch.Tensor, x_cont: torch.Tensor) -> torch.Tensor:
        if x_cat.shape[1] == 0:
            h = self.bias.expand(len(x_cat), -1)
        elif self.impl == "embedding":
            h = F.embedding_bag(x_cat + self.offsets, self.weight, mode="sum") + self.bias
        else:
            onehot = torch.zeros(len(x_cat), self.total, device=x_cat.device, dtype=self.weight.dtype)
            onehot.scatter_(1, x_cat + self.offsets, 1.0)
            h = torch.addmm(self.bias, onehot, self.weight)
        return h + self.cont(x_cont) if self.cont is not None else h


class EmbeddingStem(nn.Module):
    """One embedding per categorical column, concatenated with the continuous columns."""

    def __init__(self, cards: list[int], dims: list[int], n_cont: int, emb_dropout: float = 0.0):
        super().__init__()
        self.embeds = nn.ModuleList(nn.Embedding(c, d) for c, d in zip(cards, dims))
        self.drop = nn.Dropout(emb_dropout) if emb_dropout else None
        self.n_cont = n_cont
        self.width = int(sum(dims)) + n_cont

    def reset_parameters(self, scheme: str) -> None:
        """kaiming: small normal embeddings (std 0.01, fastai's choice); default: N(0, 1)."""
        for e in self.embeds:
            if scheme == "kaiming":
                nn.init.trunc_normal_(e.weight, std=0.01, a=-0.02, b=0.02)
            else:
                e.reset_parameters()

    def forward(self, x_cat: torch.Tensor, x_cont: torch.Tensor) -> torch.Tensor:
        parts = [e(x_cat[:, i]) for i, e in enumerate(self.embeds)]
        h = torch.cat(parts, 1) if parts else x_cont[:, :0]
        if self.drop is not None:
            h = self.drop(h)
        return torch.cat([h, x_cont], 1) if self.n_cont else h


class Block(nn.Module):
    """``linear -> ReLU -> [batchnorm] -> [dropout]``, plus the input when ``residual``."""

    def __init__(self, linear: nn.Module, width: int, dropout: float, batchnorm: bool, residual: bool):
        super().__init__()
        self.linear = linear
        self.bn = nn.BatchNorm1d(width) if batchnorm else None
        self.drop = nn.Dropout(dropout) if dropout else None
        self.residual = residual

    def forward(self, *x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.linear(*x))
        if self.bn is not None:
            h = self.bn(h)
        if self.drop is not None:
            h = self.drop(h)
        return x[0] + h if self.residual else h


class TabularNet(nn.Module):
    """``stem(x_cat, x_cont)`` -> hidden blocks -> one linear head (-> sigmoid y-range).

    For the one-hot family the stem is the first hidden layer itself (``OneHotLinear``);
    for ``ee`` it is the embedding concatenation, followed by a dense first layer.
    """

    def __init__(self, stem: nn.Module, first: Block | None, blocks: list[Block], width: int, out: int,
                 y_range: tuple[float, float] | None):
        super().__init__()
        self.stem, self.first = stem, first
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Linear(width, max(out, 1))
        self.regression = out == 0  # out: number of classes, 0 for one regression output
        self.y_range = y_range

    def forward(self, x_cat: torch.Tensor, x_cont: torch.Tensor) -> torch.Tensor:
        h = self.stem(x_cat, x_cont)
        if self.first is not None:
            h = self.first(h)
        for b in self.blocks:
            h = b(h)
        with torch.autocast(h.device.type, enabled=False):  # a bf16 output would round predictions
            z = self.head(h.float())
        if self.regression:
            z = z.squeeze(1)
            if self.y_range is not None:
                lo, hi = self.y_range
                z = lo + (hi - lo) * torch.sigmoid(z)
        return z


def hidden_blocks(widths: list[int], width: int, p: dict[str, Any]) -> tuple[list[Block], int]:
    """The hidden layers after the first, one per width; a skip where the width stays the same."""
    out = []
    for h in widths:
        out.append(Block(nn.Linear(width, h), h, p["dropout"], p["batchnorm"], p["residual"] and h == width))
        width = h
    return out, width

