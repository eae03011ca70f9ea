"""PNG figures from run records and fitted models (matplotlib, headless)."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

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
