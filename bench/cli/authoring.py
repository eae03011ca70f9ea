"""`bench check` and `bench new`: the contract checks and the scaffold for plugin authors."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from bench.data import paths
from bench.cli.options import (plugins_hint, plugins_option,
                               registry_for)


@click.command()
@click.argument("variant")
@click.option("--kind", help="Only this task kind (default: every kind the method supports).")
@click.option("--budget", type=float, default=60.0, show_default=True, help="Seconds allowed for fit+predict on tiny data.")
@click.option("--data-dir", type=click.Path(file_okay=False), help="Data folder (dataset checks of a dataset with files).")
@click.option("--cache-dir", type=click.Path(file_okay=False), help="Cache folder (dataset checks).")
@click.option("--full", is_flag=True, help="Check the variant's own parameters, without the card's test_params "
                                           "(few epochs, small widths): slow for big networks.")
@plugins_option
def check(variant, kind, budget, data_dir, cache_dir, full, plugins) -> None:
    """Run the plugin contract checks on one method variant (on tiny data) or one dataset.

    A method's card may set ``test_params`` (few epochs, small widths) that the checks use on
    top of the variant's parameters; --full leaves them out."""
    from bench.plugins import checks as conformance

    reg = registry_for(plugins)
    clash = reg.clash_error(methods=[variant], datasets=[variant])
    if clash:  # checking whichever plugin came first would pass a name `bench run` refuses
        raise click.UsageError(clash)
    if variant not in reg.methods and variant in reg.datasets:
        _check_dataset(reg, variant, data_dir, cache_dir)
        return
    try:
        entry = reg.method(variant)
    except KeyError as exc:
        raise click.UsageError(exc.args[0] + plugins_hint(reg, "results", [variant], [variant]))
    kinds = [kind] if kind else list(entry.cls.kinds)
    failed = 0
    if entry.cls.test_params and not full:
        click.echo(f"{variant}: checking with test_params {entry.cls.test_params} (--full: without them)")
    for problem in conformance.card_problems(entry.cls):
        failed += 1
        click.echo(f"FAIL {variant} card: {problem}")
    for k in kinds:
        for r in conformance.run_checks(entry.cls, entry.params, k, budget_s=budget, use_test_params=not full):
            mark = "PASS" if r.ok else "FAIL"
            failed += not r.ok
            click.echo(f"{mark} {variant} [{k}] {r.name} ({r.seconds:.2f}s)"
                       + ("" if r.ok else ": " + r.message.strip().splitlines()[0]))
    click.echo(f"{variant}: {'all checks passed' if not failed else f'{failed} check(s) failed'}")
    sys.exit(1 if failed else 0)


def _check_dataset(reg, name, data_dir, cache_dir) -> None:
    from bench.plugins.dataset_checks import dataset_checks

    results = dataset_checks(reg.dataset(name).cls, paths.data_dir(data_dir), paths.cache_dir(cache_dir))
    for r in results:
        lines = r.message.strip().splitlines() if not r.ok else []
        click.echo(f"{'PASS' if r.ok else 'FAIL'} {name} {r.name} ({r.seconds:.2f}s)" + (": " + lines[0] if lines else ""))
        if lines and lines[0].startswith("FilesMissing"):  # how to get the files, and where they go
            click.echo("\n".join("    " + line for line in lines[1:]))
    failed = sum(not r.ok for r in results)
    click.echo(f"{name}: {'all checks passed' if not failed else f'{failed} check(s) failed'}")
    sys.exit(1 if failed else 0)


@click.command("new")
@click.argument("kind", type=click.Choice(["method", "dataset"]))
@click.argument("name")
@click.option("--dir", "folder", type=click.Path(file_okay=False),
              help="Folder to write into [default: plugins/ for a method, datasets/ for a dataset].")
@plugins_option
def new_cmd(kind, name, folder, plugins) -> None:
    """Write a working, commented plugin file from a template (and, for a method, a try-NAME
    suite beside it). Never overwrites; prints what to do next."""
    from bench.plugins import scaffold

    reg = registry_for(plugins)
    target = Path(folder) if folder else Path("plugins" if kind == "method" else "datasets")
    try:
        written = scaffold.create(kind, name, target, reg)
    except scaffold.ScaffoldError as exc:
        raise click.ClickException(str(exc))
    click.echo(scaffold.next_steps(kind, name, target, written))
