"""`bench plot landscape`, `bench plot filters` and `bench practice pictures` without the command
line: train (or read back) the networks, measure, and draw. The page calls the same two functions
as the plot commands."""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from bench.core import environment
from bench.plugins.registry import Registry
from bench.practice import filters as flt
from bench.practice.landscape import RADII, Landscape, landscape
from bench.practice.pictures_nets import Trained, fixed_images, params_text, train, valid_accuracy
from bench.practice.pictures_plots import filters_figure, landscape_figure, patches_figure, rise_figure


@dataclass
class Setup:
    """What every picture's networks share: the data, the training parameters, the seed, where."""

    registry: Registry
    dataset: str
    dataset_params: dict[str, Any]
    split: str | None
    params: dict[str, Any]  # overrides on top of each variant's defaults
    seed: int
    device: str
    data_dir: Path
    cache_dir: Path
    threads: int | None = None
    echo: Callable[[str], None] = lambda line: None

    def train(self, variant: str) -> Trained:
        self.echo(f"{variant}: training ({params_text(self.params)}) or reading it back from the cache ...")
        t = train(self.registry, self.dataset, self.dataset_params, self.split, variant, self.params, self.seed,
                  device=self.device, data_dir=self.data_dir, cache_dir=self.cache_dir, threads=self.threads)
        self.echo(f"{variant}: {'trained' if t.trained_now else 'read back from the cache'} in {t.seconds:.0f} s")
        return t


@dataclass
class LandscapeSettings:
    points: int = 21
    span: float = 1.0
    radii: Sequence[float] = RADII
    angles: int = 16
    images: int = 256  # the fixed training images the loss is measured on
    batch_size: int = 256


@dataclass
class Surface:
    """One network's landscape and what it cost."""

    trained: Trained
    landscape: Landscape
    valid_accuracy: float | None
    seconds: float  # training (or reading back) plus the landscape

    def to_json(self) -> dict[str, Any]:
        t = self.trained
        return {"variant": t.variant, "params": t.params, "seed": t.seed, "dataset": t.data, "split": t.split,
                "fingerprint": t.fingerprint, "trained_now": t.trained_now, "fit_seconds": round(t.seconds, 1),
                "fit_info": t.info, "valid_accuracy": self.valid_accuracy, "seconds": round(self.seconds, 1),
                "landscape": self.landscape.to_json()}


@dataclass
class FilterPictures:
    trained: Trained
    first_layer: str
    filters: Any  # (out, k, k, in) in 0..1
    patches: flt.Patches
    image_rows: list[int] = field(default_factory=list)  # the valid rows searched for patches

    def to_json(self) -> dict[str, Any]:
        p = self.patches
        return {"variant": self.trained.variant, "params": self.trained.params, "seed": self.trained.seed,
                "dataset": self.trained.data, "fingerprint": self.trained.fingerprint,
                "first_layer": self.first_layer, "filters": list(self.filters.shape), "layer": p.layer,
                "receptive_field": {"size": list(p.field.size), "step": list(p.field.step)},
                "channels": p.channels, "images_searched": len(self.image_rows),
                "top_rows": [[self.image_rows[i] for i in r] for r in p.rows], "top_values": p.values}


def landscape_title(surfaces: Sequence[Surface], s: LandscapeSettings) -> str:
    t = surfaces[0].trained
    return (f"Loss landscapes (Li et al. 2018): {', '.join(x.trained.variant for x in surfaces)} "
            f"({params_text(t.params)}) on {t.data}/{t.split} (fingerprint {t.fingerprint}), seed {t.seed}; "
            f"mean cross-entropy on {s.images} fixed training images, BN in eval mode; two seeded Gaussian "
            f"directions, filter-normalized, biases/BN not moved; grid {s.points}x{s.points} on "
            f"[-{s.span:g}, {s.span:g}]^2")


def landscapes(setup: Setup, variants: Sequence[str], s: LandscapeSettings) -> list[Surface]:
    """Each variant trained (or read back) and its loss surface, on the same fixed training images
    and along the same seeded directions."""
    out = []
    for variant in variants:
        start = time.perf_counter()
        t = setup.train(variant)
        x, y, _ = fixed_images(t, "train", s.images, setup.seed)
        setup.echo(f"{variant}: loss surface on {len(y)} training images, {s.points}x{s.points} grid "
                   f"+ {len(s.radii)} circles of {s.angles} points ...")
        ls = landscape(t.net, x, y, points=s.points, span=s.span, radii=s.radii, angles=s.angles, seed=setup.seed,
                       batch_size=s.batch_size, device=environment.resolve_device(setup.device), echo=setup.echo)
        acc = valid_accuracy(t)
        out.append(Surface(t, ls, acc, time.perf_counter() - start))
        rises = ", ".join(f"r={r:g}: {ls.rise(k):.4g}" for k, r in enumerate(ls.radii))
        setup.echo(f"{variant}: centre loss {ls.centre:.4g}; loss rise {rises}; {out[-1].seconds:.0f} s in all")
    return out


def draw_landscapes(surfaces: Sequence[Surface], s: LandscapeSettings, path: Path,
                    rise_path: Path | None = None) -> list[Path]:
    title = landscape_title(surfaces, s)
    nets = [(x.trained.variant, x.landscape) for x in surfaces]
    written = [landscape_figure(nets, path, title, title)]
    if rise_path is not None:
        written.append(rise_figure(nets, rise_path, "Loss rise at filter-normalized distance r: " + title, title))
    return written


@dataclass
class FilterSettings:
    layer: str | None = None  # default: filters.default_layer
    channels: int = 6
    top: int = 9
    images: int = 500  # valid images searched for the top patches


def filter_pictures(setup: Setup, variant: str, s: FilterSettings, trained: Trained | None = None
                    ) -> FilterPictures:
    """The variant's first-layer filters and, for ``s.channels`` channels of ``s.layer``, the top
    patches among a fixed seeded set of its valid images (the network did not train on them)."""
    t = trained or setup.train(variant)
    x, _, rows = fixed_images(t, "valid", s.images, setup.seed)
    net = copy.deepcopy(t.net).cpu().eval()
    name, conv = flt.first_conv(net, flt.as_nchw(x[:1]))
    patches = flt.top_patches(net, x, s.layer, n_channels=s.channels, k=s.top)
    setup.echo(f"{variant}: first layer {name} {tuple(conv.weight.shape)}; top {s.top} patches of "
               f"{len(patches.channels)} channels of {patches.layer} (receptive field {patches.field.size[0]} px) "
               f"among {len(rows)} valid images")
    return FilterPictures(t, name, flt.filter_images(conv), patches, [int(r) for r in rows])


def draw_filters(fp: FilterPictures, path: Path, patches_path: Path) -> list[Path]:
    t, p = fp.trained, fp.patches
    made = f"{t.label()}"
    f_title = f"First-layer filters ({fp.first_layer}, {fp.filters.shape[1]}x{fp.filters.shape[2]}, each scaled " \
              f"min..max) of {made}"
    p_title = (f"Top {len(p.crops[0]) if p.crops else 0} patches per channel of {p.layer} (receptive field "
               f"{p.field.size[0]}x{p.field.size[1]} px; grey: outside the image) among {len(fp.image_rows)} valid "
               f"images; {made}")
    return [filters_figure(fp.filters, path, f_title, f_title), patches_figure(p, patches_path, p_title, p_title)]
