"""The overfitting page's picture: train vs valid per epoch, one panel per configuration, so the
gap between the two curves is what one sees. Where the history has a training score in the valid
metric's units (accuracy from the cnn plugin's ``train_error``) both share one axis and the gap
between them is shaded; otherwise (Rossmann: an L1 training loss on the scaled log target next
to valid MAPE) the training loss gets its own axis on the left."""
from __future__ import annotations

import statistics
from pathlib import Path
from typing import Mapping

from bench.practice import page_plots as pp
from bench.practice.overfit import NAMES, Config, curve, measures
from bench.practice.suite_runs import valid_column


def _series(config: Config, column: str, transform=lambda v: v) -> tuple[list[int], list[float], list[float]]:
    """Epochs every ok seed ran, with the mean and std of ``column`` (transformed) over seeds."""
    n = len(config.stats.ok)
    points = {e: [transform(x) for x in v] for e, v in curve(config.runs, column).items() if len(v) == n and n}
    epochs = sorted(points)
    return epochs, [statistics.fmean(points[e]) for e in epochs], [statistics.pstdev(points[e]) for e in epochs]


def _band(ax, xs, ys, err, colour, label, ls="-"):
    ax.plot(xs, ys, color=colour, lw=1.6, ls=ls, label=label)
    if len(xs) > 1:
        ax.fill_between(xs, [y - e for y, e in zip(ys, err)], [y + e for y, e in zip(ys, err)],
                        color=colour, alpha=0.15, lw=0)


def _panel(ax, config: Config, metric: str, same_units: bool):
    """Draw one configuration; returns the valid metric's own axis when it has one (else None)."""
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    column = valid_column(config.runs)
    ve, vm, vs = _series(config, column)
    ax.set_title(f"{config.label}: {NAMES.get(config.label, config.label)}", fontsize=9)
    ax.set_xlabel("epoch")
    ax.grid(True, alpha=0.3)
    if not ve:
        ax.text(0.5, 0.5, config.stats.problem() or "no curve", transform=ax.transAxes, ha="center")
        return None
    if same_units:
        te, tm, ts = _series(config, "train_error", lambda v: 1.0 - v)
        _band(ax, te, tm, ts, "C0", f"train {metric} (train mode)")
        _band(ax, ve, vm, vs, "C1", f"valid {metric}")
        common = [i for i, e in enumerate(te) if e in ve]
        if common:
            xs = [te[i] for i in common]
            ax.fill_between(xs, [tm[i] for i in common], [vm[ve.index(te[i])] for i in common],
                            color="0.5", alpha=0.15, lw=0, label="gap")
        ax.set_ylabel(metric)
        ax.legend(fontsize=7, loc="lower right")
        twin = None
    else:
        te, tm, ts = _series(config, "train_loss")
        _band(ax, te, tm, ts, "C0", "train loss")
        ax.set_ylabel("train loss", color="C0")
        twin = ax.twinx()
        _band(twin, ve, vm, vs, "C1", f"valid {metric}")
        twin.set_ylabel(f"valid {metric}", color="C1")
        lines = ax.get_lines() + twin.get_lines()
        ax.legend(lines, [line.get_label() for line in lines], fontsize=7, loc="upper right")
    bests = [m.best_epoch for m in (measures(r) for r in config.stats.ok) if m is not None]
    if bests:
        ax.axvline(statistics.fmean(bests), color="C1", ls=":", lw=1.0)
    return twin


def _same_limits(axes) -> None:
    """One y range for all ``axes``, so the panels' gaps can be compared by eye."""
    axes = [a for a in axes if a is not None and a.has_data()]
    if axes:
        lo = min(a.get_ylim()[0] for a in axes)
        hi = max(a.get_ylim()[1] for a in axes)
        for a in axes:
            a.set_ylim(lo, hi)


def write_gap_figure(task: str, configs: Mapping[str, Config], path: Path, metric: str, same_units: bool) -> Path:
    """One PNG: a panel per configuration (three per row), train vs valid, mean ± std over seeds,
    on the same y range in every panel; the dotted line is the mean best valid epoch."""
    plt = pp.pyplot()
    items = list(configs.values())
    cols = min(3, max(1, len(items)))
    rows = (len(items) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(5.4 * cols, 3.8 * rows), squeeze=False)
    drawn, twins = [], []
    for i, ax in enumerate(ax for row in axes for ax in row):
        if i < len(items):
            twins.append(_panel(ax, items[i], metric, same_units))
            drawn.append(ax)
        else:
            ax.axis("off")
    _same_limits(drawn)
    _same_limits(twins)
    fig.suptitle(f"{task}: train vs valid per epoch (mean ± std over seeds; dotted: mean best valid epoch)",
                 fontsize=11)
    fig.tight_layout()
    return pp.save_png(fig, path)
