"""The torch modules of ``mf`` and ``ncf``, and the CPU thread scope they train in.

A module of its own so that loading the collab cards (listing, tables) does not import torch:
the methods import it when they build a net.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn


class DotBias(nn.Module):
    """``sigmoid(u . v + b_u + b_v)`` stretched over the y-range (fastai's EmbeddingDotBias)."""

    def __init__(self, n_users: int, n_items: int, k: int, y_range: tuple[float, float]):
        super().__init__()
        self.user, self.item = nn.Embedding(n_users, k), nn.Embedding(n_items, k)
        self.user_bias, self.item_bias = nn.Embedding(n_users, 1), nn.Embedding(n_items, 1)
        for e in (self.user, self.item, self.user_bias, self.item_bias):
            nn.init.normal_(e.weight, 0.0, 0.01)
        self.y_range = y_range

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u, i = x[:, 0], x[:, 1]
        dot = (self.user(u) * self.item(i)).sum(1)
        z = dot + self.user_bias(u).squeeze(1) + self.item_bias(i).squeeze(1)
        lo, hi = self.y_range
        return torch.sigmoid(z) * (hi - lo) + lo

    def vectors(self) -> dict[str, np.ndarray]:
        """Each user's and item's factors with its bias as the last column."""
        def cat(e, b):
            return torch.cat([e.weight, b.weight], 1).detach().float().cpu().numpy()
        return {"user": cat(self.user, self.user_bias), "item": cat(self.item, self.item_bias)}


class ConcatMLP(nn.Module):
    """User and item embeddings, concatenated, through ReLU layers (fastai's EmbeddingNN)."""

    def __init__(self, n_users: int, n_items: int, k_user: int, k_item: int, hidden: list[int],
                 dropout: float, batchnorm: bool, emb_dropout: float, y_range: tuple[float, float]):
        super().__init__()
        self.user, self.item = nn.Embedding(n_users, k_user), nn.Embedding(n_items, k_item)
        for e in (self.user, self.item):
            nn.init.normal_(e.weight, 0.0, 0.01)
        self.emb_drop = nn.Dropout(emb_dropout)
        layers: list[nn.Module] = []
        width = k_user + k_item
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            if batchnorm:
                layers.append(nn.BatchNorm1d(h))
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = h
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, 1)
        self.y_range = y_range

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.emb_drop(torch.cat([self.user(x[:, 0]), self.item(x[:, 1])], 1))
        lo, hi = self.y_range
        return torch.sigmoid(self.head(self.body(h)).squeeze(1)) * (hi - lo) + lo

    def vectors(self) -> dict[str, np.ndarray]:
        return {"user": self.user.weight.detach().float().cpu().numpy(),
                "item": self.item.weight.detach().float().cpu().numpy()}


class torch_threads:
    """Run a block with ``n`` torch intra-op threads (None: leave them), then restore the count."""

    def __init__(self, n: int | None):
        self.n = n

    def __enter__(self):
        self.before = torch.get_num_threads()
        if self.n:
            torch.set_num_threads(int(self.n))

    def __exit__(self, *exc):
        torch.set_num_threads(self.before)
