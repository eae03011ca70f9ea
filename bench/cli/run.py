"""`bench run`: plan a suite, run what is not recorded, print its table."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from bench.data import paths
from bench.results.store import Store
from bench.cli.options import (WriteError, device_option, plugins_hint, plugins_option,
                               registry_for, results_option, seeds_option, split_csv, suite_for,
                               timeout_option, writes)


@click.command()
@click.option("--suite", "suite_name", required=True, help="Suite name (see `bench list suites`) or a .toml path.")
@click.option("--methods", multiple=True, help="Only these method variants (globs, comma-separated or repeated).")
@click.option("--datasets", multiple=True, help="Only these datasets (globs; name[param=value,...] also "
                                                 "matches the dataset's parameters).")
@click.option("--seeds", callback=seeds_option, help="Override the suite's seeds, e.g. 0,1,2.")
@click.option("--device", default="auto", show_default=True, callback=device_option,
              help="auto, cpu, cuda or cuda:N.")
@click.option("--data-dir", type=click.Path(file_okay=False), help="Data folder (else $BENCH_DATA, else the user data folder).")
@click.option("--cache-dir", type=click.Path(file_okay=False), help="Writable cache folder (else $BENCH_CACHE, else the user cache).")
@results_option
@plugins_option
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), callback=timeout_option,
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
    from bench.core import environment
    from bench.run.limits import parse_memory
    from bench.run.suite_runner import run_specs
    from bench.run.execute import RunOptions
    from bench.run.suite import split_refs

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

    reg = registry_for(plugins)
    suite = suite_for(reg, suite_name)
    try:
        specs = suite.expand(reg, methods=split_csv(methods) or None, datasets=split_refs(datasets) or None,
                             seeds=seeds)
    except (KeyError, TypeError, ValueError) as exc:
        hint = plugins_hint(reg, results_dir, [d.get("name") for d in suite.datasets],
                            [m.get("variant") for m in suite.methods])
        raise click.UsageError((exc.args[0] if exc.args else str(exc)) + hint)
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
    from bench.core.identity import DependencyError, run_identity

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
        from bench.run.suite_runner import plan

        rows = plan(reg, specs, store, opts)
        todo = sum(st.startswith("to run") for _, st in rows)
        click.echo(f"suite {suite.name}: {len(specs)} runs, {todo} to run, {opts.threads} threads per run "
                   f"(data {ddir}, results {results_dir})")
        for s, st in rows:
            click.echo(f"  [{st}] {s.describe()}")
        return
    with writes(store.runs):  # a read-only or full results folder fails here, before any run
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
        _print_table(suite, reg, store, Path(results_dir), fmt)
    sys.exit(summary.exit_status(allow_skip))


def _print_table(suite, reg, store: Store, results_dir: Path, fmt: str) -> None:
    """The suite's table from ALL its records (what `bench table` prints, whatever --methods,
    --datasets or --seeds this run had), printed and written to RESULTS/SUITE/table.FMT."""
    from bench.report.render import suite_table
    from bench.report.table import TableError

    try:
        text = suite_table(suite, reg, store, fmt)
    except TableError as exc:  # the runs are recorded; only the table cannot be made
        click.echo(f"no table: {exc}", err=True)
        return
    click.echo(text)
    out = results_dir / suite.name / f"table.{fmt}"
    with writes(out.parent):
        out.parent.mkdir(parents=True, exist_ok=True)
        paths.write_file(out, text)  # atomic; a link planted in the results folder is not followed
