"""The torch modules of ``mf``, ``ncf``, ``svdpp`` and ``autorec``, and the CPU thread scope they train in.

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


class ImplicitDotBias(DotBias):
    """SVD++ (Koren 2008): ``DotBias`` whose user vector is ``p_u + |N(u)|^-1/2 sum_{j in N(u)} y_j``,
    ``N(u)`` the items user u rated in train, given as a CSR (``indptr``, ``indices``)."""

    def __init__(self, n_users: int, n_items: int, k: int, y_range: tuple[float, float],
                 indptr: np.ndarray, indices: np.ndarray):
        super().__init__(n_users, n_items, k, y_range)
        self.implicit = nn.EmbeddingBag(n_items, k, mode="sum")
        nn.init.normal_(self.implicit.weight, 0.0, 0.01)
        indptr = torch.as_tensor(np.asarray(indptr, np.int64))
        self.register_buffer("indptr", indptr)
        self.register_buffer("indices", torch.as_tensor(np.asarray(indices, np.int64)))
        self.register_buffer("norm", (indptr[1:] - indptr[:-1]).clamp(min=1).float().rsqrt())

    def implicit_vectors(self, users: torch.Tensor) -> torch.Tensor:
        """``|N(u)|^-1/2 sum_{j in N(u)} y_j`` for each of ``users`` (one bag per user)."""
        starts = self.indptr[users]
        lens = self.indptr[users + 1] - starts
        offsets = torch.cumsum(lens, 0) - lens
        total = int(lens.sum())  # users' bags laid end to end: position -> its entry in ``indices``
        pos = torch.arange(total, device=users.device) + torch.repeat_interleave(starts - offsets, lens,
                                                                                 output_size=total)
        return self.implicit(self.indices[pos], offsets) * self.norm[users, None]

    def user_vectors(self, u: torch.Tensor) -> torch.Tensor:
        """``p_u`` plus the implicit part, each distinct user's bag summed once."""
        users, inverse = torch.unique(u, return_inverse=True)
        return self.user(u) + self.implicit_vectors(users)[inverse]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u, i = x[:, 0], x[:, 1]
        dot = (self.user_vectors(u) * self.item(i)).sum(1)
        z = dot + self.user_bias(u).squeeze(1) + self.item_bias(i).squeeze(1)
        lo, hi = self.y_range
        return torch.sigmoid(z) * (hi - lo) + lo

    def vectors(self) -> dict[str, np.ndarray]:
        """As ``DotBias``, the user factors with their implicit part."""
        with torch.no_grad():
            users = torch.arange(self.user.num_embeddings, device=self.user.weight.device)
            full = self.user_vectors(users)
        return {"user": torch.cat([full, self.user_bias.weight], 1).detach().float().cpu().numpy(),
                "item": DotBias.vectors(self)["item"]}


class ItemAutoEncoder(nn.Module):
    """I-AutoRec (Sedhain et al. 2015): an item's ratings by every user (0 where unobserved)
    through one sigmoid hidden layer and an identity decoder back to every user."""

    def __init__(self, n_users: int, hidden: int, dropout: float = 0.0):
        super().__init__()
        self.encoder, self.decoder = nn.Linear(n_users, hidden), nn.Linear(hidden, n_users)
        self.drop = nn.Dropout(dropout)

    def forward(self, r: torch.Tensor) -> torch.Tensor:
        return self.decoder(torch.sigmoid(self.encoder(self.drop(r))))


def observed_sse(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """AutoRec's loss: squared errors on the observed entries only (NaN: unobserved), summed per
    row and averaged over the batch's rows (the paper's per-item sum)."""
    seen = ~torch.isnan(target)
    err = torch.where(seen, out - torch.nan_to_num(target), torch.zeros((), dtype=out.dtype, device=out.device))
    return err.pow(2).sum() / max(len(target), 1)


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
