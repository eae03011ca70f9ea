"""The practice pages' figures: a grid of panels, each a few lines (mean over seeds, a band of
± one std), drawn headless by matplotlib. Pages build :class:`Panel` s from their runs
(``learning_panels`` for the usual train-loss / valid-metric pair) and ``write_panels`` draws them;
``pyplot`` and ``save_png`` serve the pages that draw their own figures (bench.practice.bn_plots)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from bench.data.paths import atomic_write
from bench.practice.suite_runs import Run, mean_curve, valid_column


@dataclass
class Line:
    name: str
    x: Sequence[float]
    y: Sequence[float]
    err: Sequence[float] | None = None  # ± band (or error bars with ``bars``)
    style: dict[str, Any] = field(default_factory=dict)  # matplotlib plot keywords
    bars: bool = False  # error bars instead of a band
    marks: Sequence[tuple[float, float, str]] = ()  # extra points: (x, y, marker)


@dataclass
class Panel:
    title: str
    xlabel: str
    ylabel: str
    lines: list[Line] = field(default_factory=list)
    xlog: bool = False
    ylog: bool = False
    xint: bool = False  # integer ticks on x (epochs)
    note: str = ""  # text in the panel's corner (e.g. which runs diverged)


def learning_panels(task: str, series: Sequence[tuple[str, Sequence[Run], dict[str, Any]]]) -> list[Panel]:
    """Train loss and valid metric per epoch, one line per (name, runs, style): the mean over the
    seeds that ran ok, ± one std; a series with no ok run is named in the panel's note."""
    column = valid_column([r for _, runs, _ in series for r in runs])
    loss = Panel(f"{task}: training loss", "epoch", "train loss (mean over the epoch)", xint=True)
    valid = Panel(f"{task}: valid {column[len('valid_'):]}", "epoch", column, xint=True)
    gone = []
    for name, runs, style in series:
        shown = False
        for panel, col in ((loss, "train_loss"), (valid, column)):
            epochs, mean, std = mean_curve(runs, col)
            if epochs:
                panel.lines.append(Line(name, epochs, mean, std, style))
                shown = True
        if not shown:
            gone.append(name)
    if gone:
        valid.note = "no curve (diverged or not run): " + ", ".join(gone)
    return [loss, valid]


def pyplot():
    """matplotlib's pyplot on the headless backend."""
    import matplotlib

    matplotlib.use("Agg")  # headless
    import matplotlib.pyplot as plt

    return plt


def _draw(ax, panel: Panel) -> None:
    for i, line in enumerate(panel.lines):
        style = {"color": f"C{i % 10}", "lw": 1.6, **line.style}
        xs = list(line.x)
        ys = [v if math.isfinite(v) else math.nan for v in line.y]
        if line.bars and line.err is not None:
            ax.errorbar(xs, ys, yerr=list(line.err), label=line.name, capsize=3, **style)
        else:
            ax.plot(xs, ys, label=line.name, **style)
            if line.err is not None and len(xs) > 1:
                lo = [y - e for y, e in zip(ys, line.err)]
                hi = [y + e for y, e in zip(ys, line.err)]
                ax.fill_between(xs, lo, hi, color=style["color"], alpha=0.15, lw=0)
        for x, y, marker in line.marks:
            ax.plot([x], [y], marker, color=style["color"], ms=10, mfc="none" if marker == "o" else style["color"])
    ax.set_title(panel.title, fontsize=10)
    ax.set_xlabel(panel.xlabel)
    ax.set_ylabel(panel.ylabel)
    if panel.xlog:
        ax.set_xscale("log")
    if panel.ylog:
        ax.set_yscale("log")
    if panel.xint:
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(True, alpha=0.3)
    if len(panel.lines) > 5:  # many lines: the legend beside the panel, not over the curves
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    elif panel.lines:
        ax.legend(fontsize=7)
    if panel.note:
        ax.text(0.01, 0.01, panel.note, transform=ax.transAxes, fontsize=7, va="bottom", color="0.3")


def write_panels(rows: Sequence[Sequence[Panel]], path: Path, title: str = "") -> Path:
    """One PNG with a row of panels per entry of ``rows`` (a task, usually)."""
    plt = pyplot()
    n_rows, n_cols = len(rows), max(len(r) for r in rows)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(6.2 * n_cols, 4.2 * n_rows), squeeze=False)
    for i, row in enumerate(rows):
        for j in range(n_cols):
            if j < len(row):
                _draw(axes[i][j], row[j])
            else:
                axes[i][j].axis("off")
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return save_png(fig, path)


def save_png(fig, path: Path) -> Path:
    """Write ``fig`` as a PNG at ``path`` (its folder made if missing) and close it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, private=False) as fh:  # a link planted there is replaced, not followed
        fig.savefig(fh, dpi=100, format="png")
    pyplot().close(fig)
    return path
