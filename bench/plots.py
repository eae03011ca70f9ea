"""PNG figures from run records and fitted models (matplotlib, headless)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

import numpy as np

from .spec import RunRecord

_NOT_METRICS = {"epoch", "lr", "seconds", "train_loss", "member", "note"}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # headless: never needs a display
    import matplotlib.pyplot as plt

    return plt


def _save(plt, fig, out: Path, title: str) -> Path:
    fig.suptitle(title)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def _valid_key(history: list[dict]) -> str | None:
    for row in history:
        for k, v in row.items():
            if k not in _NOT_METRICS and isinstance(v, (int, float)):
                return k
    return None


def learning_curves(records: Iterable[RunRecord], out: Path, title: str = "") -> Path:
    """Train loss and the valid metric per epoch, one line per run (first ensemble member)."""
    plt = _pyplot()
    fig, (ax_loss, ax_valid) = plt.subplots(1, 2, figsize=(12, 4.5))
    drawn = 0
    for rec in sorted(records, key=lambda r: r.label):
        rows = [r for r in rec.history if "train_loss" in r and r.get("member", 0) == 0]
        if not rows:
            continue
        key = _valid_key(rows)
        epochs = [r["epoch"] for r in rows]
        name = f"{rec.label} (seed {rec.spec.get('seed')})"
        ax_loss.plot(epochs, [r["train_loss"] for r in rows], marker=".", label=name)
        if key:
            ax_valid.plot(epochs, [r.get(key, np.nan) for r in rows], marker=".", label=name)
            ax_valid.set_ylabel(key)
        drawn += 1
    if not drawn:
        plt.close(fig)
        raise ValueError("no run with a per-epoch history among the records")
    ax_loss.set(xlabel="epoch", ylabel="train loss", title="training loss")
    ax_valid.set(xlabel="epoch", title="valid metric")
    ax_valid.legend(fontsize=8)
    return _save(plt, fig, out, title)


def pca_2d(matrix: np.ndarray) -> np.ndarray:
    """First two principal components of the rows (numpy SVD; no extra dependency)."""
    centred = matrix - matrix.mean(axis=0, keepdims=True)
    if centred.shape[1] < 2:
        return np.column_stack([centred[:, 0], np.zeros(len(centred))])
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    return u[:, :2] * s[:2]


def embedding_projection(embeddings: dict[str, np.ndarray], labels: dict[str, list] | None,
                         columns: list[str], out: Path, title: str = "", max_labels: int = 40) -> Path:
    """One panel per column: its learned embedding vectors projected to 2-D with PCA."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(columns), figsize=(6 * len(columns), 5.5), squeeze=False)
    for ax, col in zip(axes[0], columns):
        if col not in embeddings:
            raise KeyError(f"no embedding for column {col!r}; have {', '.join(embeddings)}")
        xy = pca_2d(np.asarray(embeddings[col], dtype=np.float64))
        names = (labels or {}).get(col) or list(range(len(xy)))
        ax.scatter(xy[:, 0], xy[:, 1], s=12 if len(xy) > max_labels else 40, alpha=0.7)
        if len(xy) <= max_labels:
            for (x, y), name in zip(xy, names):
                ax.annotate(str(name), (x, y), fontsize=9, xytext=(3, 3), textcoords="offset points")
        ax.set(title=f"{col} ({len(xy)} levels, dim {embeddings[col].shape[1]})", xlabel="PC 1", ylabel="PC 2")
    return _save(plt, fig, out, title)


def _headline_cells(section) -> list[tuple[str, str, Any, Any]]:
    """(row label, column suffix, metric cell, fit-seconds cell) for the headline metric."""
    by_h = {h: i for i, h in enumerate(section.headers)}
    out = []
    for label, cells in section.rows:
        for h, suffix in section.headline:
            if h in by_h and cells[by_h[h]].kind == "metric":
                fit = cells[by_h[f"fit s{suffix}"]] if f"fit s{suffix}" in by_h else None
                out.append((label, suffix, cells[by_h[h]], fit))
    return out


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
            for label, suf, cell, _ in _headline_cells(s):
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
        for label, suffix, cell, fit in _headline_cells(s):
            if cell.mean is None or fit is None or fit.mean is None or len(fit.values) != len(cell.values):
                continue
            ax.scatter(np.maximum(fit.values, 1e-3), cell.values, s=30, alpha=0.8, label=label + suffix)
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
