"""The loss surface around a trained network, along two random filter-normalized directions
(Li, Xu, Taylor, Studer, Goldstein, "Visualizing the Loss Landscape of Neural Nets", NeurIPS 2018).

Directions. Each direction is a seeded Gaussian draw of the shape of every parameter; then, for
every weight of two or more dimensions (a convolution's filters, a linear layer's rows), each
filter (slice along the first dimension) is rescaled to the norm of the same filter of the trained
weights (the paper's "filter normalization", so that the scale of a filter, which batchnorm makes
meaningless, does not set the distance). Biases and batchnorm's scale and shift (the 1-D
parameters) get direction zero: they are not moved, as in the paper's code with ``--xignore biasbn``,
its setting for every ResNet figure. Two networks with the same parameter shapes (plain-20 and
resnet-20) get the same draw, each normalized to its own weights.

Evaluation. The loss at (a, b) is the mean cross-entropy of the net with weights
theta + a * d1 + b * d2 on a fixed set of training images, with the net in eval mode: batchnorm
uses the running statistics it learned in training (as the paper's code evaluates), they are not
recomputed at each point. The grid spans [-span, span] in both directions (odd sizes, so that the
centre is the trained net itself).

Sharpness. The mean loss over ``angles`` points on the circle of radius r around the centre
(a = r cos phi, b = r sin phi), minus the centre's loss: how much the loss rises at a fixed
filter-normalized distance, one number per radius (also the largest rise on the circle)."""
from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

RADII = (0.25, 0.5, 1.0)


def random_direction(net: nn.Module, seed: int) -> list[torch.Tensor]:
    """A Gaussian direction per parameter (seeded on the CPU, so the same on any device), filter
    normalized to ``net``'s weights; zero for the 1-D parameters (biases, batchnorm)."""
    gen = torch.Generator().manual_seed(int(seed))
    out = []
    for p in net.parameters():
        d = torch.randn(p.shape, generator=gen, dtype=torch.float32)
        out.append(filter_normalize(d, p.detach().float().cpu()).to(device=p.device, dtype=p.dtype))
    return out


def filter_normalize(d: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """``d`` with each filter (slice along dim 0) rescaled to the norm of ``w``'s; zero when 1-D."""
    if d.dim() <= 1:
        return torch.zeros_like(d)
    d_norm = d.flatten(1).norm(dim=1)
    w_norm = w.flatten(1).norm(dim=1)
    return d * (w_norm / (d_norm + 1e-10)).view(-1, *([1] * (d.dim() - 1)))


def filter_norms(tensors: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """Per filter norms of every tensor of two or more dimensions (the 1-D ones: their abs values)."""
    return [t.flatten(1).norm(dim=1) if t.dim() > 1 else t.abs() for t in tensors]


def as_nchw(images: np.ndarray) -> torch.Tensor:
    """(N, H, W, C) images as the (N, C, H, W) tensor the image nets take (dtype kept: uint8)."""
    x = np.asarray(images)
    if x.ndim != 4:
        raise ValueError(f"expected images as an (N, H, W, C) array, got shape {x.shape}")
    return torch.from_numpy(np.ascontiguousarray(x)).permute(0, 3, 1, 2)


@torch.no_grad()
def loss_and_accuracy(net: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 256) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``net`` (as it is: call .eval() first) on (x, y)."""
    total, correct = 0.0, 0
    device = next(net.parameters()).device
    for i in range(0, len(y), batch_size):
        out = net(x[i:i + batch_size].to(device)).float()
        t = y[i:i + batch_size].to(device)
        total += float(F.cross_entropy(out, t, reduction="sum"))
        correct += int((out.argmax(1) == t).sum())
    return total / len(y), correct / len(y)


class Probe:
    """A private copy of a trained net, in eval mode, that can be moved to theta + a d1 + b d2."""

    def __init__(self, net: nn.Module, x: torch.Tensor, y: torch.Tensor, seed: int, batch_size: int = 256,
                 device: str | torch.device | None = None):
        self.net = copy.deepcopy(net).eval()
        if device is not None:
            self.net.to(device)
        self.theta = [p.detach().clone() for p in self.net.parameters()]
        self.d1 = random_direction(self.net, seed)
        self.d2 = random_direction(self.net, seed + 1)
        self.x, self.y, self.batch_size = x, y, batch_size

    @torch.no_grad()
    def at(self, a: float, b: float) -> tuple[float, float]:
        """Loss and accuracy at theta + a d1 + b d2."""
        for p, t, u, v in zip(self.net.parameters(), self.theta, self.d1, self.d2):
            p.copy_(t + a * u + b * v)
        return loss_and_accuracy(self.net, self.x, self.y, self.batch_size)


@dataclass
class Landscape:
    """The loss (and accuracy) on a grid around the trained weights and on circles of given radii."""

    axis: list[float]  # the grid's coordinates, the same in both directions
    loss: list[list[float]]  # [i][j]: at a = axis[j], b = axis[i]
    accuracy: list[list[float]]
    radii: list[float]
    angles: int
    circle_loss: list[list[float]]  # [k][m]: radius radii[k], angle 2 pi m / angles
    seed: int
    n_images: int
    seconds: float
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def centre(self) -> float:
        mid = len(self.axis) // 2
        return self.loss[mid][mid]

    @property
    def centre_accuracy(self) -> float:
        mid = len(self.axis) // 2
        return self.accuracy[mid][mid]

    def rise(self, k: int) -> float:
        """Sharpness at radii[k]: mean loss on that circle minus the centre's."""
        return float(np.mean(self.circle_loss[k])) - self.centre

    def max_rise(self, k: int) -> float:
        return float(np.max(self.circle_loss[k])) - self.centre

    def sharpness(self) -> dict[str, float]:
        return {f"{r:g}": self.rise(k) for k, r in enumerate(self.radii)}

    def to_json(self) -> dict[str, Any]:
        return {"axis": self.axis, "loss": self.loss, "accuracy": self.accuracy, "radii": self.radii,
                "angles": self.angles, "circle_loss": self.circle_loss, "seed": self.seed,
                "n_images": self.n_images, "seconds": round(self.seconds, 1), "centre_loss": self.centre,
                "centre_accuracy": self.centre_accuracy, "rise": self.sharpness(),
                "max_rise": {f"{r:g}": self.max_rise(k) for k, r in enumerate(self.radii)}}


def grid_axis(points: int, span: float) -> list[float]:
    if points < 3 or points % 2 == 0:
        raise ValueError(f"the grid needs an odd number of points per direction (3 or more), not {points}")
    return [float(v) for v in np.linspace(-span, span, points)]


def landscape(net: nn.Module, images: np.ndarray, targets: np.ndarray, *, points: int = 21, span: float = 1.0,
              radii: Sequence[float] = RADII, angles: int = 16, seed: int = 0, batch_size: int = 256,
              device: str | None = None, echo=None) -> Landscape:
    """The loss surface of ``net`` on (images, targets) along two seeded filter-normalized directions."""
    axis = grid_axis(points, span)
    if angles < 1 or any(not (r > 0 and math.isfinite(r)) for r in radii):
        raise ValueError("the circles need positive radii and at least one angle")
    start = time.perf_counter()
    probe = Probe(net, as_nchw(images), torch.as_tensor(np.asarray(targets), dtype=torch.int64), seed,
                  batch_size, device)
    loss = [[0.0] * points for _ in axis]
    acc = [[0.0] * points for _ in axis]
    for i, b in enumerate(axis):
        for j, a in enumerate(axis):
            loss[i][j], acc[i][j] = probe.at(a, b)
        if echo:
            echo(f"  grid row {i + 1}/{points} ({time.perf_counter() - start:.0f} s)")
    circles = [[probe.at(r * math.cos(2 * math.pi * m / angles), r * math.sin(2 * math.pi * m / angles))[0]
                for m in range(angles)] for r in radii]
    return Landscape(axis, loss, acc, [float(r) for r in radii], angles, circles, seed, len(targets),
                     time.perf_counter() - start)
