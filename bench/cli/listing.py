"""`bench list`: the methods, datasets and suites the scan found, and the broken plugins."""
from __future__ import annotations


import click

from bench.data import paths
from bench.run.suite import SuiteError, load_suite
from bench.cli.options import (origin_short, plugins_option,
                               registry_for)


@click.command("list")
@click.argument("what", type=click.Choice(["all", "methods", "datasets", "suites", "broken"]), default="all")
@click.option("--data-dir", type=click.Path(file_okay=False), help="Data folder to check for dataset files.")
@plugins_option
def list_cmd(what: str, data_dir: str | None, plugins: tuple[str, ...]) -> None:
    """Show methods (variants, task kinds, origin), datasets (splits, files present), suites."""
    from tabulate import tabulate

    reg = registry_for(plugins)
    ddir = paths.data_dir(data_dir)
    if what in ("all", "methods"):
        rows = [(v, e.family, ", ".join(e.cls.kinds), ", ".join(f"{k}={p}" for k, p in e.params.items()),
                 origin_short(e.origin)) for v, e in sorted(reg.methods.items())]
        click.echo("Methods\n" + tabulate(rows, headers=["variant", "family", "kinds", "variant params", "from"]))
        if what == "methods":  # `all` lists every broken plugin at its end
            _echo_broken(reg, "methods")
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
            params = ", ".join(f"{k}={v!r}" for k, v in e.cls.defaults.items()) or "-"
            rows.append((n, e.cls.kind, ", ".join(e.cls.splits), params, files, origin_short(e.origin)))
        click.echo("\nDatasets\n" + tabulate(rows, headers=["dataset", "kind", "splits (first = default)",
                                                           "params (defaults)", "files", "from"]))
        if how:
            click.echo("\nHow to get the missing files (data folder: --data-dir or $BENCH_DATA):\n" + "\n".join(how))
        if what == "datasets":
            _echo_broken(reg, "datasets")
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


def broken_of(reg, kind: str) -> list:
    """The broken plugins that may have held ``kind`` ("methods" or "datasets"): entry points of
    its group, and plugin files unless they sit in the other kind's folder (a file that does not
    import cannot say what it holds)."""
    from pathlib import Path

    from bench.plugins.registry import ENTRY_POINT_GROUPS

    other = "datasets" if kind == "methods" else "plugins"
    out = []
    for b in reg.broken:
        if "(entry point " in b.origin:
            if f"(entry point {ENTRY_POINT_GROUPS[kind]}:" in b.origin:
                out.append(b)
        elif other not in Path(b.origin).parts:
            out.append(b)
    return out


def _echo_broken(reg, kind: str) -> None:
    """Under `bench list methods` / `datasets`: the broken plugins that may have held one, with
    their errors, so a plugin that failed to load is never just missing from the list."""
    broken = broken_of(reg, kind)
    if broken:
        click.echo(f"\nBroken plugins that may hold {kind} (not listed above; `bench list broken` shows all)")
        for b in broken:
            click.echo(f"- {b.origin}\n    " + b.error.replace("\n", "\n    "))
