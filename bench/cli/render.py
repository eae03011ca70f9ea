"""`bench table`, `bench export`, `bench report`: rendering records, never running anything."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click

from bench.results.store import Store
from bench.run.suite import SuiteError
from bench.cli.options import (plugins_option,
                               registry_for, results_option, seeds_option, suite_for,
                               writes)


@click.command("table")
@click.option("--suite", "suite_name", required=True, help="Suite name or .toml path.")
@click.option("--format", "fmt", type=click.Choice(["md", "latex", "html", "csv"]), default="md", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False), help="Write to this file instead of standard output.")
@click.option("--ci", is_flag=True, help="Add the 95 % t interval of the mean to metric cells.")
@click.option("--compare-to", help="Row label or variant for the paired tests (▲/▼); default: the suite's "
                                   "[table] compare_to; '' for none.")
@click.option("--test", type=click.Choice(["t-test", "wilcoxon"]), help="Paired test over seeds (default: the suite's).")
@click.option("--check", is_flag=True, help="Compare the records with the committed numbers (--against); "
                                            "exit 1 with a readable diff when a number moved.")
@click.option("--write-expected", is_flag=True, help="Write the records' numbers to --against (regenerate).")
@click.option("--against", type=click.Path(dir_okay=False),
              help="Expected-numbers file for --check / --write-expected [default: results/SUITE/expected.json].")
@click.option("--seeds", callback=seeds_option,
              help="Show these model seeds instead of the suite's, e.g. 0,1,2,3 (runs recorded with "
                   "`bench run --seeds`; the table's footnote says when there are some).")
@results_option
@plugins_option
def table_cmd(suite_name, fmt, out, ci, compare_to, test, check, write_expected, against, seeds, results_dir,
              plugins) -> None:
    """Render a suite's comparison table from the stored records (no data needed).

    With several datasets an average-rank table follows. --check / --write-expected compare with
    or rewrite the committed expected numbers instead (what CI runs on the smoke suite).
    """
    from bench.report import table
    from bench.report.render import suite_table

    reg = registry_for(plugins)
    suite = suite_for(reg, suite_name)
    if check or write_expected:
        if seeds is not None:
            raise click.UsageError("--seeds is for showing a table; --check / --write-expected use the suite's seeds")
        _check_expected(suite, reg, Store(Path(results_dir)), against, check, write_expected)
        return
    try:
        text = suite_table(suite, reg, Store(Path(results_dir)), fmt, ci=ci, compare_to=compare_to, test=test,
                           seeds=seeds)
    except table.TableError as exc:
        raise click.ClickException(str(exc))
    except (KeyError, SuiteError) as exc:
        raise click.UsageError(exc.args[0] if exc.args else str(exc))
    if out:
        with writes(Path(out).absolute().parent, "another --out", "folder"):
            Path(out).write_text(text)
        click.echo(f"wrote {out}", err=True)
    else:
        click.echo(text)


def _check_expected(suite, reg, store, against, check, write_expected) -> None:
    from bench.report import expected

    path = Path(against) if against else expected.default_path(suite)
    now = expected.snapshot(suite, reg, store)
    if write_expected:
        with writes(path.absolute().parent, "another --against", "folder"):
            expected.write(path, now)
        click.echo(f"wrote {path} ({len(now['runs'])} runs)")
        return
    try:
        committed = expected.read(path)
    except (FileNotFoundError, ValueError) as exc:
        raise click.ClickException(str(exc))
    diffs = expected.compare(committed, now, suite)
    click.echo(expected.report(diffs, path, suite, len(committed["runs"]), now["regenerate"], committed=committed))
    sys.exit(1 if diffs else 0)


@click.command("export")
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="Parquet file to write, e.g. runs.parquet.")
@click.option("--suite", "suite_name", help="Only the records this suite's table shows (default: every record).")
@results_option
@plugins_option
def export_cmd(out, suite_name, results_dir, plugins) -> None:
    """Write run records as one flat parquet table (read it with pandas.read_parquet).

    Columns: identity, status/error, times, metric.<name>, param.<name>, hardware, versions;
    the per-epoch history stays as JSON text.
    """
    from bench.results import export
    from bench.report import table

    store = Store(Path(results_dir))
    if suite_name:
        reg = registry_for(plugins)
        records = [r for _, r in table.chosen_records(suite_for(reg, suite_name), reg, store) if r is not None]
    else:
        records = list(store.records())
    if not records:
        raise click.ClickException(f"no run records in {Path(results_dir) / 'runs'}")
    with writes(Path(out).absolute().parent, "another --out", "folder"):
        path, n = export.write_parquet(records, Path(out))
    click.echo(f"wrote {path} ({n} records)")


@click.command("report")
@click.option("--suite", "suite_names", multiple=True,
              help="Suite(s) to write a page for (repeatable; required unless --check).")
@click.option("--compare-to", help="Row label or variant for the paired tests (default: the suite's compare_to).")
@click.option("--no-plots", is_flag=True, help="Tables and provenance only.")
@click.option("--html", "with_html", is_flag=True,
              help="Also write the suites' pages of the static results site (index, sortable tables, "
                   "interactive figures, leaderboard) in --site-dir.")
@click.option("--site-dir", type=click.Path(file_okay=False),
              help="Folder of the results site [default: RESULTS_DIR/site]; several results folders may share one.")
@click.option("--screenshot", type=click.Path(dir_okay=False),
              help="With --html: a PNG of the site's index.html taken by headless Chromium.")
@click.option("--check", is_flag=True,
              help="Write nothing: exit 1 naming each page (README.md, table.md, the index) that differs from "
                   "what its records render now (default: every suite with a page in the results folder).")
@results_option
@plugins_option
def report_cmd(suite_names, compare_to, no_plots, with_html, site_dir, screenshot, check, results_dir, plugins) -> None:
    """Write results/SUITE/README.md and table.md (tables, average ranks, plots, provenance) and
    rewrite the index results/README.md; with --html, the results site too. Rendering only:
    nothing is fitted."""
    from bench.report import pages as report, table

    if screenshot and not with_html:
        raise click.UsageError("--screenshot takes a picture of the results site: add --html")
    reg = registry_for(plugins)
    store = Store(Path(results_dir))
    site = Path(site_dir) if site_dir else Path(results_dir) / "site"
    if check:
        _check_pages(reg, store, Path(results_dir), list(suite_names) or None)
        return
    if not suite_names:
        raise click.UsageError("give --suite NAME (repeatable), or --check")
    if with_html:
        _practice_page(site, Path(results_dir) / "practice")
    for name in suite_names:
        suite = suite_for(reg, name)
        try:
            with writes(Path(results_dir)):
                page = report.suite_page(suite, reg, store, Path(results_dir), compare_to=compare_to,
                                         with_plots=not no_plots)
            click.echo(f"wrote {page}")
            if with_html:
                from bench.report import site as html_site

                with writes(site, "--site-dir", "site folder"):
                    click.echo(f"wrote {html_site.suite_page(suite, reg, store, site, compare_to=compare_to, with_plots=not no_plots)}")
        except table.TableError as exc:
            raise click.ClickException(str(exc))
    with writes(Path(results_dir)):
        click.echo(f"wrote {report.index(reg, store, Path(results_dir))}")
    if screenshot:
        from bench.report.screenshot import take

        try:
            click.echo(f"wrote {take(site / 'index.html', Path(screenshot))}")
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
            raise click.ClickException(str(exc))


def _practice_page(site: Path, practice_dir: Path) -> None:
    """site/practice.html from the practice pages' summaries, written first so that every page's
    nav links it; nothing when the results folder has no practice summary (a shared site keeps its own)."""
    from bench.report import site_practice

    with writes(site, "--site-dir", "site folder"):
        made = site_practice.write(site, practice_dir)
    if made:
        click.echo(f"wrote {made}")


def _check_pages(reg, store, results_dir: Path, names) -> None:
    from bench.report import pages, table

    try:
        problems = pages.check(reg, store, results_dir, names)
    except table.TableError as exc:
        raise click.ClickException(str(exc))
    except (KeyError, SuiteError) as exc:
        raise click.UsageError(exc.args[0] if exc.args else str(exc))
    for line in problems:
        click.echo(line)
    click.echo(f"{len(problems)} page(s) differ from their records in {results_dir}" if problems
               else f"every page in {results_dir} is what its records render")
    sys.exit(1 if problems else 0)
