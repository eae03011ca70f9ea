"""`bench practice optimizers` and `bench practice lr`: pages from a practice suite's records.

The shared part: load a suite's planned runs with the record each one's table shows (any status:
a failed or diverged run is shown as such, a missing one as missing), then hand them to the page
module in bench.practice, which computes the verdicts and draws the figures."""
from __future__ import annotations

from pathlib import Path

import click

from bench.cli.options import plugins_option, registry_for, results_option, suite_for, writes


def suite_runs(suite_name: str, results_dir: str, plugins: tuple[str, ...]):
    """(suite, runs): every planned run of the suite with the record its table shows (the newest
    by the current code, else the newest, marked stale), as practice Runs."""
    from bench.practice.suite_runs import runs_from
    from bench.report import selection
    from bench.results.store import Store

    reg = registry_for(plugins)
    suite = suite_for(reg, suite_name)
    try:
        records, by_id = selection.records_by_id(Store(Path(results_dir)))
        specs = selection.plan(suite, reg, records).specs
        return suite, runs_from((s, *selection.choose(reg, s, by_id)) for s in specs)
    except (KeyError, ValueError) as exc:
        raise click.ClickException(str(exc.args[0] if exc.args else exc))


def render(page_module: str, suite_name: str, results_dir: str, out: str, plugins: tuple[str, ...]) -> None:
    """Write OUT/README.md and the PNGs of one page; print the verdict lines."""
    import importlib

    from bench.core import environment

    suite, runs = suite_runs(suite_name, results_dir, plugins)
    recorded = sum(r.record is not None for r in runs)
    if not recorded:
        raise click.ClickException(f"no record of suite {suite.name} in {Path(results_dir) / 'runs'}; run it first: "
                                   f"bench run --suite {suite_name} --results-dir {results_dir}")
    page = importlib.import_module(page_module)
    with writes(Path(out), "--out", "output folder"):
        written = page.write(runs, suite.methods, Path(out), environment.command_line(), suite=suite.name)
    text = written[0].read_text()
    for line in text.splitlines():
        if line.startswith(("### Claim", "Verdict:")):
            click.echo(line)
    click.echo(f"{recorded} of {len(runs)} runs recorded; wrote {', '.join(str(p) for p in written)}")


@click.command("optimizers")
@click.option("--suite", "suite_name", default="practice-optimizers", show_default=True,
              help="The suite (name or .toml path) whose records to read.")
@click.option("--out", type=click.Path(file_okay=False), default="results/practice/optimizers", show_default=True,
              help="Folder for README.md and the PNGs (made if missing).")
@results_option
@plugins_option
def optimizers_cmd(suite_name, out, results_dir, plugins) -> None:
    """The optimizers page: SGD, SGD with momentum, RMSprop, Adam and AdamW at their usual rates and
    at the best rate of a small grid, chosen on the valid score (mean over seeds), never on test.

    \b
    Reads the suite's records from --results-dir (run it first: bench run --suite
    practice-optimizers) and writes OUT/README.md (each claim with a verdict computed from the
    numbers per task, a table per task: test score at the usual and at the chosen rate, mean ±
    std over seeds, fit time, the grid's valid scores), OUT/curves-<task>.png (train loss and
    valid metric per epoch) and OUT/lr-grid.png (valid score per rate). A run that diverged
    (non-finite loss) shows as "diverged"; one not run yet as "missing".
    """
    render("bench.practice.optimizers_page", suite_name, results_dir, out, plugins)


@click.command("lr")
@click.option("--suite", "suite_name", default="practice-lr", show_default=True,
              help="The suite (name or .toml path) whose records to read.")
@click.option("--out", type=click.Path(file_okay=False), default="results/practice/lr", show_default=True,
              help="Folder for README.md and the PNGs (made if missing).")
@results_option
@plugins_option
def lr_cmd(suite_name, out, results_dir, plugins) -> None:
    """The learning-rate page: constant vs step vs cosine vs one-cycle at the same budget,
    discriminative rates (embeddings at 1x, 3x, 10x the body's), lr-find's suggested rates trained.

    \b
    Reads the suite's records from --results-dir (run it first: bench run --suite practice-lr)
    and writes OUT/README.md (each claim with a verdict computed from the numbers, a table per
    experiment: test score mean ± std over seeds, fit time), OUT/schedules.png (the lr per step
    of each schedule, bench.nn.optim.lr_factors, with the rate each record logged per epoch)
    and OUT/curves-*.png (train loss and valid metric per epoch).
    """
    render("bench.practice.lr_page", suite_name, results_dir, out, plugins)
