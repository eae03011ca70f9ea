"""The networks of the ``cnn`` plugin and the torch-side helpers of its fit and predict.

Kept apart from the cards (``__init__.py``) so that listing the plugins imports no torch: the
cards import this module inside ``fit`` / ``predict`` only. The architectures are described in
the package's docstring.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from bench import nn as bnn


class Normalize(nn.Module):
    """uint8 (or float 0..255) images -> standardised float, with the train part's statistics."""

    def __init__(self, mean: np.ndarray, std: np.ndarray):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x.float() - self.mean) / self.std


def conv_bn(c_in: int, c_out: int, batchnorm: bool, stride: int = 1) -> list[nn.Module]:
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, 3, stride, 1, bias=not batchnorm)]
    return layers + ([nn.BatchNorm2d(c_out)] if batchnorm else [])


class ShortcutA(nn.Module):
    """The paper's option A: identity, or subsample by 2 and pad the new channels with zeros."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.stride, self.extra = stride, c_out - c_in

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride > 1:
            x = x[:, :, ::self.stride, ::self.stride]
        return F.pad(x, (0, 0, 0, 0, 0, self.extra)) if self.extra else x


class Block(nn.Module):
    """conv-bn-relu-[dropout]-conv-bn, + shortcut when ``residual``, then relu."""

    def __init__(self, c_in: int, c_out: int, stride: int, residual: bool, batchnorm: bool, dropout: float):
        super().__init__()
        self.conv1 = nn.Sequential(*conv_bn(c_in, c_out, batchnorm, stride))
        self.drop = nn.Dropout(dropout) if dropout else nn.Identity()
        self.conv2 = nn.Sequential(*conv_bn(c_out, c_out, batchnorm))
        self.shortcut = ShortcutA(c_in, c_out, stride) if residual else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv2(self.drop(F.relu(self.conv1(x))))
        return F.relu(h + self.shortcut(x)) if self.shortcut is not None else F.relu(h)


class CifarNet(nn.Module):
    """He et al.'s CIFAR network: 6n + 2 layers, plain or residual."""

    def __init__(self, norm: Normalize, depth: int, widths: tuple[int, ...], n_classes: int, residual: bool,
                 batchnorm: bool, dropout: float):
        super().__init__()
        if (depth - 2) % 6:
            raise ValueError(f"depth must be 6n + 2 (20, 32, 44, 56, 110), not {depth}")
        n = (depth - 2) // 6
        self.norm = norm
        c_in = norm.mean.shape[1]
        self.stem = nn.Sequential(*conv_bn(c_in, widths[0], batchnorm), nn.ReLU())
        blocks, c = [], widths[0]
        for stage, w in enumerate(widths):
            for i in range(n):
                stride = 2 if stage > 0 and i == 0 else 1
                blocks.append(Block(c, w, stride, residual, batchnorm, dropout))
                c = w
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Linear(c, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.blocks(self.stem(self.norm(x)))
        return self.head(torch.flatten(F.adaptive_avg_pool2d(h, 1), 1))


def zero_residual_branches(net: CifarNet) -> None:
    """Start every block's last conv at zero (residual nets without batchnorm: the sum stays
    bounded with depth)."""
    for block in net.blocks:
        nn.init.zeros_(block.conv2[0].weight)


class Residual(nn.Module):
    def __init__(self, *layers: nn.Module):
        super().__init__()
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class FastResNet(nn.Module):
    """ResNet-9 (Myrtle.ai): prep, [conv-pool-res], [conv-pool], [conv-pool-res], max pool, linear / 8."""

    def __init__(self, norm: Normalize, widths: tuple[int, ...], n_classes: int, batchnorm: bool,
                 dropout: float):
        super().__init__()

        def cbr(c_in: int, c_out: int) -> list[nn.Module]:
            return conv_bn(c_in, c_out, batchnorm) + [nn.ReLU()]

        w0, w1, w2, w3 = widths
        self.norm = norm
        self.layers = nn.Sequential(
            *cbr(norm.mean.shape[1], w0),
            *cbr(w0, w1), nn.MaxPool2d(2, ceil_mode=True), Residual(*cbr(w1, w1), *cbr(w1, w1)),
            *cbr(w1, w2), nn.MaxPool2d(2, ceil_mode=True),
            *cbr(w2, w3), nn.MaxPool2d(2, ceil_mode=True), Residual(*cbr(w3, w3), *cbr(w3, w3)),
            nn.AdaptiveMaxPool2d(1), nn.Flatten())
        self.drop = nn.Dropout(dropout) if dropout else nn.Identity()
        self.head = nn.Linear(w3, n_classes, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.drop(self.layers(self.norm(x)))) * 0.125


# -- fit / predict helpers -----------------------------------------------------------------------

def images_nchw(X: np.ndarray) -> torch.Tensor:
    """(N, H, W, C) uint8 -> an (N, C, H, W) tensor view of a private copy (channels-last strides)."""
    X = np.asarray(X)
    if X.ndim != 4:
        raise ValueError(f"expected images as an (N, H, W, C) array, got shape {X.shape}")
    return torch.from_numpy(np.array(X, copy=True)).permute(0, 3, 1, 2)


def class_indices(y: np.ndarray, classes: np.ndarray) -> torch.Tensor:
    """Labels -> their positions in the sorted ``classes``, as the int64 targets of the loss."""
    return torch.from_numpy(np.searchsorted(classes, y).astype(np.int64))


def channel_stats(x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and standard deviation (at least 1) of (N, C, H, W) images, in float64."""
    pixels = x.double()
    mean = pixels.mean((0, 2, 3)).numpy()
    std = pixels.std((0, 2, 3)).clamp_min(1.0).numpy()
    return mean, std


def train_error(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return (out.argmax(1) != target).float().mean()


def smoothed_cross_entropy(smoothing: float):
    """The training loss: cross-entropy in float32 (under bf16 autocast too), label-smoothed."""

    def loss_fn(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(out.float(), target, label_smoothing=smoothing)

    return loss_fn


def predict_indices(net: nn.Module, x: torch.Tensor, batch_size: int, tta: bool, **kw) -> np.ndarray:
    """The argmax class positions of the net's softmax, plus its mirror image's when ``tta``."""
    probs = F.softmax(bnn.predict(net, (x,), batch_size, **kw), 1)
    if tta:
        probs = probs + F.softmax(bnn.predict(net, (x.flip(3),), batch_size, **kw), 1)
    return probs.argmax(1).cpu().numpy()
