"""PNG figures from run records and fitted models (matplotlib, headless)."""
from __future__ import annotations

import re
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from bench.data.paths import atomic_write
from bench.core.spec import RunRecord
from bench.report.table import headline_cells

_NOT_METRICS = {"epoch", "lr", "seconds", "train_loss", "member", "note"}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # headless: never needs a display
    import matplotlib.pyplot as plt

    return plt


_DRAWING: ContextVar[bool] = ContextVar("drawing", default=True)


@contextmanager
def dry_run():
    """Build figures only as far as knowing whether they can be drawn (their ValueError), without
    laying out or writing any PNG: `bench report --check` needs a page's figure list, not its pixels."""
    token = _DRAWING.set(False)
    try:
        yield
    finally:
        _DRAWING.reset(token)


def _save(plt, fig, out: Path, title: str) -> Path:
    if not _DRAWING.get():
        plt.close(fig)
        return Path(out)
    fig.suptitle(title)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(out, private=False) as f:  # a link planted in the results folder is replaced
        fig.savefig(f, dpi=110, format=out.suffix.lstrip(".") or None)
    plt.close(fig)
    return out


def valid_key(history: list[dict]) -> str | None:
    """The per-epoch validation metric a history holds (the first numeric key that is not a
    bookkeeping one), or None."""
    for row in history:
        for k, v in row.items():
            if k not in _NOT_METRICS and isinstance(v, (int, float)):
                return k
    return None


def learning_curves(records: Iterable[RunRecord], out: Path, title: str = "") -> Path:
    """Train loss and the valid metric per epoch, one line per run (first ensemble member).

    Runs of one table row (several seeds or folds) share a colour and one legend entry."""
    plt = _pyplot()
    fig, (ax_loss, ax_valid) = plt.subplots(1, 2, figsize=(13, 4.5))
    runs = [(rec, [r for r in rec.history if "train_loss" in r and r.get("member", 0) == 0])
            for rec in sorted(records, key=lambda r: r.label)]
    runs = [(rec, rows) for rec, rows in runs if rows]
    if not runs:
        plt.close(fig)
        raise ValueError("no run with a per-epoch history among the records")
    labels = list(dict.fromkeys(rec.label for rec, _ in runs))
    counts = {label: sum(rec.label == label for rec, _ in runs) for label in labels}
    for rec, rows in runs:
        i = labels.index(rec.label)
        style = {"color": f"C{i % 10}", "ls": "-" if i < 10 else "--", "marker": "."}
        first = next(r for r, _ in runs if r.label == rec.label) is rec
        name = rec.label + (f" ({counts[rec.label]} runs)" if counts[rec.label] > 1
                            else f" (seed {rec.spec.get('seed')})")
        epochs = [r["epoch"] for r in rows]
        ax_loss.plot(epochs, [r["train_loss"] for r in rows], label=name if first else None, **style)
        key = valid_key(rows)
        if key:
            ax_valid.plot(epochs, [r.get(key, np.nan) for r in rows], label=name if first else None, **style)
            ax_valid.set_ylabel(key)
    ax_loss.set(xlabel="epoch", ylabel="train loss", title="training loss")
    ax_valid.set(xlabel="epoch", title="valid metric")
    ax_valid.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    return _save(plt, fig, out, title)


def pca_2d(matrix: np.ndarray) -> np.ndarray:
    """First two principal components of the rows (numpy SVD; no extra dependency)."""
    centred = matrix - matrix.mean(axis=0, keepdims=True)
    if centred.shape[1] < 2:
        return np.column_stack([centred[:, 0], np.zeros(len(centred))])
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    return u[:, :2] * s[:2]


def embedding_projection(embeddings: dict[str, np.ndarray], labels: dict[str, list] | None,
                         columns: list[str], out: Path, title: str = "", max_labels: int = 40,
                         label_codes: dict[str, list[int]] | None = None) -> Path:
    """One panel per column: its learned embedding vectors projected to 2-D with PCA.

    Every level is labelled when there are at most ``max_labels``; otherwise only the codes in
    ``label_codes[column]`` (say, the most rated movies), drawn in another colour."""
    plt = _pyplot()
    wide = 9 if label_codes else 6
    fig, axes = plt.subplots(1, len(columns), figsize=(wide * len(columns), wide - 0.5), squeeze=False)
    for ax, col in zip(axes[0], columns):
        if col not in embeddings:
            raise KeyError(f"no embedding for column {col!r}; have {', '.join(embeddings)}")
        xy = pca_2d(np.asarray(embeddings[col], dtype=np.float64))
        names = (labels or {}).get(col) or list(range(len(xy)))
        ax.scatter(xy[:, 0], xy[:, 1], s=12 if len(xy) > max_labels else 40, alpha=0.5 if label_codes else 0.7)
        chosen = (label_codes or {}).get(col)
        if len(xy) <= max_labels and not chosen:
            for (x, y), name in zip(xy, names):
                ax.annotate(str(name), (x, y), fontsize=9, xytext=(3, 3), textcoords="offset points")
        elif chosen:
            ax.scatter(xy[chosen, 0], xy[chosen, 1], s=30, color="tab:red")
            for code in chosen:
                ax.annotate(str(names[code]), tuple(xy[code]), fontsize=8, xytext=(3, 3), textcoords="offset points")
        ax.set(title=f"{col} ({len(xy)} levels, dim {embeddings[col].shape[1]})", xlabel="PC 1", ylabel="PC 2")
    return _save(plt, fig, out, title)


def _panels(plt, n: int, width: float, height: float):
    fig, axes = plt.subplots(1, n, figsize=(width * n, height), squeeze=False)
    return fig, axes[0]


def metric_bars(sections, out: Path, title: str = "") -> Path:
    """One panel per dataset: the headline metric per row (bars grouped by column), mean with
    error bars of ± one standard deviation over seeds; failed runs written where the bar would be."""
    plt = _pyplot()
    sections = [s for s in sections if s.headline]
    if not sections:
        raise ValueError("no section with a headline metric to plot")
    fig, axes = _panels(plt, len(sections), max(6.5, 1.2 + 0.9 * max(len(s.rows) for s in sections)), 4.8)
    for ax, s in zip(axes, sections):
        labels = list(dict.fromkeys(label for label, _ in s.rows))
        suffixes = [suffix for _, suffix in s.headline]
        width = 0.8 / max(len(suffixes), 1)
        metric = s.headline[0][0][: len(s.headline[0][0]) - len(s.headline[0][1])] or "metric"
        for j, suffix in enumerate(suffixes):
            xs, means, errs = [], [], []
            for label, suf, cell, _ in headline_cells(s):
                if suf != suffix:
                    continue
                x = labels.index(label) + (j - (len(suffixes) - 1) / 2) * width
                if cell.mean is not None:
                    xs.append(x)
                    means.append(cell.mean)
                    errs.append(np.std(cell.values, ddof=1) if len(cell.values) > 1 else 0.0)
                elif cell.status != "missing":
                    ax.annotate(cell.status, (x, 0), ha="center", va="bottom", rotation=90, fontsize=8,
                                color="firebrick")
            ax.bar(xs, means, width=width, yerr=errs, capsize=3, label=f"{metric}{suffix}")
        ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right", fontsize=8)
        ax.set_xlim(-0.6, len(labels) - 0.4)  # room for a failed run's label where its bar would be
        ax.set(title=s.title, ylabel=f"{metric} ({'lower' if s.lower_is_better else 'higher'} is better)")
        if len(suffixes) > 1:
            ax.legend(fontsize=8)
    return _save(plt, fig, out, title or "mean ± std over seeds")


def time_vs_metric(sections, out: Path, title: str = "") -> Path:
    """One panel per dataset: fit seconds (log scale) against the headline metric, one point per
    seed, one colour per row and column; the cheap-and-good corner is the one to look at."""
    plt = _pyplot()
    sections = [s for s in sections if s.headline]
    fig, axes = _panels(plt, max(len(sections), 1), 6.0, 4.8)
    drawn = 0
    for ax, s in zip(axes, sections):
        before = drawn
        for label, suffix, cell, fit in headline_cells(s):
            if cell.mean is None or fit is None or fit.mean is None or len(fit.values) != len(cell.values):
                continue
            k = drawn - before  # past ten series, colours repeat: the marker tells them apart
            ax.scatter(np.maximum(fit.values, 1e-3), cell.values, s=30, alpha=0.8, label=label + suffix,
                       color=f"C{k % 10}", marker="os^Dv"[(k // 10) % 5])
            drawn += 1
        metric = s.headline[0][0][: len(s.headline[0][0]) - len(s.headline[0][1])] or "metric"
        ax.set_xscale("log")
        ax.set(title=s.title, xlabel="fit seconds (log scale)",
               ylabel=f"{metric} ({'lower' if s.lower_is_better else 'higher'} is better)")
        if drawn > before:
            ax.legend(fontsize=7)
    if not drawn:
        plt.close(fig)
        raise ValueError("no run with both a fit time and a metric among the records")
    return _save(plt, fig, out, title or "fit time vs metric")


def _depth_rows(rec: RunRecord) -> list[dict]:
    return [r for r in rec.history if "train_error" in r or "valid_accuracy" in r]


def depth_curves(records: Iterable[RunRecord], out: Path, title: str = "",
                 families: tuple[str, ...] = ("plain", "resnet")) -> Path:
    """He et al. (2016)'s Fig. 1 / 6: error per epoch, one panel per family (plain, resnet),
    one colour per depth; dashed = training error (of the augmented training batches, as
    trained), solid = error on the held-out valid images."""
    plt = _pyplot()
    by_family: dict[str, list[RunRecord]] = {f: [] for f in families}
    for rec in records:
        variant = str(rec.spec.get("method", rec.label))
        m = re.match(r"^([a-z]+)-(\d+)(-|$)", variant)  # plain-56, resnet-20-nobn; not resnet-fast
        fam = m.group(1) if m and m.group(1) in families else None
        if fam is not None and _depth_rows(rec):
            by_family[fam].append(rec)
    if not any(by_family.values()):
        raise ValueError(f"no run of a {' or '.join(families)} network with a per-epoch error history")
    fig, axes = plt.subplots(1, len(families), figsize=(6 * len(families), 4.5), sharey=True, squeeze=False)
    for ax, fam in zip(axes[0], families):
        recs = sorted(by_family[fam], key=lambda r: [int(t) if t.isdigit() else t
                                                       for t in str(r.spec.get("method")).split("-")])
        for i, rec in enumerate(recs):
            rows = _depth_rows(rec)
            colour = f"C{i}"
            name = str(rec.spec.get("method", rec.label))
            ep = [r["epoch"] for r in rows if "train_error" in r]
            ax.plot(ep, [100 * r["train_error"] for r in rows if "train_error" in r], "--", color=colour,
                    lw=1, label=f"{name} train")
            ep = [r["epoch"] for r in rows if "valid_accuracy" in r]
            ax.plot(ep, [100 * (1 - r["valid_accuracy"]) for r in rows if "valid_accuracy" in r], "-",
                    color=colour, lw=2, label=f"{name} valid (held-out)")
        ax.set(xlabel="epoch", title=f"{fam} networks", ylim=(0, None))
        ax.grid(alpha=0.3)
        if recs:
            ax.legend(fontsize=8)
    axes[0][0].set_ylabel("error (%)")
    return _save(plt, fig, out, title)


def depth_table(records: Iterable[RunRecord]) -> str:
    """A Markdown table of the depth runs: final training error, final valid error, test error."""
    lines = ["| network | epochs | train error (last epoch) | valid error (held-out, last epoch) | "
             "test error | device |", "|---|---|---|---|---|---|"]
    for rec in sorted(records, key=lambda r: str(r.spec.get("method"))):
        rows = _depth_rows(rec)
        if not rows or not re.match(r"^[a-z]+-\d+", str(rec.spec.get("method"))):
            continue
        train = [r["train_error"] for r in rows if "train_error" in r]
        valid = [1 - r["valid_accuracy"] for r in rows if "valid_accuracy" in r]
        acc = rec.metrics.get("accuracy")

        def pct(v):
            return f"{100 * v:.2f} %" if v is not None else "n/a"

        lines.append(f"| {rec.spec.get('method')} | {len(train)} | {pct(train[-1] if train else None)} | "
                     f"{pct(valid[-1] if valid else None)} | {pct(1 - acc if acc is not None else None)} | "
                     f"{rec.hardware or rec.device} |")
    return "\n".join(lines) + "\n"
