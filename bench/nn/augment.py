"""Batched image augmentation on the device: pad + random crop and horizontal flip, seeded.

The standard CIFAR recipe (He et al. 2016: pad 4 with zeros, random 32x32 crop, random flip)
applied to a whole (N, C, H, W) tensor at once, any dtype (uint8 images stay uint8), with the
random draws from a ``torch.Generator`` on the tensor's device: the same generator state gives
the same augmented batch. No per-image Python loop: the crop is one gather with per-image
row and column offsets.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


def random_crop(x: Tensor, pad: int, generator: torch.Generator | None = None) -> Tensor:
    """Zero-pad ``pad`` pixels on every side, then cut an (H, W) window at a random offset per image."""
    if pad <= 0:
        return x
    n, c, h, w = x.shape
    padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=generator, device=x.device)
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=generator, device=x.device)
    rows = (dy[:, None] + torch.arange(h, device=x.device))[:, None, :, None]  # (n, 1, h, 1)
    cols = (dx[:, None] + torch.arange(w, device=x.device))[:, None, None, :]  # (n, 1, 1, w)
    index = torch.arange(n, device=x.device)[:, None, None, None]
    chan = torch.arange(c, device=x.device)[None, :, None, None]
    return padded[index, chan, rows, cols]


def random_flip(x: Tensor, generator: torch.Generator | None = None, p: float = 0.5) -> Tensor:
    """Mirror each image left-right with probability ``p``."""
    flip = torch.rand(len(x), generator=generator, device=x.device) < p
    return torch.where(flip[:, None, None, None], x.flip(3), x)


@dataclass(frozen=True)
class CropFlip:
    """The augmentation as a picklable callable ``(x, generator) -> x`` for ``bench.nn.fit``."""

    pad: int = 4
    flip: bool = True

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        if x.ndim != 4:
            raise ValueError(f"CropFlip expects images (N, C, H, W), got shape {tuple(x.shape)}")
        x = random_crop(x, self.pad, generator)
        return random_flip(x, generator) if self.flip else x
