"""The figures of `bench practice bn`: a heat map of the test metric over learning rate x batchnorm
(diverged cells marked), learning curves of both arms at the highest rate both survive, and the
validation curves of the rating networks with and without a y-range."""
from __future__ import annotations

import math
from pathlib import Path

from bench.practice.bn import Grid, arm_name, label
from bench.practice.bn_ranges import Ranges
from bench.practice.page_plots import pyplot, save_png
from bench.practice.suite_runs import DIVERGED, MISSING, mean

ARMS = (True, False)
COLOURS = {True: "tab:blue", False: "tab:red"}


def heatmap(g: Grid, path: Path) -> Path:
    """Rows: with / without batchnorm; columns: learning rates; colour: mean test metric over the
    usable seeds (brighter = better); text: the mean, "div k/n" where seeds diverged, "not run"."""
    import numpy as np

    plt = pyplot()
    lrs = g.lrs
    values = np.full((2, len(lrs)), np.nan)
    for i, bn in enumerate(ARMS):
        for j, lr in enumerate(lrs):
            m = g.test_metric(bn, lr)[0]
            values[i, j] = np.nan if m is None else m
    fig, ax = plt.subplots(figsize=(max(8.0, 1.3 * len(lrs) + 2.5), 3.4))
    cmap = plt.get_cmap("viridis_r" if g.metric_lower else "viridis").with_extremes(bad="lightgrey")
    finite = values[np.isfinite(values)]
    im = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, aspect="auto",
                   vmin=finite.min() if finite.size else None, vmax=finite.max() if finite.size else None)
    for i, bn in enumerate(ARMS):
        for j, lr in enumerate(lrs):
            runs = g.cell(bn, lr)
            div = sum(r.status == DIVERGED for r in runs)
            text = "" if math.isnan(values[i, j]) else f"{values[i, j]:.3f}"
            if all(r.status == MISSING for r in runs):
                text = "not run"
            if div:
                text += f"\ndiv {div}/{len(runs)}"
            ax.text(j, i, text.strip(), ha="center", va="center", fontsize=9, color=_ink(im, values[i, j]))
    ax.set_xticks(range(len(lrs)), [f"{lr:g}" for lr in lrs])
    ax.set_yticks(range(2), [f"{g.variant(bn)}\n({arm_name(bn)})" for bn in ARMS], fontsize=8)
    p = g.runs[0].params
    ax.set_xlabel(f"learning rate ({p.get('optimizer', '?')}, momentum {p.get('momentum', '?')}, "
                  f"{p.get('schedule', '?')} schedule)")
    fig.colorbar(im, ax=ax, label=f"test {label(g.metric)} ({'lower' if g.metric_lower else 'higher'} is better)")
    ax.set_title(f"{g.section}\ntest {label(g.metric)}, mean over the usable seeds (grey: none, every seed "
                 "diverged, failed or not run)", fontsize=9)
    fig.tight_layout()
    return save_png(fig, path)


def _ink(im, value: float) -> str:
    """Black on a light cell (and on grey), white on a dark one."""
    if math.isnan(value):
        return "black"
    r, g, b, _ = im.cmap(im.norm(value))
    return "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.5 else "white"


def _epochs(run, key: str) -> tuple[list[int], list[float]]:
    rows = run.epochs()
    xs = [int(r["epoch"]) for r in rows]
    return xs, [float(r[key]) if isinstance(r.get(key), (int, float)) else math.nan for r in rows]


def curves(g: Grid, lr: float, path: Path) -> Path:
    """Training loss and validation score per epoch at rate ``lr``: a thin line per seed, a thick
    one for the mean, the target as a dotted line."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, key, ylabel in ((axes[0], "train_loss", "training loss"), (axes[1], g.key, g.key)):
        for bn in ARMS:
            series = [_epochs(r, key) for r in g.cell(bn, lr) if r.epochs()]
            for xs, ys in series:
                ax.plot(xs, ys, color=COLOURS[bn], lw=0.8, alpha=0.4)
            if series:
                n = max(len(xs) for xs, _ in series)
                ys = [mean(s[1][e] for s in series if e < len(s[1])) for e in range(n)]
                ax.plot(range(1, n + 1), [math.nan if y is None else y for y in ys], color=COLOURS[bn], lw=2,
                        marker="o", ms=3, label=f"{g.variant(bn)} ({arm_name(bn)})")
        if key == g.key and g.target is not None:
            ax.axhline(g.target, color="grey", ls=":", label=f"target {g.target:.4g}")
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"{g.section}: lr {lr:g}, the highest rate both arms survive (thin: seeds, thick: mean)", fontsize=10)
    fig.tight_layout()
    return save_png(fig, path)


def range_curves(rg: Ranges, path: Path) -> Path:
    """Training loss and validation score per epoch, mean over seeds, one line per (variant, y-range)."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    narrow = {v: nw[0] for v, _ in rg.settings if (nw := rg.narrow_wide(v))}
    for variant, yr in rg.settings:
        runs = [r for r in rg.cell(variant, yr) if r.epochs()]
        for ax, key in ((axes[0], "train_loss"), (axes[1], rg.key)):
            series = [_epochs(r, key) for r in runs]
            if not series:
                continue
            n = max(len(xs) for xs, _ in series)
            ys = [mean(s[1][e] for s in series if e < len(s[1])) for e in range(n)]
            ax.plot(range(1, n + 1), [math.nan if y is None else y for y in ys], marker="o", ms=3,
                    ls="-" if narrow.get(variant) == yr else "--", color=COLOURS[any(r.batchnorm for r in runs)],
                    label=f"{variant}, y-range {yr}")
    for ax, ylabel in ((axes[0], "training loss (MSE)"), (axes[1], rg.key)):
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    for ax in axes:
        ax.xaxis.get_major_locator().set_params(integer=True)
    fig.suptitle(f"{rg.section}: mean over seeds; blue: batchnorm, red: none; solid: the narrow y-range, "
                 "dashed: the wide one", fontsize=10)
    fig.tight_layout()
    return save_png(fig, path)
