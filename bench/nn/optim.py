"""Optimizers by name, discriminative learning rates by parameter group, and lr schedules.

A schedule here is a plain list of per-step multipliers computed before training, so the hot
loop only looks one up (and touches the optimizer only when it changes). step, multistep and
cosine are read off torch's schedulers (StepLR, MultiStepLR, CosineAnnealingLR); one-cycle and
the warm-up stay here (see why in ``lr_factors``).
"""
from __future__ import annotations

import math
from typing import Any, Callable, Iterable, Mapping

import torch
from torch import nn

OPTIMIZERS = ("sgd", "rmsprop", "adam", "adamw")
SCHEDULES = ("constant", "step", "multistep", "cosine", "onecycle")


def param_groups(model: nn.Module, lr_mult: Mapping[str, float] | None = None,
                 weight_decay: float = 0.0, decay_norm_and_bias: bool = False) -> list[dict]:
    """Split the parameters into groups with their own lr multiplier and weight decay.

    ``lr_mult`` maps a parameter-name prefix to a multiplier of the base lr, e.g.
    ``{"embeds": 10.0}`` trains the embeddings ten times faster; the longest matching prefix
    wins, unmatched parameters get 1. Biases and normalisation weights (1-D tensors) get no
    weight decay unless ``decay_norm_and_bias`` (decaying them only shrinks the net's offsets).
    Each group records its ``lr_mult``; the training loop sets ``lr = base_lr * lr_mult * factor``.
    """
    lr_mult = dict(lr_mult or {})
    unused = set(lr_mult)
    groups: dict[tuple[float, float], list[nn.Parameter]] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        matches = [k for k in lr_mult if name.startswith(k)]
        prefix = max(matches, key=len) if matches else None
        unused.discard(prefix)
        mult = float(lr_mult[prefix]) if prefix is not None else 1.0
        wd = weight_decay if (p.ndim > 1 or decay_norm_and_bias) else 0.0
        groups.setdefault((mult, wd), []).append(p)
    if unused:
        names = [n for n, _ in model.named_parameters()]
        raise KeyError(f"lr_mult prefixes {sorted(unused)} match no parameter; "
                       f"parameter names start with: {sorted({n.split('.')[0] for n in names})}")
    return [{"params": ps, "lr_mult": mult, "weight_decay": wd} for (mult, wd), ps in groups.items()]


def make_optimizer(name: str, groups: Iterable[dict], lr: float, *, momentum: float = 0.9,
                   nesterov: bool = False, betas: tuple[float, float] = (0.9, 0.999),
                   eps: float = 1e-8, alpha: float = 0.99, impl: str = "auto") -> torch.optim.Optimizer:
    """Build an optimizer by name over ``groups`` (from :func:`param_groups`).

    sgd: momentum (and nesterov); rmsprop: ``alpha`` smoothing and momentum; adam: L2 weight
    decay added to the gradient (the original Adam); adamw: decoupled weight decay.

    ``impl``: ``auto`` takes the fused kernel where this torch has one for the optimizer and
    device, else ``foreach`` (multi-tensor). It matters: on a CPU PyTorch's default per-tensor
    loop makes Adam's step ~10x slower than fused, as slow as the forward pass of a small MLP.
    ``fused``, ``foreach`` and ``loop`` force one.
    """
    groups = [dict(g, lr=lr * g.get("lr_mult", 1.0)) for g in groups]
    name = name.lower()
    if name == "sgd":
        cls, kw = torch.optim.SGD, dict(momentum=momentum, nesterov=nesterov and momentum > 0)
    elif name == "rmsprop":
        cls, kw = torch.optim.RMSprop, dict(alpha=alpha, eps=eps, momentum=momentum)
    elif name == "adam":
        cls, kw = torch.optim.Adam, dict(betas=tuple(betas), eps=eps)
    elif name == "adamw":
        cls, kw = torch.optim.AdamW, dict(betas=tuple(betas), eps=eps)
    else:
        raise ValueError(f"unknown optimizer {name!r}; known: {', '.join(OPTIMIZERS)}")
    if impl == "loop":
        return cls(groups, lr=lr, foreach=False, **kw)
    if impl in ("auto", "fused"):
        try:
            return cls(groups, lr=lr, fused=True, **kw)
        except (RuntimeError, TypeError, ValueError):  # no fused kernel for this optimizer/device/torch
            if impl == "fused":
                raise
    elif impl != "foreach":
        raise ValueError(f"unknown optimizer impl {impl!r}; known: auto, fused, foreach, loop")
    return cls(groups, lr=lr, foreach=True, **kw)


def lr_factors(schedule: str, epochs: int, steps_per_epoch: int, *, step_every: int = 1,
               step_gamma: float = 0.1, warmup_epochs: float = 0.0, pct_start: float = 0.25,
               div_factor: float = 25.0, final_div: float = 1e4, min_factor: float = 0.0,
               milestones: tuple[int, ...] = ()) -> list[float]:
    """Per-step multipliers of the peak lr, one per optimizer step of the whole run.

    - ``constant``: 1 throughout.
    - ``step``: multiply by ``step_gamma`` every ``step_every`` epochs (annealing in steps).
    - ``multistep``: multiply by ``step_gamma`` at each epoch in ``milestones`` (He et al. 2016:
      lr / 10 at 50 % and 75 % of the run).
    - ``cosine``: half a cosine from 1 down to ``min_factor`` at the last step.
    - ``onecycle``: cosine warm-up from ``1/div_factor`` to 1 over ``pct_start`` of the run,
      then cosine decay to ``1/(div_factor*final_div)`` (Smith's 1cycle, fastai's shape).
    ``warmup_epochs`` adds a linear warm-up in front of constant/step/cosine.
    """
    total = max(1, epochs * steps_per_epoch)
    sched = torch.optim.lr_scheduler
    if schedule == "constant":
        f = [1.0] * total
    elif schedule == "step":
        every = max(1, int(step_every))
        f = torch_factors(lambda o: sched.StepLR(o, max(1, steps_per_epoch * every), step_gamma), total)
    elif schedule == "multistep":
        marks = [int(m) * steps_per_epoch for m in milestones]
        f = torch_factors(lambda o: sched.MultiStepLR(o, marks, step_gamma), total)
    elif schedule == "cosine":
        f = torch_factors(lambda o: sched.CosineAnnealingLR(o, max(1, total - 1), min_factor), total)
    elif schedule == "onecycle":
        # not torch's OneCycleLR: it peaks at step pct_start*total - 1, this one (fastai's shape)
        # at round(pct_start*total), so the curves differ (by 2.6 % of the peak over 171 steps)
        up = max(1, int(round(total * pct_start)))
        down = max(1, total - up)
        start, peak, end = 1.0 / div_factor, 1.0, 1.0 / (div_factor * final_div)
        f = [_cos(start, peak, s / up) if s < up else _cos(peak, end, (s - up) / max(1, down - 1))
             for s in range(total)]
    else:
        raise ValueError(f"unknown schedule {schedule!r}; known: {', '.join(SCHEDULES)}")
    warm = int(round(warmup_epochs * steps_per_epoch))
    # a multiplier on top of any schedule: torch's LinearLR chained with CosineAnnealingLR is not
    # the product once min_factor > 0 (the cosine's recursion assumes it owns the lr)
    if warm and schedule != "onecycle":
        f = [x * min(1.0, (s + 1) / warm) for s, x in enumerate(f)]
    return f


def torch_factors(make: Callable[[torch.optim.Optimizer], Any], total: int) -> list[float]:
    """The lr multipliers a torch scheduler gives over ``total`` steps, read off an optimizer
    whose lr is 1 and whose one parameter never moves (it has no gradient)."""
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    scheduler = make(opt)
    opt.step()  # once, before the scheduler's first step, as torch expects
    f = []
    for _ in range(total):
        f.append(float(scheduler.get_last_lr()[0]))
        scheduler.step()
    return f


def momentum_factors(schedule: str, total: int, pct_start: float = 0.25,
                     cycle: tuple[float, float] | None = (0.95, 0.85)) -> list[float] | None:
    """One-cycle's companion: momentum (or Adam's beta1) goes down while the lr goes up.

    None for every other schedule, or when ``cycle`` is None (the optimizer's value is kept).
    """
    if schedule != "onecycle" or cycle is None:
        return None
    hi, lo = cycle
    up = max(1, int(round(total * pct_start)))
    down = max(1, total - up)
    return [_cos(hi, lo, s / up) if s < up else _cos(lo, hi, (s - up) / max(1, down - 1))
            for s in range(total)]


def set_momentum(group: dict, value: float) -> None:
    """Set momentum or beta1, whichever the optimizer has."""
    if "betas" in group:
        group["betas"] = (value, group["betas"][1])
    elif "momentum" in group:
        group["momentum"] = value


def _cos(a: float, b: float, t: float) -> float:
    """Cosine interpolation from a (t=0) to b (t=1)."""
    t = min(1.0, max(0.0, t))
    return b + (a - b) * 0.5 * (1 + math.cos(math.pi * t))


def init_weights(model: nn.Module, scheme: str = "kaiming") -> nn.Module:
    """Initialise linear and convolution layers: ``kaiming`` (He normal, fan-in, zero bias: for
    ReLU nets) or ``default``/``uniform`` (PyTorch's own init, kept as built).

    Embeddings and normalisation layers are left to the model, which knows their role.
    """
    if scheme in ("default", "uniform", None):
        return model
    if scheme != "kaiming":
        raise ValueError(f"unknown init {scheme!r}; known: kaiming, default")
    for m in model.modules():
        if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return model
