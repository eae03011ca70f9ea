"""`bench practice`: the deck's "In practice" experiments that are not a suite's table.

`bench practice init`: initialization and gradient flow (bench.practice.gradflow).
`bench practice optimizers` / `lr`: the pages of the practice-optimizers / practice-lr suites.
`bench practice bn`: batchnorm and high learning rates, from a suite's records (bench.practice.bn).
`bench practice augment`: data augmentation, from the practice-augment suite's records.
`bench practice transfer`: transfer learning from few images, from practice-transfer's records.
`bench practice overfit`: the practice-overfit suite's page (bench.practice.overfit_page).
`bench practice pictures`: loss landscapes, filters and top patches (bench.practice.pictures_page).
`bench practice index`: the "In practice" page, from the summary.json each of those pages writes."""
from __future__ import annotations

import click

from bench.cli.options import device_option, plugins_option, registry_for, results_option, split_csv
from bench.cli.practice_augment import augment_cmd
from bench.cli.practice_overfit import overfit_cmd
from bench.cli.pictures import pictures_cmd
from bench.cli.practice_pages import lr_cmd, optimizers_cmd, suite_runs
from bench.cli.practice_transfer import transfer_cmd
from bench.data import paths

DEFAULT_DATASET = "cifar10[train_per_class=200,valid_size=500,test_per_class=100]"


@click.group()
def practice() -> None:
    """In-practice experiments: how networks train, measured on real data (not a suite's table)."""


practice.add_command(optimizers_cmd)  # pages from the practice-* suites' records
practice.add_command(lr_cmd)
practice.add_command(augment_cmd)  # the practice-augment suite's page
practice.add_command(transfer_cmd)  # practice-transfer's page
practice.add_command(overfit_cmd)
practice.add_command(pictures_cmd)  # the deck's pictures: loss landscapes, filters (bench.practice.pictures_page)


def widths_option(ctx, param, value: str | None) -> tuple[int, ...] | None:
    if value is None:
        return None
    try:
        widths = tuple(int(v) for v in value.split(",") if v.strip())
    except ValueError:
        widths = ()
    if len(widths) != 3 or min(widths) < 1:
        raise click.BadParameter(f"{value!r} is not three positive channel counts, e.g. 16,32,64",
                                 param_hint="--cnn-widths")
    return widths


@practice.command("init")
@click.option("--dataset", default=DEFAULT_DATASET, show_default=True,
              help="An image dataset with its parameters, as `bench run --datasets` takes them.")
@click.option("--settings", "settings", multiple=True, metavar="NAMES",
              help="Only these networks (comma-separated MLP settings and CNN variants; default: all).")
@click.option("--depth", type=click.IntRange(min=2), default=20, show_default=True, help="MLP hidden layers.")
@click.option("--width", type=click.IntRange(min=1), default=256, show_default=True, help="MLP units per layer.")
@click.option("--steps", type=click.IntRange(min=1), default=200, show_default=True, help="MLP training steps.")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=0.01, show_default=True,
              help="MLP learning rate (SGD, momentum 0.9).")
@click.option("--batch-size", type=click.IntRange(min=2), default=128, show_default=True, help="MLP batch size.")
@click.option("--cnn/--no-cnn", default=True, show_default=True, help="Also plain vs residual CIFAR nets.")
@click.option("--cnn-depth", type=click.Choice(["20", "56"]), default="56", show_default=True,
              help="Depth of the CIFAR nets (the cnn plugin's plain-D / resnet-D variants).")
@click.option("--cnn-steps", type=click.IntRange(min=1), default=100, show_default=True,
              help="CNN training steps.")
@click.option("--cnn-widths", callback=widths_option, metavar="A,B,C",
              help="Channels of the three stages (default: the variants', 16,32,64).")
@click.option("--cnn-batch-size", type=click.IntRange(min=2), help="CNN batch size (default: the variants', 128).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seeds the init, batch order and measuring batch.")
@click.option("--device", default="cpu", show_default=True, callback=device_option)
@click.option("--threads", type=click.IntRange(min=1), help="torch threads (default: torch's).")
@click.option("--data-dir", type=click.Path(file_okay=False))
@click.option("--cache-dir", type=click.Path(file_okay=False))
@click.option("--out", type=click.Path(file_okay=False), default="results/practice/init", show_default=True,
              help="Folder for init.json, README.md, summary.json and the plots (made if missing).")
@click.option("--from-json", "from_json", type=click.Path(dir_okay=False),
              help="Train nothing: make README.md, the plots and summary.json again from this saved init.json.")
@plugins_option
@click.pass_context
def init_cmd(ctx, dataset, settings, depth, width, steps, lr, batch_size, cnn, cnn_depth, cnn_steps, cnn_widths,
             cnn_batch_size, seed, device, threads, data_dir, cache_dir, out, from_json, plugins) -> None:
    """Initialization and gradient flow: do signals and gradients vanish or explode with depth, a
    saturating activation or a bad init, and do residual connections, He init and batchnorm cure it?

    \b
    Two families of networks, each built under --seed and measured on one fixed batch of 256
    training images, at initialization and after training:
      MLPs   --depth hidden layers of --width units on the flattened, standardized images; a
             curated list of settings (activation relu/tanh/sigmoid; init N(0,1) "bad init",
             PyTorch's default, Kaiming (He et al. 2015) normal fan-in, Kaiming with zeroed
             residual branches; batchnorm; identity skips x + linear(act(x))), each with a line
             saying what it shows; SGD momentum 0.9 at --lr for --steps steps;
      CNNs   the cnn plugin's plain-D, resnet-D, plain-D-nobn and resnet-D-nobn (D = --cnn-depth,
             He et al. 2016), built as the plugin builds them, each at its own lr (0.1 with
             batchnorm, 0.01 without), no augmentation, for --cnn-steps steps.
    Per layer (the MLP's hidden layers; the CNN's stem and blocks): the std of its output (the
    signal) and the L2 norm of the loss's gradient on its weights. It prints a line per network
    and writes OUT/README.md (the claim; a table per family: first and last layer's signal and
    gradient at init, their ratio, the loss after training, divergence, a verdict computed from
    the numbers), OUT/init.json (every per-layer series, settings, dataset and split fingerprint,
    seed, device, versions, command), OUT/mlp.png, OUT/cnn.png (per-layer curves, log scale) and
    OUT/summary.json (the verdicts, for `bench practice index`). --from-json makes all but
    init.json again from a saved one, in seconds.

    \b
    Example (a few minutes at one thread; the CNNs take most of it):
      bench practice init --data-dir ../shared/data --threads 1 --out /tmp/practice-init
      bench practice init --from-json results/practice/init/init.json --out results/practice/init
    """
    from pathlib import Path

    from bench.core import environment

    if from_json:
        given = [p.opts[0] for p in ctx.command.params if p.name not in ("from_json", "out", "plugins")
                 and ctx.get_parameter_source(p.name) is not click.core.ParameterSource.DEFAULT]
        if given:
            raise click.UsageError(f"--from-json makes the page from a saved run; {', '.join(given)} cannot apply")
        _init_from_json(Path(from_json), Path(out), environment.command_line())
        return
    from bench.core.dataset import FilesMissing
    from bench.practice.gradflow import select
    from bench.practice.gradflow_report import readme, write_files
    from bench.practice.gradflow_run import known_names, load_data, run_experiment
    from bench.run.suite import parse_dataset_ref

    names = split_csv(settings) or None
    try:
        select(names, known_names(int(cnn_depth)))
    except KeyError as exc:
        raise click.UsageError(f"--settings: {exc.args[0]}") from None
    if threads:
        import torch

        torch.set_num_threads(threads)
    reg = registry_for(plugins)
    try:
        name, params = parse_dataset_ref(dataset)
        data = load_data(reg, name, params, data_dir=paths.data_dir(data_dir), cache_dir=paths.cache_dir(cache_dir),
                         seed=seed)
    except (KeyError, TypeError, ValueError) as exc:
        raise click.UsageError(f"--dataset {dataset}: {exc.args[0] if exc.args else exc}") from None
    except FilesMissing as exc:
        raise click.ClickException(str(exc))
    click.echo(f"{data.ref}: {len(data.labels)} training images, {data.n_classes} classes, "
               f"split fingerprint {data.fingerprint}")
    exp = run_experiment(reg, data, names=names, depth=depth, width=width, steps=steps, lr=lr, batch_size=batch_size,
                         cnn=cnn, cnn_depth=int(cnn_depth), cnn_widths=cnn_widths, cnn_steps=cnn_steps,
                         cnn_batch_size=cnn_batch_size, seed=seed, device=device, echo=click.echo)
    command = environment.command_line()
    text = readme(exp, command)
    click.echo("")
    end = text.rfind("Command:")
    tables = text[text.find("## "):end if end > 0 else None]  # the tables (the README has no image before them)
    click.echo("\n".join(line for line in tables.splitlines() if not line.startswith("![")))
    try:
        written = write_files(exp, Path(out), command)
    except OSError as exc:
        raise click.ClickException(f"cannot write the results in --out {out}: {exc}")
    click.echo(f"wrote {', '.join(str(p) for p in written)} ({exp.seconds:.0f} s)")


def _init_from_json(path, out, command: str) -> None:
    """`bench practice init --from-json`: the page of a saved run, nothing trained."""
    from bench.practice.gradflow_report import load_experiment, write_files

    try:
        exp, doc = load_experiment(path)
    except FileNotFoundError:
        raise click.BadParameter(f"{path}: no such file", param_hint="--from-json") from None
    except (OSError, ValueError) as exc:
        raise click.BadParameter(f"{path}: {exc}", param_hint="--from-json") from None
    try:
        written = write_files(exp, out, str(doc.get("command") or ""), rendered_by=command,
                              threads=doc.get("torch_threads") if isinstance(doc.get("torch_threads"), int) else None)
    except OSError as exc:
        raise click.ClickException(f"cannot write the page in --out {out}: {exc}")
    click.echo(f"wrote {', '.join(str(p) for p in written)} (from {path}; nothing trained)")


@practice.command("index")
@click.option("--results-dir", type=click.Path(file_okay=False), default="results/practice", show_default=True,
              help="The folder of the practice pages (optimizers/, lr/, init/, bn/, ...); README.md is written there.")
def index_cmd(results_dir) -> None:
    """The "In practice" page: one section per slide of the deck, each from the summary.json its
    page's command wrote (claim, verdicts with their numbers, main figure, what was measured, where
    it did not hold, link). A section without one says "not made yet"; a summary.json that is a
    link or malformed stops the command, naming the file. Reads only; trains nothing.

    \b
    Example:
      bench practice index --results-dir results/practice
    """
    from pathlib import Path

    from bench.core import environment
    from bench.practice.index_page import SECTIONS, write_index
    from bench.practice.summary import SummaryError

    try:
        path, found = write_index(Path(results_dir), SECTIONS, environment.command_line())
    except SummaryError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"cannot write {Path(results_dir) / 'README.md'}: {exc}") from None
    for f in found:
        words = [c["verdict"] for c in f.summary["claims"]] if f.summary else ["not made yet"]
        click.echo(f"{f.section.title}: {'; '.join(words)}")
    click.echo(f"wrote {path}")




@practice.command("bn")
@click.option("--suite", "suite_name", default="practice-bn", show_default=True,
              help="The suite whose records to read (a learning-rate grid x batchnorm; y-ranges).")
@click.option("--target", "targets", multiple=True, metavar="KEY=VALUE",
              help="The validation score a grid's runs must reach, by history key, e.g. valid_accuracy=0.25 "
                   "(default: 0.95 x the weaker arm's best mean final score); repeatable.")
@click.option("--out", type=click.Path(file_okay=False), default="results/practice/bn", show_default=True,
              help="Folder for README.md and the plots (made if missing).")
@results_option
@plugins_option
def bn_cmd(suite_name, targets, out, results_dir, plugins) -> None:
    """Batchnorm and high learning rates: read a practice-bn suite's records, write the page.

    \b
    Per dataset split with a learning-rate grid (networks that differ only in batchnorm): the
    test metric per rate and arm (mean over seeds), the epochs and seconds until the validation
    score in the per-epoch history first reaches a target, the runs that diverged (a non-finite
    loss or score in the history, or a run failed over NaN predictions), and a verdict per claim
    (higher rates; faster training) computed from those numbers. Per rating split with y-ranges:
    the networks with and without a range, with and without batchnorm. Writes OUT/README.md,
    OUT/<dataset>-heatmap.png and OUT/<dataset>-curves.png. Runs nothing.

    \b
    Example:
      bench run --suite practice-bn --data-dir ../shared/data --results-dir results/practice --jobs 2 --threads 1
      bench practice bn --results-dir results/practice
    """
    from pathlib import Path

    from bench.core import environment
    from bench.practice.bn_report import build, write_files

    wanted = {}
    for item in targets:
        key, _, value = item.partition("=")
        try:
            wanted[key.strip()] = float(value)
        except ValueError:
            raise click.BadParameter(f"{item!r} is not KEY=NUMBER, e.g. valid_accuracy=0.25", param_hint="--target")
    suite, runs = suite_runs(suite_name, results_dir, plugins)
    if not any(r.record is not None for r in runs):
        raise click.ClickException(f"no records of suite {suite.name} in {results_dir}/runs; run it first: "
                                   f"bench run --suite {suite.name} --data-dir DATA --results-dir {results_dir}")
    parts = build(runs, wanted)
    try:
        written = write_files(parts, suite.name, runs, Path(out), environment.command_line(), set(wanted))
    except OSError as exc:
        raise click.ClickException(f"cannot write the page in --out {out}: {exc}")
    click.echo(f"wrote {', '.join(str(p) for p in written)}")
