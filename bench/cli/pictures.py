"""The deck's pictures on the command line: the options `bench plot landscape`, `bench plot filters`
and `bench practice pictures` share (which network, trained on what), their error handling, and
the page command (bench.practice.pictures_page)."""
from __future__ import annotations

import contextlib
from pathlib import Path

import click

from bench.cli.options import device_option, parse_params, plugins_option, registry_for
from bench.data import paths

DEFAULT_DATASET = "cifar10[train_per_class=200,valid_size=500,test_per_class=100]"  # = pictures_nets'


def network_options(f):
    """--dataset, --split, --param, --seed, --device, --threads, --data-dir, --cache-dir, --plugins."""
    opts = [
        click.option("--dataset", default=DEFAULT_DATASET, show_default=True,
                     help="An image dataset with its parameters, as `bench run --datasets` takes them."),
        click.option("--split", help="Split name (default: the dataset's default)."),
        click.option("--param", "param", multiple=True, metavar="KEY=VALUE",
                     help="A training parameter of the variants, on top of the pictures' CPU recipe (widths=[8,16,32], "
                          "epochs=20, batch_size=64) and each variant's defaults, e.g. epochs=30; repeatable."),
        click.option("--seed", type=int, default=0, show_default=True,
                     help="Seeds the training, the fixed images and the directions."),
        click.option("--device", default="cpu", show_default=True, callback=device_option),
        click.option("--threads", type=click.IntRange(min=1), help="torch threads (default: torch's)."),
        click.option("--data-dir", type=click.Path(file_okay=False)),
        click.option("--cache-dir", type=click.Path(file_okay=False)),
        plugins_option,
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


def landscape_options(f):
    opts = [
        click.option("--grid", "points", type=click.IntRange(min=3), default=21, show_default=True,
                     help="Points per direction (odd: the centre is the trained net)."),
        click.option("--span", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True,
                     help="The grid spans [-SPAN, SPAN] in both filter-normalized directions."),
        click.option("--radii", default="0.25,0.5,1", show_default=True,
                     help="Distances at which the loss rise is measured (comma-separated)."),
        click.option("--angles", type=click.IntRange(min=1), default=16, show_default=True,
                     help="Points on each circle."),
        click.option("--images", type=click.IntRange(min=1), default=256, show_default=True,
                     help="Fixed training images the loss is measured on (a seeded draw)."),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


def radii_list(text: str) -> tuple[float, ...]:
    import math

    try:
        radii = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        radii = ()
    if not radii or any(not (r > 0 and math.isfinite(r)) for r in radii):
        raise click.BadParameter(f"{text!r} is not a list of positive distances, e.g. 0.25,0.5,1", param_hint="--radii")
    return radii


def make_setup(dataset, split, param, seed, device, threads, data_dir, cache_dir, plugins):
    """The practice Setup for these options (torch's threads set here)."""
    from bench.practice.pictures_nets import DEFAULT_PARAMS
    from bench.practice.pictures_run import Setup
    from bench.run.suite import parse_dataset_ref

    if threads:
        import torch

        torch.set_num_threads(threads)
    try:
        name, dparams = parse_dataset_ref(dataset)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--dataset") from None
    return Setup(registry_for(plugins), name, dparams, split, {**DEFAULT_PARAMS, **parse_params(param, "--param")},
                 seed, device, paths.data_dir(data_dir), paths.cache_dir(cache_dir), threads, click.echo)


@contextlib.contextmanager
def clear_errors(what: str):
    """Unknown names, parameters or data as one line that says what to change, no traceback."""
    from bench.core.dataset import FilesMissing

    try:
        yield
    except FilesMissing as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:  # a file that cannot be read or written: its path is in the message
        raise click.ClickException(str(exc)) from None
    except (KeyError, TypeError, ValueError) as exc:
        message = exc.args[0] if exc.args and isinstance(exc.args[0], str) else str(exc)
        raise click.UsageError(f"{what}: {message}") from None


def settings_landscape(points, span, radii, angles, images):
    from bench.practice.pictures_run import LandscapeSettings

    if points % 2 == 0:
        raise click.BadParameter(f"{points} is even; the grid needs an odd number of points (the centre is the "
                                 "trained net), e.g. 21", param_hint="--grid")
    return LandscapeSettings(points, span, radii_list(radii), angles, images)


@click.command("pictures")
@network_options
@landscape_options
@click.option("--depths", default="20,56", show_default=True,
              help="Depths of the plain / residual pairs (plain-D, resnet-D), comma-separated: 20 and/or 56.")
@click.option("--layer", help="The deeper layer for the top patches (default: the deepest block whose "
                              "receptive field is at most half the image, e.g. blocks.2).")
@click.option("--channels", type=click.IntRange(min=1), default=6, show_default=True,
              help="Channels of that layer shown.")
@click.option("--top", type=click.IntRange(min=1), default=9, show_default=True, help="Patches per channel.")
@click.option("--patch-images", type=click.IntRange(min=1), default=500, show_default=True,
              help="Fixed valid images searched for the top patches (a seeded draw).")
@click.option("--results-root", type=click.Path(file_okay=False), default="results", show_default=True,
              help="Where the embedding maps the page links are looked for (nlp/embeddings.png, ...).")
@click.option("--out", type=click.Path(file_okay=False), default="results/practice/pictures", show_default=True,
              help="Folder for README.md, summary.json, pictures.json and the PNGs (made if missing).")
def pictures_cmd(dataset, split, param, seed, device, threads, data_dir, cache_dir, plugins, points, span, radii,
                 angles, images, depths, layer, channels, top, patch_images, results_root, out) -> None:
    """The deck's pictures: loss landscapes with and without skip connections, first-layer
    filters and top patches, and links to the embedding maps, as one page.

    \b
    For each depth D of --depths: plain-D and resnet-D (the cnn plugin's, trained through the
    registry with the same parameters and seed, or read back from the cache folder), each with
    the loss surface of `bench plot landscape` and the loss rise at the --radii; then the filters
    and top patches of `bench plot filters` for resnet-D (the first depth). The claim "skip
    connections make the loss surface flatter" is judged per depth from the rises. Writes
    OUT/README.md, OUT/summary.json (for `bench practice index`), OUT/pictures.json (every
    number) and OUT/landscape-D.png, sharpness.png, filters.png, filter-patches.png.

    \b
    Example (20 minutes at one thread on 2 busy cores: 2.5 to 3 minutes per 20-layer network,
    6.5 to 7 per 56-layer one; a second run reads the networks back from the cache folder):
      bench practice pictures --data-dir ../shared/data --threads 1 --out results/practice/pictures
    """
    from bench.core import environment
    from bench.practice.pictures_page import make_page
    from bench.practice.pictures_run import FilterSettings

    try:
        ds = [int(v) for v in depths.split(",") if v.strip()]
    except ValueError:
        ds = []
    if not ds or any(d < 8 or (d - 2) % 6 for d in ds):
        raise click.BadParameter(f"{depths!r} is not a list of depths 6n + 2, e.g. 20 or 20,56", param_hint="--depths")
    ls = settings_landscape(points, span, radii, angles, images)
    setup = make_setup(dataset, split, param, seed, device, threads, data_dir, cache_dir, plugins)
    with clear_errors(f"--dataset {dataset} / --param"):
        written = make_page(setup, ds, ls, FilterSettings(layer, channels, top, patch_images), Path(out),
                            Path(results_root), environment.command_line())
    click.echo(f"wrote {', '.join(str(p) for p in written)}")
