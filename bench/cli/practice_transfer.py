"""`bench practice transfer`: the page of the practice-transfer suite, from its records."""
from __future__ import annotations

import click

from bench.cli.options import plugins_option, results_option
from bench.cli.practice_pages import render


@click.command("transfer")
@click.option("--suite", "suite_name", default="practice-transfer", show_default=True,
              help="The suite (name or .toml path) whose records to read.")
@click.option("--out", type=click.Path(file_okay=False), default="results/practice/transfer", show_default=True,
              help="Folder for README.md, the PNGs and summary.json (made if missing).")
@results_option
@plugins_option
def transfer_cmd(suite_name, out, results_dir, plugins) -> None:
    """The transfer-learning page: a network pretrained on 7 CIFAR-10 classes learns the other 3 from
    few images per class, from scratch vs frozen body + new head vs fine-tune all vs fine-tune with
    discriminative rates (the cnn-transfer methods on cifar10's transfer split).

    \b
    Reads the suite's records from --results-dir (run it first: bench run --suite
    practice-transfer) and writes OUT/README.md (each claim with a verdict computed from the
    numbers, test accuracy per mode and images per class, mean ± std over seeds, the pretrained
    network's own valid accuracy on its source classes and how many runs trained it),
    OUT/accuracy-vs-images.png (one line per mode, ± std band), OUT/pretraining.png (the
    pretrained network per epoch) and OUT/summary.json (for `bench practice index`). A run not
    run yet shows as "missing", a failed one as "failed".

    \b
    Example:
      bench run --suite practice-transfer --data-dir ../shared/data --results-dir results/practice --jobs 2 --threads 1
      bench practice transfer --results-dir results/practice
    """
    render("bench.practice.transfer_page", suite_name, results_dir, out, plugins)
