"""Mixup (Zhang, Cisse, Dauphin, Lopez-Paz 2018) for ``bench.nn.fit``: train on convex combinations
of pairs of examples and of their labels.

``bench.nn.fit`` augments the inputs of a whole epoch and never sees a batch's labels, so mixup
lives in two pieces that share one :class:`Mixup` state: a wrapper module (:meth:`Mixup.wrap`)
that, in train mode only, mixes each batch with a shuffled copy of itself,
``lam * x + (1 - lam) * x[perm]`` with ``lam ~ Beta(alpha, alpha)`` (one per batch, as in the paper),
and remembers ``(perm, lam)``; and a loss (:meth:`Mixup.loss`) that reads them, ``lam * loss(out, y)
+ (1 - lam) * loss(out, y[perm])``. The loop calls forward then the loss every step. In eval mode
(valid scoring, predict) the wrapper is the bare network and the loss the plain one. The draws are
seeded: ``lam`` from a numpy generator, ``perm`` from a torch generator on the batch's device.
After training, keep ``wrapper.net`` (it pickles without the state).
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch
from torch import Tensor, nn

LossFn = Callable[[Tensor, Tensor], Tensor]


class Mixup:
    """The pairing and mixing weight of the last training batch, shared by the wrapper and the loss."""

    def __init__(self, alpha: float, seed: int = 0):
        if not alpha > 0:
            raise ValueError(f"mixup alpha must be > 0 (0 turns mixup off: do not wrap), not {alpha!r}")
        self.alpha, self.seed = float(alpha), int(seed)
        self._rng = np.random.default_rng(self.seed)
        self._gen: torch.Generator | None = None
        self.pairing: tuple[Tensor, float] | None = None  # (perm, lam) of the batch just forwarded

    def _generator(self, device: torch.device) -> torch.Generator:
        if self._gen is None or self._gen.device != device:
            self._gen = torch.Generator(device=device)
            self._gen.manual_seed(self.seed)
        return self._gen

    def mix(self, x: Tensor) -> Tensor:
        """A mixed float batch; records its pairing for the loss."""
        lam = float(self._rng.beta(self.alpha, self.alpha))
        perm = torch.randperm(len(x), generator=self._generator(x.device), device=x.device)
        xf = x.float()
        self.pairing = (perm, lam)
        return lam * xf + (1.0 - lam) * xf.index_select(0, perm)

    def wrap(self, net: nn.Module) -> "MixupNet":
        return MixupNet(net, self)

    def loss(self, base: LossFn) -> "MixupLoss":
        return MixupLoss(base, self)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_gen": None, "pairing": None}  # a generator does not pickle everywhere


class MixupNet(nn.Module):
    """``net`` whose training batches are mixed (first input only); in eval mode just ``net``."""

    def __init__(self, net: nn.Module, state: Mixup):
        super().__init__()
        self.net = net
        self.state = state

    def forward(self, x: Tensor, *rest: Tensor) -> Tensor:
        if not self.training:
            self.state.pairing = None
            return self.net(x, *rest)
        return self.net(self.state.mix(x), *rest)


class MixupLoss:
    """The loss of a mixed batch: the two labels' losses weighted by ``lam``; the plain loss for a
    batch that was not mixed (eval mode). Each pairing is used once."""

    def __init__(self, base: LossFn, state: Mixup):
        self.base, self.state = base, state

    def __call__(self, out: Tensor, target: Tensor) -> Tensor:
        pairing, self.state.pairing = self.state.pairing, None
        if pairing is None:
            return self.base(out, target)
        perm, lam = pairing
        if len(perm) != len(target):
            raise ValueError(f"mixup: the loss got {len(target)} targets for a mixed batch of {len(perm)} "
                             "(call forward, then the loss, once per step)")
        return lam * self.base(out, target) + (1.0 - lam) * self.base(out, target.index_select(0, perm))


__all__ = ["Mixup", "MixupLoss", "MixupNet"]
