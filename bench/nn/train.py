"""The training loop every NN plugin shares: tensors on the device, batches by index slices.

Data: ``(inputs, target)`` where ``inputs`` is a tuple of tensors with the same first
dimension and the model is any ``nn.Module`` called as ``model(*inputs)``. Each epoch draws a
seeded permutation on the device, gathers every tensor once with it, and walks contiguous
slices (views, no copies, no per-sample Python). The loss stays on the device until the epoch
ends: one host sync per epoch, not per step.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Mapping, Sequence

import torch
from torch import Tensor, nn

from bench.nn.device import autocast, generator, resolve_device, synchronize
from bench.nn.optim import lr_factors, make_optimizer, momentum_factors, param_groups, set_momentum

Data = tuple[Sequence[Tensor], Tensor]  # (model inputs, target)
MetricFn = Callable[[Tensor, Tensor], float]  # (model outputs, target) -> score


@dataclass
class TrainConfig:
    """Every knob of one training run, in one place (a plugin fills it from its params)."""

    epochs: int = 10
    batch_size: int = 128
    # optimizer
    optimizer: str = "adam"  # sgd | rmsprop | adam | adamw
    lr: float = 1e-3  # peak lr; groups scale it by their lr_mult
    weight_decay: float = 0.0  # L2 for sgd/rmsprop/adam, decoupled for adamw; not on biases/norms
    momentum: float = 0.9  # sgd / rmsprop momentum
    nesterov: bool = False
    betas: tuple[float, float] = (0.9, 0.999)  # adam / adamw
    eps: float = 1e-8
    lr_mult: Mapping[str, float] | None = None  # param-name prefix -> lr multiplier
    grad_clip: float | None = None  # max global grad norm
    optimizer_impl: str = "auto"  # auto (fused where available, else foreach) | fused | foreach | loop
    # schedule
    schedule: str = "constant"  # constant | step | cosine | onecycle (all per step)
    step_every: int = 1  # step: epochs between drops
    step_gamma: float = 0.1  # step / multistep: factor per drop
    milestones: tuple[int, ...] = ()  # multistep: epochs at which the lr drops
    warmup_epochs: float = 0.0  # linear warm-up for constant / step / cosine
    pct_start: float = 0.25  # onecycle: share of the run spent warming up
    div_factor: float = 25.0  # onecycle: start lr = lr / div_factor
    final_div: float = 1e4  # onecycle: end lr = start lr / final_div
    cycle_momentum: tuple[float, float] | None = (0.95, 0.85)  # onecycle: momentum/beta1 high, low
    # validation
    patience: int | None = None  # stop after this many epochs without improvement; None: never
    min_delta: float = 0.0  # smaller improvements do not count
    restore_best: bool = True  # load the best epoch's weights at the end (needs valid data)
    # execution
    device: str = "auto"
    seed: int = 0  # batch order; the model's init is seeded by the caller (see device.seeded)
    amp: bool = True  # bf16 autocast on CUDA; no effect on the CPU
    channels_last: bool = False  # NHWC memory layout for 4-D inputs and the model (convnets on GPU)
    drop_last: bool = True  # skip the last partial batch (keeps batchnorm statistics sane)
    eval_batch_size: int = 8192
    time_budget: float | None = None  # seconds; default: the FitContext's budget

    def replace(self, **changes: Any) -> "TrainConfig":
        return TrainConfig(**{**asdict(self), **changes})


@dataclass
class FitResult:
    """What a fit did: its history rows, the best epoch, why it stopped, how fast it went."""

    history: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int | None = None  # 1-based; None without validation
    best_score: float | None = None
    stop_reason: str = "completed"  # completed | early-stopped | time-budget | diverged
    epochs_run: int = 0
    steps: int = 0
    train_seconds: float = 0.0  # optimisation only, evaluation excluded
    samples_per_s: float = 0.0


def fit(model: nn.Module, train: Data, config: TrainConfig | None = None, *,
        valid: Data | None = None, loss_fn: Callable[[Tensor, Tensor], Tensor] | None = None,
        metric: MetricFn | None = None, metric_name: str = "valid_loss", maximize: bool = False,
        ctx: Any = None, desc: str = "train", log_extra: Mapping[str, Any] | None = None,
        augment: Callable[[Tensor, torch.Generator], Tensor] | None = None,
        train_metric: Callable[[Tensor, Tensor], Tensor] | None = None,
        train_metric_name: str = "train_metric") -> FitResult:
    """Train ``model`` in place on ``train`` and return a :class:`FitResult`.

    ``valid`` with ``metric`` (or, without one, the loss) is scored after every epoch for the
    history, early stopping (``patience``) and restoring the best weights. ``ctx`` is a
    ``bench.FitContext``: history rows go to ``ctx.log_epoch``, epochs to ``ctx.progress``, and
    ``ctx.time_budget`` bounds the run unless ``config.time_budget`` is set. ``log_extra`` is
    added to every history row (e.g. ``{"member": 2}`` for an ensemble).

    ``augment(x, generator)`` transforms the first input of the whole permuted epoch on the
    device, once per epoch (e.g. :class:`bench.nn.augment.CropFlip`), drawing from the loop's
    seeded generator. ``train_metric(outputs, target)`` is averaged over the epoch's batches
    (as trained: train mode, augmented) and logged as ``train_metric_name``, e.g. the training
    error of a classifier, at no extra pass over the data.
    """
    cfg = config or TrainConfig()
    loss_fn = loss_fn or nn.functional.mse_loss
    device = resolve_device(cfg.device)
    budget = cfg.time_budget if cfg.time_budget is not None else getattr(ctx, "time_budget", None)
    log = ctx.log_epoch if ctx is not None else (lambda **row: None)
    extra = dict(log_extra or {})
    result = FitResult()

    def note(epoch: int, text: str) -> None:
        """A history row of its own, so rows already logged never change."""
        row = {"epoch": epoch, "note": text, **extra}
        result.history.append(row)
        log(**row)

    memory_format = torch.channels_last if cfg.channels_last else torch.contiguous_format
    model.to(device=device, memory_format=memory_format)
    inputs, target = _to_device(train, device, cfg.channels_last)
    n = len(target)
    if n == 0:
        raise ValueError("no training rows")
    bs = min(cfg.batch_size, n)
    steps_per_epoch = n // bs if cfg.drop_last else math.ceil(n / bs)

    opt = make_optimizer(cfg.optimizer, param_groups(model, cfg.lr_mult, cfg.weight_decay), cfg.lr,
                         momentum=cfg.momentum, nesterov=cfg.nesterov, betas=cfg.betas, eps=cfg.eps,
                         impl=cfg.optimizer_impl)
    groups = opt.param_groups
    base_lr = [cfg.lr * g["lr_mult"] for g in groups]
    lrf = lr_factors(cfg.schedule, cfg.epochs, steps_per_epoch, step_every=cfg.step_every,
                     step_gamma=cfg.step_gamma, warmup_epochs=cfg.warmup_epochs,
                     pct_start=cfg.pct_start, div_factor=cfg.div_factor, final_div=cfg.final_div,
                     milestones=tuple(cfg.milestones))
    mom = momentum_factors(cfg.schedule, len(lrf), cfg.pct_start, cfg.cycle_momentum)
    params = [p for g in groups for p in g["params"]]
    gen = generator(cfg.seed, device)
    amp = autocast(device, cfg.amp)  # re-entered every step; a no-op on the CPU

    best_state: dict[str, Tensor] | None = None
    step, current = 0, None
    start = time.perf_counter()
    deadline = start + budget if budget is not None else None
    last_epoch_s = 0.0
    epochs = range(cfg.epochs)
    if ctx is not None:
        epochs = ctx.progress(epochs, total=cfg.epochs, desc=desc)
    try:
        for epoch in epochs:
            if deadline is not None and epoch > 0 and time.perf_counter() + last_epoch_s > deadline:
                note(epoch, f"stopped before epoch {epoch + 1}: time budget {budget:.1f}s would be exceeded")
                result.stop_reason = "time-budget"
                break
            t0 = time.perf_counter()
            model.train()
            perm = torch.randperm(n, generator=gen, device=device)
            xs = [x.index_select(0, perm) for x in inputs]
            ys = target.index_select(0, perm)
            if augment is not None:
                xs[0] = augment(xs[0], gen)
            if cfg.channels_last:
                xs = [x.contiguous(memory_format=torch.channels_last) if x.ndim == 4 else x for x in xs]
            losses: list[Tensor] = []
            train_scores: list[Tensor] = []
            out_of_time = False
            for i in range(steps_per_epoch):
                f = lrf[step]
                if f != current:  # constant stretches of a schedule cost nothing
                    for g, b in zip(groups, base_lr):
                        g["lr"] = b * f
                    current = f
                if mom is not None:
                    for g in groups:
                        set_momentum(g, mom[step])
                lo = i * bs
                with amp:
                    out = model(*[x[lo:lo + bs] for x in xs])
                    loss = loss_fn(out, ys[lo:lo + bs])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if cfg.grad_clip:
                    nn.utils.clip_grad_norm_(params, cfg.grad_clip)
                opt.step()
                losses.append(loss.detach())
                if train_metric is not None:
                    train_scores.append(torch.as_tensor(train_metric(out.detach(), ys[lo:lo + bs])).float())
                step += 1
                if deadline is not None and (i & 31) == 31 and time.perf_counter() > deadline:
                    out_of_time = True
                    break
            train_loss = torch.stack(losses).float().mean().item()  # the epoch's one sync
            t_train = time.perf_counter() - t0
            result.train_seconds += t_train
            result.steps = step
            result.epochs_run = epoch + 1
            row: dict[str, Any] = {"epoch": epoch + 1, "train_loss": train_loss}
            if train_scores:
                row[train_metric_name] = torch.stack(train_scores).mean().item()
            score = None
            if valid is not None:
                v_inputs, v_target = valid
                out = predict(model, v_inputs, cfg.eval_batch_size, amp=cfg.amp,
                              channels_last=cfg.channels_last)
                v_target = v_target.to(out.device)
                score = float(metric(out, v_target)) if metric is not None else float(loss_fn(out, v_target))
                row[metric_name] = score
            row["lr"] = cfg.lr * lrf[step - 1]
            row["seconds"] = time.perf_counter() - t0
            row.update(extra)
            result.history.append(row)
            log(**row)
            last_epoch_s = row["seconds"]
            if hasattr(epochs, "set_postfix"):
                shown = {"loss": f"{train_loss:.4g}"}
                if score is not None:
                    shown[metric_name] = f"{score:.4g}"
                epochs.set_postfix(shown)

            if not math.isfinite(train_loss) or (score is not None and not math.isfinite(score)):
                note(epoch + 1, f"diverged at epoch {epoch + 1} (non-finite loss or metric)")
                result.stop_reason = "diverged"
                break
            if score is not None and (result.best_score is None
                                      or _better(score, result.best_score, cfg.min_delta, maximize)):
                result.best_score, result.best_epoch = score, epoch + 1
                if cfg.restore_best:
                    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            if out_of_time:
                note(epoch + 1, f"stopped in epoch {epoch + 1} after {step} steps: "
                                f"time budget {budget:.1f}s exceeded")
                result.stop_reason = "time-budget"
                break
            waited = epoch + 1 - (result.best_epoch or epoch + 1)
            if cfg.patience is not None and waited >= cfg.patience:
                note(epoch + 1, f"early stop: no improvement in {metric_name} for {cfg.patience} epochs")
                result.stop_reason = "early-stopped"
                break
    finally:
        if hasattr(epochs, "close"):
            epochs.close()

    if best_state is not None and result.best_epoch != result.epochs_run:
        model.load_state_dict(best_state)
        note(result.epochs_run, f"restored the weights of epoch {result.best_epoch} "
                                f"(best {metric_name} {result.best_score:.6g})")
    model.eval()
    synchronize(device)
    result.samples_per_s = result.steps * bs / result.train_seconds if result.train_seconds else 0.0
    return result


@torch.no_grad()
def predict(model: nn.Module, inputs: Sequence[Tensor], batch_size: int = 8192, *, amp: bool = True,
            channels_last: bool = False) -> Tensor:
    """Model outputs for ``inputs`` in eval mode, in batches, without autograd; float32, on the
    model's device. Inputs may live elsewhere (e.g. a large test set on the CPU): each batch is
    moved on its own. The model's train/eval mode is restored afterwards.
    """
    device = next(model.parameters()).device
    n = len(inputs[0])
    was_training = model.training
    model.eval()
    outs = []
    try:
        for lo in range(0, n, batch_size):
            batch = [x[lo:lo + batch_size].to(device, non_blocking=True) for x in inputs]
            if channels_last:
                batch = [x.contiguous(memory_format=torch.channels_last) if x.ndim == 4 else x for x in batch]
            with autocast(device, amp):
                outs.append(model(*batch).float())
    finally:
        model.train(was_training)
    if not outs:
        return torch.empty(0, device=device)
    return torch.cat(outs)


def _to_device(data: Data, device: torch.device, channels_last: bool) -> tuple[list[Tensor], Tensor]:
    inputs, target = data
    inputs = [torch.as_tensor(x).to(device, non_blocking=True) for x in inputs]
    target = torch.as_tensor(target).to(device, non_blocking=True)
    if any(len(x) != len(target) for x in inputs):
        raise ValueError(f"inputs have {[len(x) for x in inputs]} rows but the target has {len(target)}")
    return inputs, target


def _better(score: float, best: float, min_delta: float, maximize: bool) -> bool:
    return score > best + min_delta if maximize else score < best - min_delta
