"""`bench practice overfit`: the overfitting page, from the practice-overfit suite's records."""
from __future__ import annotations

import click

from bench.cli.options import plugins_option, results_option
from bench.cli.practice_pages import render


@click.command("overfit")
@click.option("--suite", "suite_name", default="practice-overfit", show_default=True,
              help="The suite (name or .toml path) whose records to read.")
@click.option("--out", type=click.Path(file_okay=False), default="results/practice/overfitting", show_default=True,
              help="Folder for README.md, the PNGs and summary.json (made if missing).")
@results_option
@plugins_option
def overfit_cmd(suite_name, out, results_dir, plugins) -> None:
    """The overfitting page: one network per task with far more weights than training examples,
    trained with no regularisation, weight decay as L2 in Adam's loss, decoupled weight decay
    (AdamW), dropout, dropout + L2, and early stopping (best weights restored), 3 seeds each.

    \b
    Reads the suite's records from --results-dir (run it first: bench run --suite
    practice-overfit) and writes OUT/README.md (each claim with a verdict computed from the
    numbers per task; a table per task: test score mean ± std over seeds, the best valid epoch,
    the valid score lost after it, the train - valid gap, the parameter count next to the
    training-set size, fit time), OUT/gap-<task>.png (train vs valid per epoch, a panel per
    configuration), OUT/curves-<task>.png (every configuration's curves) and OUT/summary.json
    (for `bench practice index`). Runs nothing.

    \b
    Example:
      bench run --suite practice-overfit --data-dir ../shared/data --results-dir results/practice --jobs 2 --threads 1
      bench practice overfit --results-dir results/practice
    """
    render("bench.practice.overfit_page", suite_name, results_dir, out, plugins)
