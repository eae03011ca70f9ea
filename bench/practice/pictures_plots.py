"""The deck's pictures as PNGs (matplotlib, headless): the loss landscapes (contours and surfaces,
side by side per network), the loss rise against the distance, a first layer's filters and the
top patches of a deeper layer's channels. Every figure says in its title and in its PNG metadata
(``Description``) which variant, data, parameters and seed made it."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from bench.data.paths import atomic_write
from bench.practice.filters import Patches
from bench.practice.landscape import Landscape

SURFACE_CAP = 10.0  # surfaces are drawn up to this loss (the plain nets' walls rise far above it)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig, path: Path, description: str) -> Path:
    """``fig`` as a PNG at ``path`` (its folder made; a link there replaced), ``description`` in its
    metadata; closes the figure."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, private=False) as fh:
        fig.savefig(fh, dpi=100, format="png", metadata={"Description": description, "Software": "bench"})
    _pyplot().close(fig)
    return path


def _wrap(text: str, width: int = 110) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width))


def landscape_figure(nets: Sequence[tuple[str, Landscape]], path: Path, title: str, description: str) -> Path:
    """One column per (name, landscape): the contour plot (the same loss levels in every panel, up to
    SURFACE_CAP) and below it the surface (clipped there)."""
    plt = _pyplot()
    n = len(nets)
    fig = plt.figure(figsize=(5.2 * n, 9.6))
    low = min(float(np.min(ls.loss)) for _, ls in nets)
    high = max(float(np.max(ls.loss)) for _, ls in nets)
    top = min(SURFACE_CAP, high) if high > low else low + 1.0
    levels = np.linspace(low, top, 25)  # evenly spaced up to the cap, as Li et al. draw them
    for j, (name, ls) in enumerate(nets):
        a = np.asarray(ls.axis)
        z = np.asarray(ls.loss)
        ax = fig.add_subplot(2, n, j + 1)
        cs = ax.contour(a, a, z, levels=levels, cmap="viridis", linewidths=0.8)
        ax.clabel(cs, cs.levels[::4], fontsize=6, fmt="%.2g")
        ax.plot([0], [0], "r+", ms=9)
        ax.set_title(f"{name}: loss contours\ncentre {ls.centre:.3g}, rise at r=1: {ls.rise(len(ls.radii) - 1):.3g}"
                     if ls.radii else f"{name}: loss contours", fontsize=9)
        ax.set_xlabel("direction 1 (filter-normalized)")
        ax.set_ylabel("direction 2")
        ax.set_aspect("equal")
        ax3 = fig.add_subplot(2, n, n + j + 1, projection="3d")
        xx, yy = np.meshgrid(a, a)
        ax3.plot_surface(xx, yy, np.minimum(z, top), cmap="viridis", linewidth=0, antialiased=True,
                         vmin=low, vmax=top)
        ax3.set_zlim(low, top)
        ax3.set_title(f"{name}: loss surface" + (f" (clipped at {top:g})" if high > top else ""), fontsize=9)
        ax3.set_xlabel("dir. 1", fontsize=8)
        ax3.set_ylabel("dir. 2", fontsize=8)
    fig.suptitle(_wrap(title), fontsize=9)
    fig.tight_layout()
    return save(fig, path, description)


def rise_figure(nets: Sequence[tuple[str, Landscape]], path: Path, title: str, description: str) -> Path:
    """The mean loss rise on the circle of radius r against r (band: the least and largest rise on
    the circle), one line per network; dashed for networks without skip connections (name 'plain')."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for name, ls in nets:
        r = [0.0] + list(ls.radii)
        mean = [0.0] + [ls.rise(k) for k in range(len(ls.radii))]
        lo = [0.0] + [float(np.min(c)) - ls.centre for c in ls.circle_loss]
        hi = [0.0] + [ls.max_rise(k) for k in range(len(ls.radii))]
        line, = ax.plot(r, mean, "o-" if "plain" not in name else "s--", label=name)
        ax.fill_between(r, lo, hi, color=line.get_color(), alpha=0.15)
    ax.set_xlabel("filter-normalized distance r from the trained weights")
    ax.set_ylabel("loss rise over the centre (mean on the circle)")
    ax.set_yscale("symlog", linthresh=0.01)  # the rises span orders of magnitude (and may dip below 0)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(_wrap(title, 80), fontsize=8)
    fig.tight_layout()
    return save(fig, path, description)


def filters_figure(images: np.ndarray, path: Path, title: str, description: str, columns: int = 8) -> Path:
    """A grid of filters (out, k, k, in) scaled to 0..1: colour for 3 inputs, grey for 1."""
    plt = _pyplot()
    n = len(images)
    cols = min(columns, n)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.1 * cols + 0.4, 1.1 * rows + 1.0), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if i >= n:
            ax.axis("off")
            continue
        img = images[i]
        if img.shape[-1] == 3:
            ax.imshow(img, interpolation="nearest")
        else:
            ax.imshow(img[..., 0], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(str(i), fontsize=7)
    fig.suptitle(_wrap(title, 60), fontsize=8)
    fig.tight_layout()
    return save(fig, path, description)


def patches_figure(p: Patches, path: Path, title: str, description: str) -> Path:
    """One row per channel: its top patches, strongest first, with their activation."""
    plt = _pyplot()
    rows, cols = len(p.channels), max(len(r) for r in p.crops)
    fig, axes = plt.subplots(rows, cols, figsize=(1.0 * cols + 1.2, 1.1 * rows + 1.0), squeeze=False)
    for i, c in enumerate(p.channels):
        for j, ax in enumerate(axes[i]):
            ax.set_xticks([])
            ax.set_yticks([])
            if j >= len(p.crops[i]):
                ax.axis("off")
                continue
            img = p.crops[i][j]
            ax.imshow(img if img.shape[-1] == 3 else img[..., 0], cmap=None if img.shape[-1] == 3 else "gray",
                      vmin=0, vmax=255, interpolation="nearest")
            ax.set_title(f"{p.values[i][j]:.2g}", fontsize=6)
        axes[i][0].set_ylabel(f"ch {c}", fontsize=8)
    fig.suptitle(_wrap(title, 70), fontsize=8)
    fig.tight_layout()
    return save(fig, path, description)
