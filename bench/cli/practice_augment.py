"""`bench practice augment`: the data-augmentation page from the practice-augment suite's records,
with a picture of one batch under each configuration drawn from the data folder's images."""
from __future__ import annotations

from pathlib import Path

import click

from bench.cli.options import plugins_option, registry_for, results_option, writes
from bench.cli.practice_pages import suite_runs
from bench.data import paths


@click.command("augment")
@click.option("--suite", "suite_name", default="practice-augment", show_default=True,
              help="The suite (name or .toml path) whose records to read.")
@click.option("--out", type=click.Path(file_okay=False), default="results/practice/augmentation", show_default=True,
              help="Folder for README.md, the PNGs and summary.json (made if missing).")
@click.option("--data-dir", type=click.Path(file_okay=False), help="Where the suite's images are (for the batch picture).")
@click.option("--cache-dir", type=click.Path(file_okay=False))
@click.option("--batch/--no-batch", "draw_batch", default=True, show_default=True,
              help="Draw batch.png (one batch under each augmentation; needs the images of --data-dir).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seeds the augmentations of the batch picture.")
@results_option
@plugins_option
def augment_cmd(suite_name, out, data_dir, cache_dir, draw_batch, seed, results_dir, plugins) -> None:
    """The data-augmentation page: none, flip, pad-and-crop, both, + cutout, + mixup, + test-time
    flip, + rotate / zoom / lighting, each the same network over the suite's seeds.

    \b
    Reads the suite's records from --results-dir (run it first: bench run --suite
    practice-augment) and writes OUT/README.md (each claim with a verdict computed from the
    numbers; the table: test accuracy mean ± std over seeds, its difference to no augmentation,
    the last epoch's training error and valid accuracy, fit time), OUT/curves-<task>.png
    (training error of the augmented batches and valid accuracy per epoch), OUT/batch.png (eight
    fixed training images from --data-dir under every configuration's augmentation, seeded: what
    the network saw) and OUT/summary.json (for `bench practice index`). A row's role comes from
    its parameters (augment, mixup, tta), not its label.

    \b
    Example:
      bench run --suite practice-augment --data-dir ../shared/data --results-dir results/practice --jobs 2 --threads 1
      bench practice augment --data-dir ../shared/data --results-dir results/practice
    """
    from bench.core import environment
    from bench.core.dataset import FilesMissing
    from bench.practice import augment_page

    suite, runs = suite_runs(suite_name, results_dir, plugins)
    recorded = sum(r.record is not None for r in runs)
    if not recorded:
        raise click.ClickException(f"no record of suite {suite.name} in {Path(results_dir) / 'runs'}; run it first: "
                                   f"bench run --suite {suite_name} --data-dir DATA --results-dir {results_dir}")
    batch = None
    with writes(Path(out), "--out", "output folder"):
        if draw_batch:
            from bench.practice.augment_batch import load_batch, write_batch

            try:
                images = load_batch(registry_for(plugins), runs, paths.data_dir(data_dir), paths.cache_dir(cache_dir))
            except FilesMissing as exc:
                raise click.ClickException(f"{exc}\nThe batch picture needs the suite's images: pass --data-dir DATA "
                                           "(or --no-batch to write the page without it).") from None
            except ValueError as exc:
                raise click.ClickException(str(exc)) from None
            rows = [r for rows in augment_page.build(runs).values() for r in rows]
            path, caption = write_batch(rows, images, Path(out), seed)
            batch = (path.name, caption)
        written = augment_page.write(runs, Path(out), environment.command_line(), suite=suite.name, batch=batch)
    for line in written[0].read_text().splitlines():
        if line.startswith(("### Claim", "Verdict:")):
            click.echo(line)
    shown = [p for p in written] + ([Path(out) / batch[0]] if batch else [])
    click.echo(f"{recorded} of {len(runs)} runs recorded; wrote {', '.join(str(p) for p in shown)}")
