"""The `bench` command line: list, run, table, report, export, check, new, plot, perf.

Commands only wire options to the modules that do the work (table, report, export, expected,
scaffold, plots, conformance)."""
from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import click

from . import paths
from .registry import Registry, discover
from .store import Store, StoreError, writing
from .suite import SuiteError, load_suite


EX_IOERR = 74  # sysexits.h: the results folder or an output file could not be written


class WriteError(click.ClickException):
    """A folder that cannot be written (read-only, full, no permission): one line, exit status 74."""

    exit_code = EX_IOERR


@contextlib.contextmanager
def _writes(folder: Path, option: str = "--results-dir", what: str = "results folder"):
    """Any OSError while writing under ``folder`` ends the command with one WriteError naming it."""
    try:
        with writing(folder, option, what):
            yield
    except StoreError as exc:
        raise WriteError(str(exc)) from None


def _split_csv(values: tuple[str, ...]) -> list[str]:
    return [v for item in values for v in item.split(",") if v]


def _registry(plugins: tuple[str, ...]) -> Registry:
    """Every command's scan: safe, so a plugin that ends or hangs the process at import is listed
    as broken instead of ending the command (see bench.plugin_probe)."""
    from .plugin_probe import ProbeError

    try:
        return discover(extra_dirs=plugins, safe=True)
    except (FileNotFoundError, ProbeError) as exc:
        raise click.UsageError(str(exc))


def _suite(reg: Registry, name: str):
    try:
        return load_suite(reg.suite_path(name), name=Path(name).stem)
    except (KeyError, SuiteError) as exc:
        raise click.UsageError(exc.args[0] if exc.args else str(exc))


def _seeds_option(ctx, param, value: str | None) -> list[int] | None:
    """--seeds 0,1,2: integers, each once (a repeated seed would be the same run twice)."""
    if value is None:
        return None
    from .suite import duplicates

    try:
        seeds = [int(s) for s in value.split(",") if s.strip()]
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a comma-separated list of integers, e.g. 0,1,2",
                                 param_hint="--seeds") from None
    if not seeds:
        raise click.BadParameter("give at least one seed, e.g. 0,1,2", param_hint="--seeds")
    dupes = duplicates(seeds)
    if dupes:
        raise click.BadParameter(f"seed {', '.join(map(str, dupes))} given more than once in {value!r}",
                                 param_hint="--seeds")
    return seeds


def _device_option(ctx, param, value: str) -> str:
    """auto, cpu, cuda or cuda:N; anything else is a usage error now, not a failed run later."""
    import re

    if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", value):
        raise click.BadParameter(f"{value!r} is not a device; use auto, cpu, cuda or cuda:N (N = GPU index)",
                                 param_hint="--device")
    return value


def _timeout_option(ctx, param, value: float | None) -> float | None:
    """A positive, finite number of seconds (click's range lets nan and inf through)."""
    import math

    if value is not None and not math.isfinite(value):
        raise click.BadParameter(f"{value} is not a number of seconds; give a positive number, or leave "
                                 "--timeout out for no limit", param_hint="--timeout")
    return value


plugins_option = click.option("--plugins", "plugins", multiple=True, type=click.Path(file_okay=False),
                              help="Extra folder of plugin files (*.py) and suites (*.toml); repeatable.")
results_option = click.option("--results-dir", type=click.Path(file_okay=False), default="results",
                              show_default=True, help="Where run records (runs/) and tables go.")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="bench", message="bench %(version)s")
def main() -> None:
    """bench: run every method on the same shared split of every dataset and compare them honestly.

    \b
    Typical use:
      bench list                              what methods, datasets and suites exist
      bench run --suite smoke                 run a suite (resumes; --force re-runs)
      bench table --suite smoke --format md   render its comparison table
      bench check knn                         run the plugin contract checks on one method
      bench report --suite smoke              results/smoke/README.md: tables, ranks, plots
      bench new method my-ridge               a working plugin file to edit, and a suite to try it

    Data folder: --data-dir, else $BENCH_DATA, else a per-user data folder.
    Cache folder (converted data, artifacts): --cache-dir, else $BENCH_CACHE, else the user cache.
    """


@main.command("list")
@click.argument("what", type=click.Choice(["all", "methods", "datasets", "suites", "broken"]), default="all")
@click.option("--data-dir", type=click.Path(file_okay=False), help="Data folder to check for dataset files.")
@plugins_option
def list_cmd(what: str, data_dir: str | None, plugins: tuple[str, ...]) -> None:
    """Show methods (variants, task kinds, origin), datasets (splits, files present), suites."""
    from tabulate import tabulate

    reg = _registry(plugins)
    ddir = paths.data_dir(data_dir)
    if what in ("all", "methods"):
        rows = [(v, e.family, ", ".join(e.cls.kinds), ", ".join(f"{k}={p}" for k, p in e.params.items()),
                 _origin_short(e.origin)) for v, e in sorted(reg.methods.items())]
        click.echo("Methods\n" + tabulate(rows, headers=["variant", "family", "kinds", "variant params", "from"]))
    if what in ("all", "datasets"):
        rows, how = [], []
        for n, e in sorted(reg.datasets.items()):
            ds = e.cls()
            if ds.embedded:
                files = "embedded" + (" (synthetic)" if ds.synthetic else "")
            else:
                missing = ds.missing_files(ddir)
                files = "present" if not missing else f"files missing in {ddir / (ds.folder or '')}"
                if missing:
                    how.append(f"- {n}: missing {', '.join(m.name for m in missing)}. {ds.how_to_get.strip()}")
            rows.append((n, e.cls.kind, ", ".join(e.cls.splits), files, _origin_short(e.origin)))
        click.echo("\nDatasets\n" + tabulate(rows, headers=["dataset", "kind", "splits (first = default)", "files", "from"]))
        if how:
            click.echo("\nHow to get the missing files (data folder: --data-dir or $BENCH_DATA):\n" + "\n".join(how))
    if what in ("all", "suites"):
        rows = []
        for n, p in sorted(reg.suites.items()):
            try:
                rows.append((n, load_suite(p, n).description))
            except SuiteError as exc:
                rows.append((n, f"BROKEN: {exc}"))
        click.echo("\nSuites\n" + tabulate(rows, headers=["suite", "description"]))
    if what in ("all", "broken") and reg.broken:
        click.echo("\nBroken plugins (everything else works)")
        for b in reg.broken:
            click.echo(f"- {b.origin}\n    " + b.error.replace("\n", "\n    "))


def _origin_short(origin) -> str:
    if origin.path:
        p = Path(origin.path)
        return f"{p.parent.name}/{p.name}"
    return f"{origin.distribution} {origin.version}"


@main.command()
@click.option("--suite", "suite_name", required=True, help="Suite name (see `bench list suites`) or a .toml path.")
@click.option("--methods", multiple=True, help="Only these method variants (globs, comma-separated or repeated).")
@click.option("--datasets", multiple=True, help="Only these datasets (globs).")
@click.option("--seeds", callback=_seeds_option, help="Override the suite's seeds, e.g. 0,1,2.")
@click.option("--device", default="auto", show_default=True, callback=_device_option,
              help="auto, cpu, cuda or cuda:N.")
@click.option("--data-dir", type=click.Path(file_okay=False), help="Data folder (else $BENCH_DATA, else the user data folder).")
@click.option("--cache-dir", type=click.Path(file_okay=False), help="Writable cache folder (else $BENCH_CACHE, else the user cache).")
@results_option
@plugins_option
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), callback=_timeout_option,
              help="Wall-clock limit per run (fit + predict) in seconds; beats the suite's. Methods are "
                   "told 90% of it as their time budget.")
@click.option("--memory-limit", help="Memory limit per run's worker, e.g. 4G or 512M; beats the suite's.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=1, show_default=True,
              help="Worker processes running at once (one GPU each when there are GPUs).")
@click.option("--executor", type=click.Choice(["local", "inline", "ray"]), default="local", show_default=True,
              help="local: worker processes; inline: this process, no isolation (debugging); "
                   "ray: Ray tasks (pip install 'bench[ray]').")
@click.option("--address", help="With --executor ray: the cluster address (default: start a local instance).")
@click.option("--threads", type=click.IntRange(min=1),
              help="CPU threads per run (torch, OpenMP, MKL, OpenBLAS), the same under every --jobs and "
                   "executor, recorded and part of the run's key. Default: the cores available here.")
@click.option("--allow-skip", is_flag=True,
              help="Runs skipped because their data files are missing do not make the exit status nonzero.")
@click.option("--force", is_flag=True, help="Re-run runs that are already recorded.")
@click.option("--dry-run", is_flag=True, help="Print the plan (and what is already recorded or stale) without running.")
@click.option("--format", "fmt", type=click.Choice(["md", "latex", "html", "csv", "none"]), default="md",
              show_default=True, help="Print the suite's table in this format when done.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def run(suite_name, methods, datasets, seeds, device, data_dir, cache_dir, results_dir, plugins, timeout,
        memory_limit, jobs, executor, address, threads, allow_skip, force, dry_run, fmt, quiet) -> None:
    """Run a suite: every method on the same shared split of every dataset, one record per run.

    Each run executes in a worker process, its data loading included: an exception, a crash, or
    passing the time or memory limit ends that run only (recorded as failed / crashed / timeout /
    oom) and the suite goes on. Runs already recorded by the same code (the plugin, every project
    module it imports, the fits it uses, the dataset code) on the same split with the same
    --threads are skipped (resume); several `bench run` processes may share one results folder.

    \b
    Exit status:
      0    every planned run ran (or was already recorded)
      1    a run failed (failed, crashed, timeout, oom; a dataset that failed to load included)
      3    runs were skipped because data files are missing or a download failed (--allow-skip: 0)
      74   the results folder cannot be written (read-only, disk full, no permission): checked
           before the first run; the suite stops at the first record it cannot write
      130  interrupted (Ctrl-C, SIGTERM): finished runs are kept, nothing half-written
    """
    from . import environment, table
    from .limits import parse_memory
    from .runner import RunOptions, run_specs

    try:
        memory_mb = parse_memory(memory_limit)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--memory-limit")
    if address and executor != "ray":
        raise click.UsageError("--address is for --executor ray")
    if executor == "ray" and not dry_run:
        import importlib.util

        if importlib.util.find_spec("ray") is None:
            raise click.UsageError("--executor ray needs Ray, which is not installed: "
                                   "pip install 'bench[ray]' (or pip install ray)")

    reg = _registry(plugins)
    suite = _suite(reg, suite_name)
    try:
        specs = suite.expand(reg, methods=_split_csv(methods) or None, datasets=_split_csv(datasets) or None,
                             seeds=seeds)
    except (KeyError, TypeError, ValueError) as exc:
        raise click.UsageError(exc.args[0] if exc.args else str(exc))
    if not specs:
        raise click.UsageError("the filters leave nothing to run; see `bench list`")
    clash = reg.clash_error({s.method for s in specs}, {s.dataset for s in specs})
    if clash:
        raise click.UsageError(clash)
    store = Store(Path(results_dir))
    ddir, cdir = paths.data_dir(data_dir), paths.cache_dir(cache_dir)
    try:
        dev = environment.resolve_device(device)
    except RuntimeError as exc:
        raise click.UsageError(str(exc))
    opts = RunOptions(data_dir=ddir, cache_dir=cdir, device=dev, force=force, timeout=timeout,
                      memory_limit_mb=memory_mb, jobs=jobs, executor=executor, address=address,
                      show_progress=not quiet, command=environment.command_line(), threads=threads)
    from .identity import DependencyError, run_identity

    try:  # every fit a run depends on must exist (an ee_variant, a blend's members), before any run
        for s in specs:
            run_identity(reg, s)
    except DependencyError as exc:
        raise click.UsageError(f"{suite.path}: {exc}")
    cores = environment.available_cores()
    if executor == "local" and jobs * opts.threads > cores and not dry_run:
        click.echo(f"note: {jobs} workers × {opts.threads} threads each on {cores} cores; the numbers are the "
                   f"same, but pass --threads {max(1, cores // jobs)} to avoid oversubscription (it changes "
                   f"the runs' keys)", err=True)
    if dry_run:
        from .runner import plan

        rows = plan(reg, specs, store, opts)
        todo = sum(st.startswith("to run") for _, st in rows)
        click.echo(f"suite {suite.name}: {len(specs)} runs, {todo} to run, {opts.threads} threads per run "
                   f"(data {ddir}, results {results_dir})")
        for s, st in rows:
            click.echo(f"  [{st}] {s.describe()}")
        return
    with _writes(store.runs):  # a read-only or full results folder fails here, before any run
        store.check_writable()
    import signal
    import threading

    def stop(signum, frame):  # `kill` and CI cancellations stop as cleanly as Ctrl-C
        raise KeyboardInterrupt

    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, stop) if main_thread else None
    # a shell's `cmd &` starts us with SIGINT ignored; `kill -INT` still means "stop cleanly"
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler) if main_thread else None
    try:
        summary = run_specs(reg, specs, store, opts, echo=lambda m: click.echo(m, err=True))
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)
            signal.signal(signal.SIGINT, previous_int)
    if summary.interrupted:
        done = len(summary.outcomes)
        click.echo(f"interrupted: {done} of {len(specs)} runs finished and recorded (or settled); "
                   f"nothing half-written. {summary.line()}", err=True)
        sys.exit(130)
    if summary.store_error:
        raise WriteError(f"{summary.store_error}. Stopped there; so far {summary.line()} (their records "
                         f"are kept, nothing half-written; the next `bench run` resumes).")
    click.echo(summary.line(), err=True)
    if fmt != "none":
        sections = table.build(suite, reg, store, specs=specs)
        text = table.render(sections, fmt, title=suite.table.title or f"suite {suite.name}")
        click.echo(text)
        out = Path(results_dir) / suite.name / f"table.{fmt}"
        with _writes(out.parent):
            out.parent.mkdir(parents=True, exist_ok=True)
            paths.write_file(out, text)  # atomic; a link planted in the results folder is not followed
    sys.exit(summary.exit_status(allow_skip))


@main.command("table")
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
@results_option
@plugins_option
def table_cmd(suite_name, fmt, out, ci, compare_to, test, check, write_expected, against, results_dir, plugins) -> None:
    """Render a suite's comparison table from the stored records (no data needed).

    With several datasets an average-rank table follows. --check / --write-expected compare with
    or rewrite the committed expected numbers instead (what CI runs on the smoke suite).
    """
    from . import table

    reg = _registry(plugins)
    suite = _suite(reg, suite_name)
    if check or write_expected:
        _check_expected(suite, reg, Store(Path(results_dir)), against, check, write_expected)
        return
    try:
        sections = table.build(suite, reg, Store(Path(results_dir)), compare_to=compare_to, test=test)
        ranks = table.average_ranks(sections)
        text = table.render(sections + ([ranks] if ranks else []), fmt,
                            title=suite.table.title or f"suite {suite.name}", ci=ci)
    except table.TableError as exc:
        raise click.ClickException(str(exc))
    except (KeyError, SuiteError) as exc:
        raise click.UsageError(exc.args[0] if exc.args else str(exc))
    if out:
        with _writes(Path(out).absolute().parent, "another --out", "folder"):
            Path(out).write_text(text)
        click.echo(f"wrote {out}", err=True)
    else:
        click.echo(text)


def _check_expected(suite, reg, store, against, check, write_expected) -> None:
    from . import expected

    path = Path(against) if against else expected.default_path(suite)
    now = expected.snapshot(suite, reg, store)
    if write_expected:
        with _writes(path.absolute().parent, "another --against", "folder"):
            expected.write(path, now)
        click.echo(f"wrote {path} ({len(now['runs'])} runs)")
        return
    try:
        committed = expected.read(path)
    except (FileNotFoundError, ValueError) as exc:
        raise click.ClickException(str(exc))
    diffs = expected.compare(committed, now, suite)
    click.echo(expected.report(diffs, path, suite, len(now["runs"])))
    sys.exit(1 if diffs else 0)


@main.command("export")
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="Parquet file to write, e.g. runs.parquet.")
@click.option("--suite", "suite_name", help="Only the records this suite's table shows (default: every record).")
@results_option
@plugins_option
def export_cmd(out, suite_name, results_dir, plugins) -> None:
    """Write run records as one flat parquet table (read it with pandas.read_parquet).

    Columns: identity, status/error, times, metric.<name>, param.<name>, hardware, versions;
    the per-epoch history stays as JSON text.
    """
    from . import export, table

    store = Store(Path(results_dir))
    if suite_name:
        reg = _registry(plugins)
        records = [r for _, r in table.chosen_records(_suite(reg, suite_name), reg, store) if r is not None]
    else:
        records = list(store.records())
    if not records:
        raise click.ClickException(f"no run records in {Path(results_dir) / 'runs'}")
    with _writes(Path(out).absolute().parent, "another --out", "folder"):
        path, n = export.write_parquet(records, Path(out))
    click.echo(f"wrote {path} ({n} records)")


@main.command("report")
@click.option("--suite", "suite_names", multiple=True, required=True,
              help="Suite(s) to write a page for (repeatable).")
@click.option("--compare-to", help="Row label or variant for the paired tests (default: the suite's compare_to).")
@click.option("--no-plots", is_flag=True, help="Tables and provenance only.")
@results_option
@plugins_option
def report_cmd(suite_names, compare_to, no_plots, results_dir, plugins) -> None:
    """Write results/SUITE/README.md (tables, average ranks, plots, provenance) and rewrite the
    index results/README.md. Rendering only: nothing is fitted."""
    from . import report, table

    reg = _registry(plugins)
    store = Store(Path(results_dir))
    for name in suite_names:
        suite = _suite(reg, name)
        try:
            with _writes(Path(results_dir)):
                page = report.suite_page(suite, reg, store, Path(results_dir), compare_to=compare_to,
                                         with_plots=not no_plots)
        except table.TableError as exc:
            raise click.ClickException(str(exc))
        click.echo(f"wrote {page}")
    with _writes(Path(results_dir)):
        click.echo(f"wrote {report.index(reg, store, Path(results_dir))}")


@main.command()
@click.argument("variant")
@click.option("--kind", help="Only this task kind (default: every kind the method supports).")
@click.option("--budget", type=float, default=60.0, show_default=True, help="Seconds allowed for fit+predict on tiny data.")
@click.option("--data-dir", type=click.Path(file_okay=False), help="Data folder (dataset checks of a dataset with files).")
@click.option("--cache-dir", type=click.Path(file_okay=False), help="Cache folder (dataset checks).")
@plugins_option
def check(variant, kind, budget, data_dir, cache_dir, plugins) -> None:
    """Run the plugin contract checks on one method variant (on tiny data) or one dataset."""
    from . import conformance

    reg = _registry(plugins)
    if variant not in reg.methods and variant in reg.datasets:
        _check_dataset(reg, variant, data_dir, cache_dir)
        return
    try:
        entry = reg.method(variant)
    except KeyError as exc:
        raise click.UsageError(exc.args[0])
    kinds = [kind] if kind else list(entry.cls.kinds)
    failed = 0
    for problem in conformance.card_problems(entry.cls):
        failed += 1
        click.echo(f"FAIL {variant} card: {problem}")
    for k in kinds:
        for r in conformance.run_checks(entry.cls, entry.params, k, budget_s=budget):
            mark = "PASS" if r.ok else "FAIL"
            failed += not r.ok
            click.echo(f"{mark} {variant} [{k}] {r.name} ({r.seconds:.2f}s)"
                       + ("" if r.ok else ": " + r.message.strip().splitlines()[0]))
    click.echo(f"{variant}: {'all checks passed' if not failed else f'{failed} check(s) failed'}")
    sys.exit(1 if failed else 0)


def _check_dataset(reg, name, data_dir, cache_dir) -> None:
    from . import conformance

    results = conformance.dataset_checks(reg.dataset(name).cls, paths.data_dir(data_dir), paths.cache_dir(cache_dir))
    for r in results:
        click.echo(f"{'PASS' if r.ok else 'FAIL'} {name} {r.name} ({r.seconds:.2f}s)"
                   + ("" if r.ok else ": " + r.message.strip().splitlines()[0]))
    failed = sum(not r.ok for r in results)
    click.echo(f"{name}: {'all checks passed' if not failed else f'{failed} check(s) failed'}")
    sys.exit(1 if failed else 0)


@main.command("new")
@click.argument("kind", type=click.Choice(["method", "dataset"]))
@click.argument("name")
@click.option("--dir", "folder", type=click.Path(file_okay=False),
              help="Folder to write into [default: plugins/ for a method, datasets/ for a dataset].")
@plugins_option
def new_cmd(kind, name, folder, plugins) -> None:
    """Write a working, commented plugin file from a template (and, for a method, a try-NAME
    suite beside it). Never overwrites; prints what to do next."""
    from . import scaffold

    reg = _registry(plugins)
    target = Path(folder) if folder else Path("plugins" if kind == "method" else "datasets")
    try:
        written = scaffold.create(kind, name, target, reg)
    except scaffold.ScaffoldError as exc:
        raise click.ClickException(str(exc))
    click.echo(scaffold.next_steps(kind, name, target, written))


@main.group()
def perf() -> None:
    """Speed benchmarks: ratios against baselines measured in the same process."""


@perf.command("tabular")
@click.option("--dataset", default="rossmann", show_default=True, help="A tabular dataset (rossmann-sim for a quick try).")
@click.option("--split", help="Split (default: the dataset's default).")
@click.option("--device", default="auto", show_default=True)
@click.option("--batch", "batches", default="128,1024", show_default=True, help="Batch sizes, comma-separated.")
@click.option("--rows", type=int, help="Use only the first N train rows for the loop measurements.")
@click.option("--trials", type=int, default=3, show_default=True)
@click.option("--no-peer", is_flag=True, help="Skip the time-to-quality comparison (bench ee vs fastai).")
@click.option("--ee-variant", default="ee-1cycle", show_default=True)
@click.option("--ee-param", "ee_params", multiple=True, help="Override a parameter of the ee variant, e.g. epochs=6.")
@click.option("--sections", default="overhead,dataloader,onehot,quality", show_default=True,
              help="Which measurements to run, comma-separated.")
@click.option("--data-dir", type=click.Path(file_okay=False))
@click.option("--cache-dir", type=click.Path(file_okay=False))
@click.option("--out", type=click.Path(dir_okay=False), help="Also write the results as Markdown here.")
@plugins_option
def perf_tabular(dataset, split, device, batches, rows, trials, no_peer, ee_variant, ee_params, sections,
                 data_dir, cache_dir, out, plugins) -> None:
    """NN core speed on a real tabular task: loop overhead vs the bare step, vs a DataLoader loop,
    embedding-bag vs dense one-hot, and time to quality against fastai's tabular_learner."""
    from tabulate import tabulate

    from . import environment, perf as perf_mod
    from .runner import load_task
    from .spec import RunSpec

    reg = _registry(plugins)
    try:
        split = reg.dataset(dataset).build().check_split(split)
    except KeyError as exc:
        raise click.UsageError(exc.args[0])
    spec = RunSpec(suite="", dataset=dataset, dataset_params=(), split=split, method="", params=(), seed=0)
    from .dataset import FilesMissing

    try:
        task = load_task(reg, spec, paths.data_dir(data_dir), paths.cache_dir(cache_dir))
    except FilesMissing as exc:
        raise click.ClickException(str(exc))
    dev = environment.resolve_device(device)
    import ast

    overrides = {}
    for item in ee_params:
        key, _, value = item.partition("=")
        try:
            overrides[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            overrides[key] = value
    chosen = tuple(s for s in sections.split(",") if s)
    unknown = [s for s in chosen if s not in perf_mod.SECTIONS]
    if unknown:
        raise click.UsageError(f"unknown section(s) {unknown}; choose from {', '.join(perf_mod.SECTIONS)}")
    rows_out = perf_mod.run_tabular(reg, task, device=dev, batches=[int(b) for b in batches.split(",")],
                                    rows=rows, trials=trials, peer=not no_peer, ee_variant=ee_variant,
                                    sections=chosen, ee_params=overrides)
    if out:
        lines = [f"# bench perf tabular: {dataset}/{split}", "",
                 f"- Command: `{environment.command_line()}`",
                 f"- Hardware: {environment.hardware(dev)}; device `{dev}`",
                 "- Versions: " + ", ".join(f"{k} {v}" for k, v in environment.versions().items()),
                 f"- Split fingerprint: `{task.split.fingerprint}`", ""]
        for section in dict.fromkeys(r["section"] for r in rows_out):
            part = [{k: v for k, v in r.items() if k != "section"} for r in rows_out if r["section"] == section]
            lines += [f"## {section}", "", tabulate(part, headers="keys", tablefmt="github", floatfmt=".4g"), ""]
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text("\n".join(lines))
        click.echo(f"wrote {out}", err=True)


@perf.command("harness")
@click.option("--suite", "suite_name", default="smoke", show_default=True, help="The suite to run.")
@click.option("--settings", default="inline,1,2", show_default=True,
              help="Comma-separated: 'inline' (in this process, no isolation) and numbers of worker jobs.")
@click.option("--device", default="cpu", show_default=True)
@click.option("--data-dir", type=click.Path(file_okay=False))
@click.option("--cache-dir", type=click.Path(file_okay=False))
@click.option("--out", type=click.Path(dir_okay=False), help="Also write the results as Markdown here.")
@plugins_option
def perf_harness(suite_name, settings, device, data_dir, cache_dir, out, plugins) -> None:
    """Harness overhead: a suite's total wall time against the sum of its plugins' own fit + predict
    time, in-process and in worker processes (serial and parallel), into a temporary results folder."""
    from tabulate import tabulate

    from . import environment, harness_perf

    reg = _registry(plugins)
    suite = _suite(reg, suite_name)
    chosen = [s.strip() for s in settings.split(",") if s.strip()]
    bad = [s for s in chosen if s != "inline" and not (s.isdigit() and int(s) > 0)]
    if bad:
        raise click.UsageError(f"--settings: {', '.join(bad)} is neither 'inline' nor a number of jobs")
    dev = environment.resolve_device(device)
    rows = harness_perf.measure(reg, suite.expand(reg), chosen, paths.data_dir(data_dir), paths.cache_dir(cache_dir),
                                device=dev, echo=lambda m: click.echo(m))
    if out:
        text = "\n".join([f"# bench perf harness: suite {suite.name}", "",
                          f"- Command: `{environment.command_line()}`",
                          f"- Hardware: {environment.hardware(dev)}; device `{dev}`",
                          "- Versions: " + ", ".join(f"{k} {v}" for k, v in environment.versions().items()),
                          "- overhead ratio = wall time of the whole run / sum of the plugins' fit + predict "
                          "seconds (1.0 = no overhead; with N jobs, 1/N is ideal)", "",
                          tabulate(rows, headers="keys", tablefmt="github"), ""])
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(text)
        click.echo(f"wrote {out}", err=True)


@perf.command("collab")
@click.option("--folds", default="u1,u2,u3,u4,u5", show_default=True, help="movielens splits, comma-separated.")
@click.option("--release", default="ml-100k", show_default=True)
@click.option("--methods", default=",".join(("global-mean", "bias", "item-knn", "mf", "mf-fastai", "ncf", "blend")),
              show_default=True, help="bench variants, comma-separated.")
@click.option("--peers", default="surprise-baseline,surprise-svd,surprise-svdpp,surprise-knnbaseline,fastai-collab",
              show_default=True, help="Peers, comma-separated ('' for none); missing packages are skipped.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--data-dir", type=click.Path(file_okay=False))
@click.option("--cache-dir", type=click.Path(file_okay=False))
@click.option("--out", type=click.Path(dir_okay=False), help="Also write the results as Markdown here.")
@plugins_option
def perf_collab(folds, release, methods, peers, seed, data_dir, cache_dir, out, plugins) -> None:
    """bench's CF methods next to scikit-surprise (SVD, SVD++, KNNBaseline, BaselineOnly) and
    fastai's collab_learner on the same MovieLens folds: RMSE, MAE and fit seconds."""
    from tabulate import tabulate

    from . import environment, perf_collab
    from .dataset import FilesMissing, LoadContext

    reg = _registry(plugins)
    ds = reg.dataset("movielens").build({"release": release})
    ctx = LoadContext(data_dir=paths.data_dir(data_dir), cache_dir=paths.cache_dir(cache_dir))
    try:
        tasks = {f: ds.load(ds.check_split(f), ctx) for f in folds.split(",") if f}
    except FilesMissing as exc:
        raise click.ClickException(str(exc))
    except KeyError as exc:
        raise click.UsageError(exc.args[0])
    variants = [m for m in methods.split(",") if m]
    for v in variants:
        reg.method(v)  # unknown names fail here, with close matches
    unknown = [p for p in peers.split(",") if p and p not in perf_collab.PEERS]
    if unknown:
        raise click.UsageError(f"unknown peer(s) {unknown}; choose from {', '.join(perf_collab.PEERS)}")
    rows = perf_collab.run_collab(reg, tasks, variants, [p for p in peers.split(",") if p], seed,
                                  echo=lambda m: click.echo(m, err=True))
    ratio = perf_collab.time_ratio(rows)
    table = tabulate(rows, headers="keys", tablefmt="github", floatfmt=".4f")
    click.echo(table)
    lines = []
    if ratio:
        lines.append(f"mf vs surprise-svd: fit time ratio {ratio['time_ratio']:.2f}x, RMSE "
                     f"{ratio['rmse_ours']:.4f} vs {ratio['rmse_theirs']:.4f}")
        click.echo(lines[-1])
    if out:
        fp = ", ".join(f"{f} `{t.split.fingerprint}`" for f, t in tasks.items())
        head = [f"# bench perf collab: MovieLens {release}, folds {folds}", "",
                f"- Command: `{environment.command_line()}`",
                f"- Hardware: {environment.hardware('cpu')}",
                "- Versions: " + ", ".join(f"{k} {v}" for k, v in environment.versions().items()),
                f"- Split fingerprints: {fp}",
                "- Everyone trains on each fold's train part (its .base less bench's 5 % valid rows) and is "
                "scored on its .test rows; RMSE and MAE are means over the folds, fit seconds their sum.", ""]
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text("\n".join(head + [table, ""] + lines) + "\n")
        click.echo(f"wrote {out}", err=True)


@main.group()
def plot() -> None:
    """PNG figures (headless): learning curves, metric bars, time vs metric, learned embeddings."""


@plot.command("curves")
@click.option("--suite", "suite_name", required=True)
@click.option("--out", type=click.Path(dir_okay=False), help="PNG path (default results/SUITE/learning-curves.png).")
@results_option
@plugins_option
def plot_curves(suite_name, out, results_dir, plugins) -> None:
    """Train loss and valid metric per epoch for every run of SUITE that has a history."""
    from . import plots, table

    reg = _registry(plugins)
    suite = _suite(reg, suite_name)
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
    from . import plots, table

    reg = _registry(plugins)
    suite = _suite(reg, suite_name)
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
    from . import plots, table

    reg = _registry(plugins)
    suite = _suite(reg, suite_name)
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
@click.option("--dataset", required=True, help="Dataset name, e.g. rossmann.")
@click.option("--split", help="Split name (default: the dataset's default).")
@click.option("--variant", default="ee", show_default=True, help="A method variant with an embeddings() method.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--columns", required=True, help="Comma-separated categorical columns, e.g. state,store.")
@click.option("--device", default="auto", show_default=True)
@click.option("--data-dir", type=click.Path(file_okay=False))
@click.option("--cache-dir", type=click.Path(file_okay=False))
@click.option("--label-top", type=int, default=0,
              help="Label only the N most frequent levels of each column in train (e.g. the most rated movies).")
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="PNG path.")
@plugins_option
def plot_embeddings(dataset, split, variant, seed, columns, device, data_dir, cache_dir, label_top, out,
                    plugins) -> None:
    """Project learned entity embeddings to 2-D (PCA). Reuses the network a "with EE" run trained
    on the same dataset, split and seed (from the cache folder), else trains it once."""
    from . import environment, plots
    from .method import FitContext
    from .runner import _resolve, load_task, task_key
    from .spec import RunSpec

    reg = _registry(plugins)
    try:
        ds = reg.dataset(dataset).build()
        split = ds.check_split(split)
        reg.method(variant)
    except KeyError as exc:
        raise click.UsageError(exc.args[0])
    spec = RunSpec(suite="", dataset=dataset, dataset_params=(), split=split, method=variant, params=(), seed=seed)
    ddir, cdir = paths.data_dir(data_dir), paths.cache_dir(cache_dir)
    task = load_task(reg, spec, ddir, cdir)
    ctx = FitContext(seed=seed, device=environment.resolve_device(device), cache_dir=cdir,
                     task_key=task_key(spec, task), dataset=dataset)
    ctx.resolve_method = lambda v, o: _resolve(reg, v, o)
    model = ctx.fitted(variant, task.part("train"), task.part("valid"))
    if not hasattr(model, "embeddings"):
        raise click.UsageError(f"method {variant} has no embeddings()")
    cols = [c for c in columns.split(",") if c]
    names = dict(task.categories or {})
    if hasattr(ds, "level_names"):  # e.g. movie titles for MovieLens item codes
        names.update({c: ds.level_names(task, c, ddir) or names.get(c) for c in cols})
    top = None
    if label_top:
        import numpy as np

        train_X = task.part("train").X
        top = {c: np.bincount(train_X[c].to_numpy(), minlength=task.schema.categorical[c]).argsort()[::-1][:label_top].tolist()
               for c in cols}
    path = plots.embedding_projection(model.embeddings(), names, cols, Path(out), label_codes=top,
                                      title=f"{variant} embeddings on {dataset}/{split} "
                                            f"(fingerprint {task.split.fingerprint}, seed {seed})")
    click.echo(f"wrote {path}")


if __name__ == "__main__":
    main()
