"""`bench lr-find`: the learning-rate range test of one network method on one dataset split."""
from __future__ import annotations


import click

from bench.data import paths
from bench.cli.options import device_option, parse_params, plugins_hint, plugins_option, registry_for


@click.command("lr-find")
@click.argument("variant")
@click.option("--dataset", required=True, help="Dataset name with its parameters as `bench run --datasets` "
                                                "takes them, e.g. rossmann or 'cifar10[train_per_class=500]'.")
@click.option("--split", help="Split name (default: the dataset's default).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seeds the net's init and the batch order.")
@click.option("--params", "params", multiple=True, metavar="KEY=VALUE",
              help="A method parameter over the variant's, e.g. --params batch_size=256; repeatable.")
@click.option("--start-lr", type=click.FloatRange(min=0, min_open=True), default=1e-7, show_default=True,
              help="The first step's base rate.")
@click.option("--end-lr", type=click.FloatRange(min=0, min_open=True), default=10.0, show_default=True,
              help="The last step's base rate.")
@click.option("--steps", type=click.IntRange(min=2), default=100, show_default=True,
              help="Batches to train (a training part with fewer is passed over again).")
@click.option("--device", default="auto", show_default=True, callback=device_option)
@click.option("--data-dir", type=click.Path(file_okay=False))
@click.option("--cache-dir", type=click.Path(file_okay=False))
@click.option("--out", type=click.Path(file_okay=False), required=True,
              help="Folder for lr-find.png and lr-find.json (made if missing).")
@plugins_option
def lr_find_cmd(variant, dataset, split, seed, params, start_lr, end_lr, steps, device, data_dir, cache_dir, out,
                plugins) -> None:
    """Find a learning rate for network method VARIANT: Smith's range test (fastai's lr_find).

    \b
    The method's own network, data encoding, loss, optimizer, batch size and parameter groups
    (each group's rate is the base rate times its lr_mult) train for --steps batches (part of
    one pass of a large training part; a part with fewer batches is passed over again) while
    the base rate grows exponentially from --start-lr to --end-lr. The loss is recorded per
    step, with a smoothed copy (exponential, beta 0.98, bias-corrected); the test stops early
    when the smoothed loss exceeds 4x its minimum or a loss is not finite.

    \b
    It prints two suggested rates for the method's `lr` parameter:
      steepest descent   where the smoothed loss falls fastest against log(lr), before its
                         minimum: a rate at which training still makes quick progress;
      minimum / 10       the rate of the lowest smoothed loss divided by ten: a step back from
                         where the loss stops improving, a common peak rate for one-cycle.
    Both leave out the first tenth of the steps and the last five, as fastai does. Then a few
    (lr, smoothed loss) rows. Both are rules of thumb, read the plot: OUT/lr-find.png
    (log x axis, the suggestions and the method's own lr marked) and OUT/lr-find.json (the curve,
    the suggestions, the method's parameters, dataset, split fingerprint, seed, device, bench
    version and command). Nothing is recorded as a run; the method's schedule is not used.

    \b
    Example:
      bench lr-find ee-1cycle --dataset rossmann --steps 200 --out /tmp/lrfind-ee
    """
    from pathlib import Path

    from bench.core import environment
    from bench.core.dataset import FilesMissing
    from bench.practice.lr_find import NotANetwork
    from bench.practice.lr_find_run import describe, prepare, run_prepared, write_files
    from bench.run.suite import parse_dataset_ref

    if not start_lr < end_lr:
        raise click.BadParameter(f"--start-lr ({start_lr:g}) must be below --end-lr ({end_lr:g})",
                                 param_hint="--start-lr")
    overrides = parse_params(params)
    reg = registry_for(plugins)
    name = dataset
    try:
        name, dataset_params = parse_dataset_ref(dataset)
        prepared = prepare(reg, variant, name, dataset_params=dataset_params, split=split, seed=seed,
                           params=overrides, device=device, data_dir=paths.data_dir(data_dir),
                           cache_dir=paths.cache_dir(cache_dir))
    except NotANetwork as exc:
        raise click.UsageError(str(exc))
    except (KeyError, TypeError, ValueError) as exc:
        message = exc.args[0] if exc.args and isinstance(exc.args[0], str) else str(exc)
        raise click.UsageError(message + plugins_hint(reg, "results", [name], [variant]))
    except FilesMissing as exc:  # what to download and where: the message says it, no traceback
        raise click.ClickException(str(exc))
    finding = run_prepared(prepared, start_lr=start_lr, end_lr=end_lr, steps=steps)
    for line in describe(finding):
        click.echo(line)
    try:
        png, js = write_files(finding, Path(out), command=environment.command_line())
    except OSError as exc:
        raise click.ClickException(f"cannot write lr-find.png / lr-find.json in --out {out}: {exc}")
    click.echo(f"wrote {png} and {js}")
