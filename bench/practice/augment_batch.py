"""The augmentation page's picture: one fixed batch of training images under each configuration of
the suite, drawn with the very policies the runs trained with (bench.nn.augment_policy, seeded), so
a reader sees what the network saw.

The images come from the data folder, loaded as the runs loaded them (the records' dataset,
parameters and split; the split fingerprint is checked against the records'), the first training
image of each of the first ``n`` classes. Each row applies its ``augment`` parameter to that batch
with a fresh ``torch.Generator`` seeded with ``seed``; a mixup row then mixes the augmented batch
(bench.nn.mixup, its alpha, the same seed) and names the weight; a test-time flip row shows the
mirror images whose predictions are averaged with the originals'.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from bench.core.spec import RunSpec
from bench.plugins.registry import Registry
from bench.practice.page_plots import pyplot, save_png
from bench.practice.suite_runs import Run

NAME = "batch.png"


@dataclass
class Batch:
    images: np.ndarray  # (n, H, W, C) uint8
    classes: list[Any]  # each image's label
    source: str  # dataset[params]/split, fingerprint


def load_batch(reg: Registry, runs: Sequence[Run], data_dir: Path, cache_dir: Path, n: int = 8) -> Batch:
    """The first training image of each of the first ``n`` classes of the runs' data. FilesMissing
    propagates (its message says where to get the files); ValueError when the data loaded now is
    not the data the records were made on (another split fingerprint) or has no images."""
    from bench.run.execute import load_task

    rec = next(r.record for r in runs if r.record is not None)
    s = rec.spec
    spec = RunSpec(suite="", dataset=s["dataset"], dataset_params=tuple(sorted(s.get("dataset_params", {}).items())),
                   split=s["split"], method="", params=(), seed=0, split_seed=int(s.get("split_seed", 0)))
    task = load_task(reg, spec, Path(data_dir), Path(cache_dir))
    want = rec.split.get("fingerprint")
    if want and task.split.fingerprint != want:
        raise ValueError(f"the data in {data_dir} gives split fingerprint {task.split.fingerprint}, the records "
                         f"were made on {want}: point --data-dir at the data the suite ran on")
    train = task.part("train")
    x, y = np.asarray(train.X), np.asarray(train.y)
    if x.ndim != 4:
        raise ValueError(f"dataset {spec.dataset} has no (N, H, W, C) images (shape {x.shape})")
    rows = [int(np.flatnonzero(y == c)[0]) for c in np.unique(y)[:n]]
    if len(rows) < n:  # fewer classes than images wanted: fill with the next images in order
        rows += [i for i in range(len(y)) if i not in rows][:n - len(rows)]
    return Batch(x[rows], [y[i] for i in rows],
                 f"{spec.dataset}/{spec.split} (fingerprint {task.split.fingerprint}), train rows {rows}")


def row_images(params: dict[str, Any], images: np.ndarray, seed: int) -> tuple[np.ndarray, str]:
    """The batch as this configuration's training shows it (test-time flip: the mirror images its
    predictions average in), and a note."""
    import torch

    from bench.nn.augment_policy import policy_from_param
    from bench.nn.mixup import Mixup

    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2)  # (n, C, H, W)
    if params.get("tta"):
        return (x.flip(3).permute(0, 2, 3, 1).numpy(),
                f"test time: each test image's mirror (shown) is averaged in; trains with {params.get('augment')}")
    policy = policy_from_param(params.get("augment"))
    note = ""
    if policy is not None:
        x = policy(x, torch.Generator().manual_seed(seed))
    alpha = float(params.get("mixup") or 0)
    if alpha:
        state = Mixup(alpha, seed)
        x = state.mix(x).round().clamp(0, 255).to(torch.uint8)
        perm, lam = state.pairing
        note = f"mixup λ = {lam:.2f}, partners {perm.tolist()}"
    return x.permute(0, 2, 3, 1).numpy(), note


def draw(rows: Sequence[tuple[str, np.ndarray, str]], batch: Batch, path: Path, seed: int) -> Path:
    """A grid: one row per configuration (label on the left, its note under it), one column per image."""
    plt = pyplot()
    n_rows, n_cols = len(rows), len(batch.images)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(1.15 * n_cols + 2.4, 1.25 * n_rows), squeeze=False)
    grey = batch.images.shape[-1] == 1
    for i, (label, images, note) in enumerate(rows):
        for j in range(n_cols):
            ax = axes[i][j]
            img = images[j][..., 0] if grey else images[j]
            ax.imshow(img, cmap="gray" if grey else None, vmin=0, vmax=255, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
        axes[i][0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
        if note:
            axes[i][n_cols - 1].text(1.05, 0.5, note, transform=axes[i][n_cols - 1].transAxes, fontsize=6,
                                     va="center", wrap=True)
    fig.suptitle(f"one batch under each configuration (seed {seed}): {batch.source}", fontsize=8)
    fig.tight_layout()
    return save_png(fig, path)


def write_batch(rows: Sequence[Any], batch: Batch, out_dir: Path, seed: int = 0) -> tuple[Path, str]:
    """OUT/batch.png for the page's rows (bench.practice.augment_page.Row) and its caption."""
    classes = f"classes {', '.join(map(str, batch.classes))}"
    drawn, seen = [], {(batch.images.tobytes(), "")}
    for r in rows:
        images, note = row_images(dict(r.params), batch.images, seed)
        key = (images.tobytes(), note)
        if key == (batch.images.tobytes(), "") and not drawn:
            drawn.append((f"{r.label} (the original images)", images, classes))
        if key in seen:  # the originals, or a configuration that trains like one above (the same spec)
            continue
        seen.add(key)
        drawn.append((r.label, images, note))
    if not drawn or not drawn[0][0].endswith("(the original images)"):
        drawn.insert(0, ("original (no augmentation)", batch.images, classes))
    path = draw(drawn, batch, Path(out_dir) / NAME, seed)
    caption = (f"The first training image of each of the first {len(batch.images)} classes ({batch.source}), "
               f"under each configuration's augmentation as its runs trained with it (the same policy code, "
               f"one seeded draw, seed {seed}); a mixup row shows the mixed images the network was fed, the "
               "test-time flip row the mirror images averaged in at prediction.")
    return path, caption


__all__ = ["Batch", "NAME", "draw", "load_batch", "row_images", "write_batch"]
