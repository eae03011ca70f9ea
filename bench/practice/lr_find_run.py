"""`bench lr-find` without the command line: a variant on a dataset split, its range test, and
the two files it leaves (lr-find.json with the curve and what it was run on, lr-find.png)."""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.core import environment
from bench.data.paths import atomic_write, write_file
from bench.plugins.registry import Registry
from bench.practice.jsonable import jsonable
from bench.practice.lr_find import Curve, Suggestions, check_network, find_lr, suggest
from bench.run.inspect import task_context


@dataclass
class Finding:
    curve: Curve
    suggestions: Suggestions
    variant: str
    family: str
    params: dict[str, Any]  # the method's resolved parameters
    dataset: str
    dataset_params: dict[str, Any]
    split: str
    fingerprint: str
    seed: int
    device: str
    training: dict[str, Any]  # the optimizer settings the range test used (from the method's TrainConfig)

    @property
    def dataset_ref(self) -> str:
        inner = ",".join(f"{k}={v}" for k, v in sorted(self.dataset_params.items()))
        return f"{self.dataset}[{inner}]" if inner else self.dataset


@dataclass
class Prepared:
    """A variant's unfitted method on a loaded split: every name, parameter and kind checked."""

    variant: str
    family: str
    method: Any
    loaded: Any  # bench.run.inspect.Loaded: task, dataset, split, FitContext
    dataset_params: dict[str, Any]


def prepare(reg: Registry, variant: str, dataset: str, *, dataset_params: dict[str, Any] | None = None,
            split: str | None = None, seed: int = 0, params: dict[str, Any] | None = None,
            device: str = "auto", data_dir: Path, cache_dir: Path) -> Prepared:
    """The method (``variant`` with ``params``) and its task, as a run of it would get them.
    KeyError: unknown name; NotANetwork: not a torch method; TypeError: unknown parameter;
    ValueError: a kind the method does not handle; FilesMissing: data to fetch."""
    entry = reg.method(variant)
    check_network(entry.cls, variant, entry.family)
    method = entry.build({k: v for k, v in (params or {}).items() if v is not None})
    loaded = task_context(reg, dataset, split, variant, seed, device, data_dir, cache_dir, dataset_params,
                          keep_fits=False)
    if loaded.task.kind not in entry.cls.kinds:
        raise ValueError(f"method {variant} handles {', '.join(entry.cls.kinds)}; "
                         f"dataset {dataset} is {loaded.task.kind}")
    return Prepared(variant, entry.family, method, loaded, dict(dataset_params or {}))


def run_prepared(p: Prepared, *, start_lr: float = 1e-7, end_lr: float = 10.0, steps: int = 100) -> Finding:
    """The range test of a prepared method on its split's training part."""
    task, ctx = p.loaded.task, p.loaded.ctx
    valid = task.part("valid")
    found = find_lr(p.method, task.part("train"), valid if len(valid) else None, ctx,
                    start_lr=start_lr, end_lr=end_lr, steps=steps)
    cfg = found.config
    training = {k: getattr(cfg, k) for k in ("optimizer", "lr", "weight_decay", "momentum", "nesterov", "betas",
                                             "eps", "lr_mult", "grad_clip", "amp", "channels_last")}
    training.update(batch_size=found.curve.batch_size, steps_per_pass=found.curve.steps_per_pass,
                    group_mults=found.curve.group_mults, loss=found.loss,
                    method_schedule=cfg.schedule)  # the method's; the test sets the rate itself
    return Finding(found.curve, suggest(found.curve), p.variant, p.family, dict(p.method.params), task.dataset,
                   p.dataset_params, p.loaded.split, task.split.fingerprint, ctx.seed, str(ctx.device), training)


def run_lr_find(reg: Registry, variant: str, dataset: str, *, start_lr: float = 1e-7, end_lr: float = 10.0,
                steps: int = 100, **where: Any) -> Finding:
    """``prepare`` (``where``: dataset_params, split, seed, params, device, data_dir, cache_dir),
    then ``run_prepared``."""
    return run_prepared(prepare(reg, variant, dataset, **where), start_lr=start_lr, end_lr=end_lr, steps=steps)


def summary_rows(curve: Curve, n: int = 8) -> list[tuple[float, float]]:
    """About ``n`` (lr, smoothed loss) pairs spread evenly over the steps, the last one included."""
    if not curve.lrs:
        return []
    idx = sorted({round(i * (len(curve.lrs) - 1) / max(1, n - 1)) for i in range(n)})
    return [(curve.lrs[i], curve.smoothed[i]) for i in idx]


def describe(f: Finding) -> list[str]:
    """The lines the command prints: the two suggestions first, then a few rows of the curve."""
    s, c = f.suggestions, f.curve
    lines = [f"steepest descent: {_rate(s.steepest)}  (smoothed loss falls fastest against log lr)",
             f"minimum / 10: {_rate(s.min_over_10)}  (smoothed loss is lowest at {_rate(s.min_loss_lr)})",
             f"{len(c.lrs)} of {c.steps_planned} steps, batch {c.batch_size}, {c.stop_reason}"
             + (f" at lr {c.stopped_at_lr:.3g}" if c.stopped_at_lr is not None else "")
             + f", {c.seconds:.1f} s", "", f"{'lr':>10}  smoothed loss"]
    lines += [f"{lr:>10.3g}  {loss:.5g}" for lr, loss in summary_rows(c)]
    return lines


def _rate(x: float | None) -> str:
    return f"{x:.3g}" if x is not None else "none (the loss never fell)"


def title(f: Finding) -> str:
    return (f"lr-find: {f.variant} on {f.dataset_ref}/{f.split}\n"
            f"split fingerprint {f.fingerprint}, seed {f.seed}")


def write_json(f: Finding, path: Path, command: str = "") -> Path:
    """The curve, the suggestions and what they were measured on (strict JSON: no NaN)."""
    c = f.curve
    doc = {
        "method": {"variant": f.variant, "family": f.family, "params": f.params},
        "dataset": {"name": f.dataset, "params": f.dataset_params, "split": f.split, "fingerprint": f.fingerprint},
        "seed": f.seed, "device": f.device, "training": f.training,
        "suggestions": dataclasses.asdict(f.suggestions),
        "curve": {"lr": c.lrs, "loss": c.losses, "smoothed_loss": c.smoothed, "steps_planned": c.steps_planned,
                  "stop_reason": c.stop_reason, "stopped_at_lr": c.stopped_at_lr, "seconds": round(c.seconds, 3),
                  "smoothing_beta": 0.98, "diverge_factor": 4.0},
        "bench_version": environment.versions().get("bench", ""), "command": command,
    }
    return write_file(path, json.dumps(jsonable(doc), indent=1, allow_nan=False) + "\n")


def write_png(f: Finding, path: Path) -> Path:
    """Smoothed loss (and the raw one, faint) against lr on a log axis, the suggestions marked."""
    import matplotlib

    matplotlib.use("Agg")  # headless
    import matplotlib.pyplot as plt

    c, s = f.curve, f.suggestions
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    ax.plot(c.lrs, c.losses, color="0.75", lw=0.8, label="loss per step")
    ax.plot(c.lrs, c.smoothed, color="C0", lw=1.8, label="smoothed loss (beta 0.98)")
    for rate, colour, text in ((s.steepest, "C3", "steepest descent"), (s.min_over_10, "C2", "minimum / 10")):
        if rate is not None:
            ax.axvline(rate, color=colour, ls="--", lw=1.2, label=f"{text}: {rate:.3g}")
    own = f.training.get("lr")
    if isinstance(own, (int, float)) and own > 0:
        ax.axvline(own, color="0.4", ls=":", lw=1.2, label=f"the method's lr: {own:.3g}")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate (a group's is this x its lr_mult)")
    ax.set_ylabel(f"training loss ({f.training.get('loss', '')})")
    if c.smoothed:  # keep the diverging tail from squashing the descent: up to twice the drop above the start
        first, lo = c.smoothed[0], min(c.smoothed)
        hi = max(first, min(max(c.smoothed), first + 2 * (first - lo)))
        pad = 0.05 * (hi - lo or abs(hi) or 1.0)
        ax.set_ylim(lo - pad, hi + pad)
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.25)
    ax.set_title(title(f), fontsize=9)
    fig.tight_layout()
    path = Path(path)
    with atomic_write(path, private=False) as fh:
        fig.savefig(fh, dpi=110, format="png")
    plt.close(fig)
    return path


def write_files(f: Finding, out_dir: Path, command: str = "") -> tuple[Path, Path]:
    """DIR/lr-find.png and DIR/lr-find.json (the folder is made if missing)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return write_png(f, out_dir / "lr-find.png"), write_json(f, out_dir / "lr-find.json", command)
