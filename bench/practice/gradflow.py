"""Initialization and gradient flow: per-layer activation and gradient sizes of deep networks.

The deck's claim: signals (forward) and gradients (backward) vanish or explode in deep nets;
the culprits are depth, the activation function and a bad initialization; the cures are
residual connections, a fitting initialization (He et al. 2015) and batchnorm.

What is measured, for a list of probes (one per hidden layer or block, first to last): forward
hooks on each probe's module record the standard deviation of its output over the batch (the
"signal"), and of the loss's gradient with respect to that output (the backward signal); after
``backward`` the gradient norm of the probe's weights (its linear / conv weights, batchnorm's
excluded) is read from ``.grad``. Sums of squares in float64, so an exploding net is measured
rather than overflowing. Nothing is stepped: ``measure`` leaves the weights as they were.

``DeepMLP``: ``depth`` hidden layers of ``width`` units on flattened images. A plain layer is
linear -> [batchnorm] -> activation; a residual layer (every one after the first, which changes
the width) is the pre-activation block of He et al. (2016, "Identity mappings"):
``x + linear(activation([batchnorm](x)))``, so the skip is an exact identity and zeroing the
branch's linear weight makes the block the identity at init.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from bench import nn as bnn

ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid}
INITS = ("normal", "default", "kaiming", "kaiming-zero")


@dataclass(frozen=True)
class Setting:
    """One deep MLP of the experiment: how it is built and what it is there to show."""

    name: str
    activation: str  # relu | tanh | sigmoid
    init: str  # normal: N(0, 1) ("bad init"); default: PyTorch's; kaiming: He normal fan-in; kaiming-zero
    batchnorm: bool
    residual: bool
    role: str  # "culprit" (expected to vanish or explode) or "cure"
    shows: str

    def __post_init__(self) -> None:
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"{self.name}: unknown activation {self.activation!r}; known: {', '.join(ACTIVATIONS)}")
        if self.init not in INITS:
            raise ValueError(f"{self.name}: unknown init {self.init!r}; known: {', '.join(INITS)}")
        if self.init == "kaiming-zero" and not self.residual:
            raise ValueError(f"{self.name}: kaiming-zero zeroes residual branches, so it needs residual=True")


SETTINGS: tuple[Setting, ...] = (
    Setting("relu-normal", "relu", "normal", False, False, "culprit",
            "bad init: N(0,1) weights multiply the signal by ~sqrt(width/2) per layer; it explodes"),
    Setting("sigmoid-normal", "sigmoid", "normal", False, False, "culprit",
            "bad init + saturating activation: pre-activations of std ~sqrt(width/2) saturate the sigmoids"),
    Setting("relu-default", "relu", "default", False, False, "culprit",
            "PyTorch's default init: weights of variance 1/(3 fan-in) scale a ReLU signal by ~0.4 per layer "
            "(the biases add a floor)"),
    Setting("tanh-default", "tanh", "default", False, False, "culprit",
            "tanh with the default init: the signal and its gradient shrink layer by layer"),
    Setting("sigmoid-default", "sigmoid", "default", False, False, "culprit",
            "sigmoid's slope is at most 1/4: the gradient shrinks at every layer on the way down"),
    Setting("relu-kaiming", "relu", "kaiming", False, False, "cure",
            "He init (variance 2/fan-in) keeps a ReLU net's signal and gradient the same size at every depth"),
    Setting("relu-normal-bn", "relu", "normal", True, False, "cure",
            "batchnorm rescales every layer, undoing the bad init's scale (a mean-field analysis, Yang et al. "
            "2019, predicts gradients that still grow with depth at init)"),
    Setting("sigmoid-kaiming-bn", "sigmoid", "kaiming", True, False, "cure",
            "batchnorm keeps the sigmoid's inputs near zero, where its slope is largest"),
    Setting("relu-kaiming-res", "relu", "kaiming", False, True, "culprit",
            "identity skips with He init on every branch: each block adds its variance, the signal grows"),
    Setting("relu-kaiming0-res", "relu", "kaiming-zero", False, True, "cure",
            "identity skips, branches zeroed at init: the signal and the gradient pass through unchanged"),
    Setting("sigmoid-default-res", "sigmoid", "default", False, True, "cure",
            "identity skips carry the gradient past the sigmoids (default init); the branches' sum grows"),
)


class Layer(nn.Module):
    """One hidden layer: ``act(bn(linear(x)))``, or ``x + linear(act(bn(x)))`` when residual."""

    def __init__(self, d_in: int, d_out: int, activation: str, batchnorm: bool, residual: bool):
        super().__init__()
        if residual and d_in != d_out:
            raise ValueError(f"a residual layer keeps the width; got {d_in} -> {d_out}")
        self.residual, self.act = residual, ACTIVATIONS[activation]
        self.norm = nn.BatchNorm1d(d_in if residual else d_out) if batchnorm else nn.Identity()
        self.linear = nn.Linear(d_in, d_out, bias=residual or not batchnorm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.residual:
            return x + self.linear(self.act(self.norm(x)))
        return self.act(self.norm(self.linear(x)))


class DeepMLP(nn.Module):
    """``depth`` hidden layers of ``width`` units (the first maps the input to the width), a linear head."""

    def __init__(self, d_in: int, n_classes: int, depth: int, width: int, activation: str = "relu",
                 batchnorm: bool = False, residual: bool = False):
        super().__init__()
        if depth < 1 or width < 1:
            raise ValueError(f"depth and width must be at least 1, not {depth} and {width}")
        self.layers = nn.ModuleList(Layer(d_in if i == 0 else width, width, activation, batchnorm, residual and i > 0)
                                    for i in range(depth))
        self.head = nn.Linear(width, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return self.head(x)


def initialize(net: DeepMLP, scheme: str) -> DeepMLP:
    """Every linear layer (head included): N(0, 1) weights and zero biases (``normal``), PyTorch's
    own (``default``), He normal fan-in for ReLU with zero biases (``kaiming``, bench.nn's), or
    kaiming then every residual branch's linear at zero (``kaiming-zero``)."""
    if scheme == "normal":
        for m in net.modules():
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, 1.0)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        return net
    if scheme not in INITS:
        raise ValueError(f"unknown init {scheme!r}; known: {', '.join(INITS)}")
    bnn.init_weights(net, "default" if scheme == "default" else "kaiming")
    if scheme == "kaiming-zero":
        for layer in net.layers:
            if layer.residual:
                nn.init.zeros_(layer.linear.weight)
                nn.init.zeros_(layer.linear.bias)
    return net


def build_mlp(setting: Setting, d_in: int, n_classes: int, depth: int, width: int) -> DeepMLP:
    net = DeepMLP(d_in, n_classes, depth, width, setting.activation, setting.batchnorm, setting.residual)
    return initialize(net, setting.init)


@dataclass
class Probe:
    """A layer to watch: the module whose output is the layer's signal, and the layer's weights."""

    name: str
    module: nn.Module
    weights: list[torch.Tensor]


def mlp_probes(net: DeepMLP) -> list[Probe]:
    return [Probe(f"layer {i + 1}", layer, [layer.linear.weight]) for i, layer in enumerate(net.layers)]


@dataclass
class Profile:
    """Per-layer sizes at one moment, first layer first, on one fixed batch."""

    layers: list[str]
    act_std: list[float]  # std of the layer's output
    grad_norm: list[float]  # L2 norm of d loss / d (the layer's weights)
    grad_std: list[float]  # std of d loss / d (the layer's output): the backward signal
    loss: float


def measure(net: nn.Module, probes: Sequence[Probe], inputs: torch.Tensor, target: torch.Tensor,
            loss_fn: Callable = F.cross_entropy) -> Profile:
    """One forward and backward pass of ``net`` on (inputs, target) in its current mode; the weights'
    gradients are cleared before and after (nothing is stepped)."""
    n = len(probes)
    act, back = [math.nan] * n, [math.nan] * n
    handles = []

    def watch(i: int):
        def hook(_module, _args, output):
            act[i] = _std(output)
            if output.requires_grad:
                output.register_hook(lambda g: back.__setitem__(i, _std(g)))
        return hook

    for i, probe in enumerate(probes):
        handles.append(probe.module.register_forward_hook(watch(i)))
    net.zero_grad(set_to_none=True)
    try:
        loss = loss_fn(net(inputs), target)
        loss.backward()
    finally:
        for h in handles:
            h.remove()
    norms = [_norm([w.grad for w in p.weights]) for p in probes]
    net.zero_grad(set_to_none=True)
    return Profile([p.name for p in probes], act, norms, back, float(loss.detach().double()))


def _std(t: torch.Tensor) -> float:
    return float(t.detach().double().std())


def _norm(grads: list[torch.Tensor | None]) -> float:
    """The L2 norm of all ``grads`` together (a missing gradient counts as zero)."""
    return math.sqrt(sum(float(g.detach().double().pow(2).sum()) for g in grads if g is not None))


@dataclass
class Training:
    """What N steps of SGD did: the loss per step, and the step whose loss was not finite (if any)."""

    losses: list[float] = field(default_factory=list)
    diverged_at: int | None = None
    seconds: float = 0.0

    def final_loss(self, last: int = 10) -> float | None:
        """The mean loss of the last ``last`` steps (None when it diverged or never ran)."""
        if self.diverged_at is not None or not self.losses:
            return None
        tail = self.losses[-last:]
        return sum(tail) / len(tail)


def train(net: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int, *, lr: float, momentum: float = 0.9,
          weight_decay: float = 0.0, batch_size: int = 128, seed: int = 0,
          loss_fn: Callable = F.cross_entropy, on_step: Callable[[int, float], None] | None = None) -> Training:
    """``steps`` SGD steps on batches of a seeded permutation per pass (the last short batch of a
    pass dropped); stops at the first non-finite loss."""
    n = len(y)
    bs = min(batch_size, n)
    per_pass = n // bs
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    gen = bnn.generator(seed, x.device)
    out = Training()
    start = time.perf_counter()
    net.train()
    for step in range(steps):
        i = step % per_pass
        if i == 0:
            order = torch.randperm(n, generator=gen, device=x.device)
        rows = order[i * bs:(i + 1) * bs]
        loss = loss_fn(net(x[rows]), y[rows])
        value = float(loss.detach().double())
        if not math.isfinite(value):
            out.diverged_at = step
            break
        out.losses.append(value)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if on_step is not None:
            on_step(step, value)
    bnn.synchronize(x.device)
    out.seconds = time.perf_counter() - start
    return out


@dataclass
class Outcome:
    """One network of the experiment: its profile at init, after training, and the training."""

    family: str
    setting: str
    role: str
    shows: str
    config: dict[str, Any]
    at_init: Profile
    after: Profile | None  # None when training diverged
    training: Training
    steps: int


def run_net(family: str, name: str, role: str, shows: str, config: dict[str, Any], make: Callable[[], nn.Module],
            probes: Callable[[nn.Module], list[Probe]], data: tuple, batch: tuple, *, steps: int, lr: float,
            seed: int, device: torch.device, momentum: float = 0.9, weight_decay: float = 0.0,
            batch_size: int = 128, on_step: Callable[[int, float], None] | None = None) -> Outcome:
    """Build the net (``make``, under ``seed``), profile it on ``batch``, train it ``steps`` steps on
    ``data`` = (x, y), profile it again. Train mode throughout (batchnorm uses batch statistics)."""
    with bnn.seeded(seed, device):
        net = make().to(device)
        net.train()
        watched = probes(net)
        at_init = measure(net, watched, *batch)
        done = train(net, *data, steps, lr=lr, momentum=momentum, weight_decay=weight_decay, batch_size=batch_size,
                     seed=seed, on_step=on_step)
        after = None if done.diverged_at is not None else measure(net, watched, *batch)
        if after is not None and not math.isfinite(after.loss):
            after, done.diverged_at = None, steps
    training = {"lr": lr, "momentum": momentum, "weight_decay": weight_decay, "batch_size": batch_size}
    return Outcome(family, name, role, shows, {**config, **training}, at_init, after, done, steps)


def select(names: Sequence[str] | None, known: Sequence[str], what: str = "setting") -> list[str]:
    """``names`` in the order given (all of ``known`` when None or empty); KeyError naming the known ones."""
    if not names:
        return list(known)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise KeyError(f"unknown {what} {', '.join(map(repr, unknown))}; known: {', '.join(known)}")
    return list(dict.fromkeys(names))
