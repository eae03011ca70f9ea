"""`bench plot`: PNG figures from records (and the learned embeddings of one fit)."""
from __future__ import annotations

from pathlib import Path

import click

from bench.data import paths
from bench.results.store import Store
from bench.cli.options import (plugins_hint, plugins_option,
                               registry_for, results_option, split_csv, suite_for)
from bench.cli.pictures import clear_errors, landscape_options, make_setup, network_options, settings_landscape


@click.group()
def plot() -> None:
    """PNG figures (headless): learning curves, metric bars, time vs metric, learned embeddings,
    loss landscapes, filters."""


@plot.command("curves")
@click.option("--suite", "suite_name", required=True)
@click.option("--out", type=click.Path(dir_okay=False), help="PNG path (default results/SUITE/learning-curves.png).")
@results_option
@plugins_option
def plot_curves(suite_name, out, results_dir, plugins) -> None:
    """Train loss and valid metric per epoch for every run of SUITE that has a history."""
    from bench.report import plots, table

    reg = registry_for(plugins)
    suite = suite_for(reg, suite_name)
    recs = table.latest_records(suite, reg, Store(Path(results_dir)))
    path = Path(out) if out else Path(results_dir) / suite.name / "learning-curves.png"
    try:
        plots.learning_curves(recs, path, title=f"{suite.name}: learning curves")
    except ValueError as exc:
        raise click.ClickException(str(exc))
    click.echo(f"wrote {path}")


@plot.command("bars")
@click.option("--suite", "suite_name", required=True)
@click.option("--out", type=click.Path(dir_okay=False), help="PNG path (default results/SUITE/metric-bars.png).")
@results_option
@plugins_option
def plot_bars(suite_name, out, results_dir, plugins) -> None:
    """The headline metric per method and dataset: bars of the mean, error bars ± std over seeds."""
    _plot_sections(suite_name, out, results_dir, plugins, "metric_bars", "metric-bars.png", "metric (mean ± std over seeds)")


@plot.command("scatter")
@click.option("--suite", "suite_name", required=True)
@click.option("--out", type=click.Path(dir_okay=False), help="PNG path (default results/SUITE/time-vs-metric.png).")
@results_option
@plugins_option
def plot_scatter(suite_name, out, results_dir, plugins) -> None:
    """Fit seconds against the headline metric, one point per run."""
    _plot_sections(suite_name, out, results_dir, plugins, "time_vs_metric", "time-vs-metric.png", "fit time vs metric")


def _plot_sections(suite_name, out, results_dir, plugins, fn, default_name, what) -> None:
    from bench.report import plots, table

    reg = registry_for(plugins)
    suite = suite_for(reg, suite_name)
    path = Path(out) if out else Path(results_dir) / suite.name / default_name
    try:
        sections = table.build(suite, reg, Store(Path(results_dir)))
        getattr(plots, fn)(sections, path, title=f"{suite.name}: {what}")
    except (ValueError, table.TableError) as exc:
        raise click.ClickException(str(exc))
    click.echo(f"wrote {path}")


@plot.command("depth")
@click.option("--suite", "suite_name", default="resnet-depth", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False), help="PNG path (default results/SUITE/depth-curves.png).")
@results_option
@plugins_option
def plot_depth(suite_name, out, results_dir, plugins) -> None:
    """He et al.'s Fig. 1: training and held-out error per epoch, plain vs residual networks;
    also writes the final errors as Markdown beside the PNG (depth-errors.md)."""
    from bench.report import plots, table

    reg = registry_for(plugins)
    suite = suite_for(reg, suite_name)
    recs = [r for r in table.latest_records(suite, reg, Store(Path(results_dir))) if r.status == "ok"]
    path = Path(out) if out else Path(results_dir) / suite.name / "depth-curves.png"
    try:
        plots.depth_curves(recs, path, title=f"{suite.name}: CIFAR-10 error per epoch "
                                              f"(dashed: training, solid: held-out valid)")
    except ValueError as exc:
        raise click.ClickException(str(exc))
    md = path.with_name("depth-errors.md")
    md.write_text(plots.depth_table(recs))
    click.echo(f"wrote {path} and {md}")


@plot.command("embeddings")
@click.option("--dataset", required=True, help="Dataset name, e.g. rossmann, with its parameters as "
                                                "`bench run --datasets` takes them: 'movielens[release=ml-latest-small]'.")
@click.option("--split", help="Split name (default: the dataset's default).")
@click.option("--variant", default="ee", show_default=True, help="A method variant with an embeddings() method.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--columns", required=True, help="Comma-separated categorical columns, e.g. state,store "
                                                "(text networks: token).")
@click.option("--device", default="auto", show_default=True)
@click.option("--data-dir", type=click.Path(file_okay=False))
@click.option("--cache-dir", type=click.Path(file_okay=False))
@click.option("--label-top", type=int, default=0,
              help="Label only the N most frequent levels of each column in train (e.g. the most rated "
                   "movies, the most frequent words).")
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="PNG path.")
@plugins_option
def plot_embeddings(dataset, split, variant, seed, columns, device, data_dir, cache_dir, label_top, out,
                    plugins) -> None:
    """Project learned entity embeddings to 2-D (PCA). Reuses the network a "with EE" run trained
    on the same dataset, split and seed (from the cache folder), else trains it once."""
    from bench.report import plots
    from bench.run.inspect import fitted_helper
    from bench.run.suite import parse_dataset_ref
    from bench.core.dataset import FilesMissing

    reg = registry_for(plugins)
    try:
        dataset, dataset_params = parse_dataset_ref(dataset)
        fitted = fitted_helper(reg, dataset, split, variant, seed, device,
                               paths.data_dir(data_dir), paths.cache_dir(cache_dir), dataset_params=dataset_params)
    except (KeyError, TypeError, ValueError) as exc:
        message = exc.args[0] if exc.args and isinstance(exc.args[0], str) else str(exc)
        raise click.UsageError(message + plugins_hint(reg, "results", [dataset], [variant]))
    except FilesMissing as exc:  # what to download and where: the message says it, no traceback
        raise click.ClickException(str(exc))
    model, task, ds, split, ddir = fitted.model, fitted.task, fitted.dataset, fitted.split, fitted.data_dir
    cols = [c for c in columns.split(",") if c]
    names = dict(task.categories or {})
    if hasattr(ds, "level_names"):  # e.g. movie titles for MovieLens item codes
        names.update({c: ds.level_names(task, c, ddir) or names.get(c) for c in cols})
    top = None
    vocab = getattr(model, "vocab_", None)
    if task.kind == "text-classification" and vocab is not None:  # column "token": the words
        names["token"] = list(vocab.itos_)
        if label_top:  # the vocabulary is ordered by train frequency after its special tokens
            specials = sum(1 for w in vocab.itos_ if w.startswith("<") and w.endswith(">"))
            top = {"token": list(range(specials, min(len(vocab), specials + label_top)))}
    elif label_top:
        import numpy as np

        train_X = task.part("train").X
        top = {c: np.bincount(train_X[c].to_numpy(), minlength=task.schema.categorical[c]).argsort()[::-1][:label_top].tolist()
               for c in cols}
    path = plots.embedding_projection(model.embeddings(), names, cols, Path(out), label_codes=top,
                                      title=f"{variant} embeddings on {dataset}{_params_text(dataset_params)}/{split} "
                                            f"(fingerprint {task.split.fingerprint}, seed {seed})")
    click.echo(f"wrote {path}")



def _params_text(params: dict) -> str:
    return "[" + ",".join(f"{k}={v}" for k, v in sorted(params.items())) + "]" if params else ""


@plot.command("landscape")
@network_options
@landscape_options
@click.option("--variant", "variants", multiple=True, metavar="NAMES",
              help="Network variants, comma-separated or repeated (default: plain-20,resnet-20).")
@click.option("--out", type=click.Path(dir_okay=False), required=True,
              help="PNG path; OUT-sharpness.png and OUT.json (every number) are written beside it.")
def plot_landscape(dataset, split, param, seed, device, threads, data_dir, cache_dir, plugins, points, span, radii,
                   angles, images, variants, out) -> None:
    """The loss surface around trained networks along two random filter-normalized directions
    (Li et al. 2018), as contour and surface plots side by side, and the loss rise at fixed
    distances (sharpness).

    \b
    Each variant is trained through the registry on the dataset's split with the same
    parameters and seed (or read back from the cache folder, where an earlier command kept it).
    The loss is the mean cross-entropy on --images fixed training images with the net in eval
    mode (batchnorm keeps its training statistics), at theta + a d1 + b d2 on a --grid x --grid
    grid over [-SPAN, SPAN]^2; d1, d2: seeded Gaussian directions, each filter rescaled to the
    norm of the trained filter, biases and batchnorm parameters not moved. The sharpness at r is
    the mean loss over --angles points on the circle of radius r minus the centre's loss.

    \b
    Example:
      bench plot landscape --data-dir ../shared/data --threads 1 --out landscape.png
    """
    import json

    from bench.data.paths import write_file
    from bench.practice.jsonable import jsonable
    from bench.practice.pictures_run import draw_landscapes, landscapes

    names = split_csv(variants) or ["plain-20", "resnet-20"]
    ls = settings_landscape(points, span, radii, angles, images)
    setup = make_setup(dataset, split, param, seed, device, threads, data_dir, cache_dir, plugins)
    path = Path(out)
    with clear_errors(f"--dataset {dataset} / --variant / --param"):
        surfaces = landscapes(setup, names, ls)
        written = draw_landscapes(surfaces, ls, path, path.with_name(path.stem + "-sharpness.png"))
        numbers = {"networks": [s.to_json() for s in surfaces], "settings": vars(ls)}
        written.append(write_file(path.with_suffix(".json"),
                                  json.dumps(jsonable(numbers), indent=1, allow_nan=False) + "\n"))
    for s in surfaces:
        rises = ", ".join(f"r={r:g}: {s.landscape.rise(k):.4g}" for k, r in enumerate(s.landscape.radii))
        click.echo(f"{s.trained.variant}: centre loss {s.landscape.centre:.4g}, loss rise {rises}")
    click.echo(f"wrote {', '.join(str(p) for p in written)}")


@plot.command("filters")
@network_options
@click.option("--variant", default="resnet-20", show_default=True, help="A CNN variant.")
@click.option("--layer", help="The deeper layer for the top patches, as the net names its modules (default: the "
                              "deepest block whose receptive field is at most half the image, e.g. blocks.2).")
@click.option("--channels", type=click.IntRange(min=1), default=6, show_default=True,
              help="Channels of that layer shown (those with the largest mean of their largest activation).")
@click.option("--top", type=click.IntRange(min=1), default=9, show_default=True, help="Patches per channel.")
@click.option("--images", type=click.IntRange(min=1), default=500, show_default=True,
              help="Fixed valid images searched for the top patches (a seeded draw).")
@click.option("--out", type=click.Path(dir_okay=False), required=True,
              help="PNG path of the first-layer filters; the top patches go to OUT-patches.png.")
def plot_filters(dataset, split, param, seed, device, threads, data_dir, cache_dir, plugins, variant, layer,
                 channels, top, images, out) -> None:
    """A trained CNN's first-layer filters as an image grid, and for a few channels of a deeper
    layer the image patches that activate them most (Zeiler & Fergus 2014): the top images per
    channel among fixed valid images, cropped to the receptive field around the largest
    activation. The network is trained as `bench plot landscape` trains it.

    \b
    Example:
      bench plot filters --data-dir ../shared/data --threads 1 --out filters.png
    """
    from bench.practice.pictures_run import FilterSettings, draw_filters, filter_pictures

    setup = make_setup(dataset, split, param, seed, device, threads, data_dir, cache_dir, plugins)
    path = Path(out)
    with clear_errors(f"--dataset {dataset} / --variant {variant} / --layer / --param"):
        fp = filter_pictures(setup, variant, FilterSettings(layer, channels, top, images))
        written = draw_filters(fp, path, path.with_name(path.stem + "-patches.png"))
    click.echo(f"wrote {', '.join(str(p) for p in written)}")
