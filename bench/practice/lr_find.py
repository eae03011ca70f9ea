"""The learning-rate range test (Smith 2017, "Cyclical Learning Rates"; fastai's ``lr_find``).

A method's own network is trained for ``steps`` batches (fewer than one pass of the training
part when it is large; a part with fewer batches is passed over again, reshuffled) while the
learning rate grows exponentially from ``start_lr`` to ``end_lr``. The loss is
recorded per step with an exponentially smoothed copy (beta 0.98, bias-corrected); the test
stops once the smoothed loss exceeds 4x its minimum or a loss is not finite. Two rates are
suggested from the smoothed curve: where it falls fastest against log(lr) (before its minimum)
and the rate of its minimum / 10.

How it reaches the method's own training: every torch family trains through
``TorchMethod.fit_members``, which calls ``bench.nn.fit``. ``find_lr`` runs the method's ``fit``
with ``bench.nn.fit`` swapped (in this process, restored in ``finally``) for the range test,
which builds the optimizer as ``bench.nn.fit`` does (same groups, lr multipliers, weight decay,
momentum, batch size, augmentation, amp) and then ends the fit with a private sentinel. No
plugin or training-core file changes, so no run identity changes either.
"""
from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import numpy as np

BETA = 0.98  # smoothing of the loss (fastai's)
DIVERGE = 4.0  # stop when the smoothed loss exceeds this multiple of its minimum


class NotANetwork(TypeError):
    """The method trains no network through bench.nn.fit, so there is no learning rate to find."""


class _RangeTestDone(BaseException):
    """Ends the method's fit once the range test ran. A BaseException, so that a plugin's
    ``except Exception`` around its training cannot swallow it."""


@dataclass
class Curve:
    """One range test: the base rate (a group's rate is this times its lr_mult) and loss per step."""

    lrs: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    smoothed: list[float] = field(default_factory=list)
    steps_planned: int = 0
    stop_reason: str = "completed"  # completed | diverged (smoothed > 4x min) | non-finite
    stopped_at_lr: float | None = None  # the rate of the step that stopped it (diverged / non-finite)
    batch_size: int = 0
    steps_per_pass: int = 0
    group_mults: list[float] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class Suggestions:
    steepest: float | None  # where the smoothed loss falls fastest per unit of log(lr), before its minimum
    min_over_10: float | None  # the rate of the smoothed loss's minimum, divided by 10
    min_loss_lr: float | None  # the rate of the smoothed loss's minimum


def rates(start_lr: float, end_lr: float, steps: int) -> np.ndarray:
    """``steps`` rates growing exponentially from ``start_lr`` to ``end_lr`` (both included)."""
    if not (0 < start_lr < end_lr and math.isfinite(end_lr)):
        raise ValueError(f"the rates must satisfy 0 < start ({start_lr}) < end ({end_lr})")
    if steps < 2:
        raise ValueError(f"a range test needs at least 2 steps, not {steps}")
    return start_lr * (end_lr / start_lr) ** (np.arange(steps) / (steps - 1))


def range_test(model: Any, train: tuple, config: Any = None, *, loss_fn: Callable | None = None,
               augment: Callable | None = None, start_lr: float = 1e-7, end_lr: float = 10.0,
               steps: int = 100, beta: float = BETA, diverge: float = DIVERGE) -> Curve:
    """Train ``model`` in place on ``train`` = (inputs, target) as ``bench.nn.fit`` would under
    ``config`` (a TrainConfig), the base rate going from ``start_lr`` to ``end_lr`` over ``steps``
    batches; returns the Curve. Batches are drawn as in ``fit``: a seeded permutation per pass,
    ``augment`` applied to the whole permuted pass, contiguous slices of ``batch_size``."""
    import torch

    from bench import nn as bnn

    cfg = config or bnn.TrainConfig()
    loss_fn = loss_fn or torch.nn.functional.mse_loss
    lr_seq = rates(start_lr, end_lr, steps)
    device = bnn.resolve_device(cfg.device)
    memory_format = torch.channels_last if cfg.channels_last else torch.contiguous_format
    model.to(device=device, memory_format=memory_format)
    inputs, target = train
    inputs = [torch.as_tensor(x).to(device) for x in inputs]
    target = torch.as_tensor(target).to(device)
    n = len(target)
    if n == 0:
        raise ValueError("no training rows")
    bs = min(cfg.batch_size, n)
    per_pass = n // bs if cfg.drop_last else math.ceil(n / bs)
    opt = bnn.make_optimizer(cfg.optimizer, bnn.param_groups(model, cfg.lr_mult, cfg.weight_decay), start_lr,
                             momentum=cfg.momentum, nesterov=cfg.nesterov, betas=cfg.betas, eps=cfg.eps,
                             impl=cfg.optimizer_impl)
    params = [p for g in opt.param_groups for p in g["params"]]
    curve = Curve(steps_planned=steps, batch_size=bs, steps_per_pass=per_pass,
                  group_mults=[float(g["lr_mult"]) for g in opt.param_groups])
    gen = bnn.generator(cfg.seed, device)
    amp = bnn.autocast(device, cfg.amp)
    avg, best = 0.0, math.inf
    start = time.perf_counter()
    model.train()
    for step, rate in enumerate(lr_seq.tolist()):
        i = step % per_pass
        if i == 0:  # a new pass over the data, drawn as fit draws an epoch
            xs, ys = _permuted_pass(inputs, target, gen, augment, cfg.channels_last)
        for g in opt.param_groups:
            g["lr"] = rate * g["lr_mult"]
        lo = i * bs
        with amp:
            loss = loss_fn(model(*[x[lo:lo + bs] for x in xs]), ys[lo:lo + bs])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        opt.step()
        value = float(loss.detach().float().item())
        if not math.isfinite(value):
            curve.stop_reason, curve.stopped_at_lr = "non-finite", rate
            break
        avg = beta * avg + (1 - beta) * value
        smooth = avg / (1 - beta ** (step + 1))
        curve.lrs.append(rate)
        curve.losses.append(value)
        curve.smoothed.append(smooth)
        best = min(best, smooth)
        if smooth > diverge * best:
            curve.stop_reason, curve.stopped_at_lr = "diverged", rate
            break
    bnn.synchronize(device)
    curve.seconds = time.perf_counter() - start
    return curve


def _permuted_pass(inputs: list, target: Any, gen: Any, augment: Callable | None, channels_last: bool):
    """One pass's tensors in a seeded order, augmented once for the whole pass (as fit does)."""
    import torch

    perm = torch.randperm(len(target), generator=gen, device=target.device)
    xs = [x.index_select(0, perm) for x in inputs]
    if augment is not None:
        xs[0] = augment(xs[0], gen)
    if channels_last:
        xs = [x.contiguous(memory_format=torch.channels_last) if x.ndim == 4 else x for x in xs]
    return xs, target.index_select(0, perm)


def suggest(curve: Curve, skip_start: float = 0.1, skip_end: int = 5) -> Suggestions:
    """fastai's two classic suggestions from the smoothed loss: the steepest descent (the most
    negative slope against log(lr), looked for up to the minimum) and the minimum's rate / 10.

    As fastai, the first ``skip_start`` of the planned steps (the smoothed loss is an average of
    a few noisy batches there, at rates too small to train) and the last ``skip_end`` points (the
    blow-up) are left out, when the curve is long enough to keep two points.
    """
    sm, lrs = np.asarray(curve.smoothed), np.asarray(curve.lrs)
    lo, hi = int(skip_start * curve.steps_planned), len(sm) - skip_end
    if hi - lo >= 2:
        sm, lrs = sm[lo:hi], lrs[lo:hi]
    if not len(sm):
        return Suggestions(None, None, None)
    k = int(np.argmin(sm))
    steepest = None
    if k >= 1:
        slope = np.gradient(sm[:k + 1], np.log(lrs[:k + 1]))
        j = int(np.argmin(slope))
        steepest = float(lrs[j]) if slope[j] < 0 else None
    return Suggestions(steepest, float(lrs[k]) / 10, float(lrs[k]))


@contextlib.contextmanager
def fit_replaced(replacement: Callable) -> Iterator[None]:
    """``bench.nn.fit`` is ``replacement`` inside the block, in this process; restored however the
    block ends. TorchMethod.fit_members looks it up on the module at each call."""
    from bench import nn as bnn

    original = bnn.fit
    bnn.fit = replacement
    try:
        yield
    finally:
        bnn.fit = original


def check_network(cls: type, variant: str, family: str = "") -> None:
    """NotANetwork unless ``cls`` is a TorchMethod (trains through bench.nn.fit)."""
    from bench.methods.torch import TorchMethod

    if not (isinstance(cls, type) and issubclass(cls, TorchMethod)):
        raise NotANetwork(f"lr-find needs a network method; {variant} is a {family or cls.__name__} method "
                          f"({cls.__module__}.{cls.__name__}), not a bench.methods.torch.TorchMethod "
                          "training a network through bench.nn.fit. Network methods: `bench list methods` "
                          "(e.g. ee, mlp, mf, resnet-20)")


@dataclass
class Found:
    """What ``find_lr`` saw: the curve and the training settings the method asked bench.nn.fit for."""

    curve: Curve
    config: Any  # the TrainConfig of the method's first (or only) net
    loss: str  # the loss function's name


def find_lr(method: Any, train: Any, valid: Any, ctx: Any, *, start_lr: float = 1e-7, end_lr: float = 10.0,
            steps: int = 100) -> Found:
    """Run ``method.fit(train, valid, ctx)`` with its first ``bench.nn.fit`` call replaced by the
    range test (the rest of the fit never runs). Seeded by ``ctx.seed``."""
    from bench import nn as bnn
    from bench.run.execute import seed_everything

    check_network(type(method), getattr(method, "name", type(method).__name__))
    rates(start_lr, end_lr, steps)  # bad bounds fail before the data is prepared
    seen: dict[str, Any] = {}

    def test(net, data, config=None, *, loss_fn=None, augment=None, **_unused):
        seen["found"] = Found(range_test(net, data, config, loss_fn=loss_fn, augment=augment, start_lr=start_lr,
                                         end_lr=end_lr, steps=steps), config, _name(loss_fn))
        raise _RangeTestDone

    with bnn.seeded(ctx.seed, bnn.resolve_device(ctx.device)), fit_replaced(test):
        seed_everything(ctx.seed)
        try:
            method.fit(train, valid, ctx)
        except _RangeTestDone:
            pass
    if "found" not in seen:
        raise RuntimeError(f"{method.name}: fit finished without calling bench.nn.fit, so lr-find saw no "
                           "training (a family must train through TorchMethod.fit_members / bench.nn.fit)")
    return seen["found"]


def _name(fn: Callable | None) -> str:
    if fn is None:
        return "mse_loss (bench.nn.fit's default)"
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or type(fn).__name__
    return name.split(".<locals>")[0]  # a loss a family builds in a function: that function's name
