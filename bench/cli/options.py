"""Options and helpers every command group shares: the plugin scan, suites, results folders."""
from __future__ import annotations

import ast
import contextlib
import tomllib
from pathlib import Path
from typing import Any

import click

from bench.plugins.registry import Registry, discover
from bench.results.store import StoreError, writing
from bench.run.suite import SuiteError, load_suite


EX_IOERR = 74  # sysexits.h: the results folder or an output file could not be written


class WriteError(click.ClickException):
    """A folder that cannot be written (read-only, full, no permission): one line, exit status 74."""

    exit_code = EX_IOERR


@contextlib.contextmanager
def writes(folder: Path, option: str = "--results-dir", what: str = "results folder"):
    """Any OSError while writing under ``folder`` ends the command with one WriteError naming it."""
    try:
        with writing(folder, option, what):
            yield
    except StoreError as exc:
        raise WriteError(str(exc)) from None


def split_csv(values: tuple[str, ...]) -> list[str]:
    return [v for item in values for v in item.split(",") if v]


def registry_for(plugins: tuple[str, ...]) -> Registry:
    """Every command's scan: safe, so a plugin that ends or hangs the process at import is listed
    as broken instead of ending the command (see bench.plugins.probe)."""
    from bench.plugins.probe import ProbeError

    try:
        return discover(extra_dirs=plugins, safe=True)
    except (FileNotFoundError, ProbeError) as exc:
        raise click.UsageError(str(exc))


def suite_for(reg: Registry, name: str):
    try:
        return load_suite(reg.suite_path(name), name=Path(name).stem)
    except (KeyError, SuiteError) as exc:
        raise click.UsageError(exc.args[0] if exc.args else str(exc))


def seeds_option(ctx, param, value: str | None) -> list[int] | None:
    """--seeds 0,1,2: integers, each once (a repeated seed would be the same run twice)."""
    if value is None:
        return None
    from bench.run.suite import duplicates

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


def device_option(ctx, param, value: str) -> str:
    """auto, cpu, cuda or cuda:N; anything else is a usage error now, not a failed run later."""
    import re

    if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", value):
        raise click.BadParameter(f"{value!r} is not a device; use auto, cpu, cuda or cuda:N (N = GPU index)",
                                 param_hint="--device")
    return value


def timeout_option(ctx, param, value: float | None) -> float | None:
    """A positive, finite number of seconds (click's range lets nan and inf through)."""
    import math

    if value is not None and not math.isfinite(value):
        raise click.BadParameter(f"{value} is not a number of seconds; give a positive number, or leave "
                                 "--timeout out for no limit", param_hint="--timeout")
    return value


plugins_option = click.option("--plugins", "plugins", multiple=True, type=click.Path(file_okay=False),
                              help="Extra folder of plugin files (*.py) and suites (*.toml); repeatable.")
results_option = click.option("--results-dir", type=click.Path(file_okay=False), default="results",
                              envvar="BENCH_RESULTS", show_default=True, show_envvar=True,
                              help="Where run records (runs/) and tables go.")



def origin_short(origin) -> str:
    if origin.path:
        p = Path(origin.path)
        return f"{p.parent.name}/{p.name}"
    return f"{origin.distribution} {origin.version}"


def _plugin_folder(path: str) -> Path:
    """The folder to give --plugins for a plugin file (a package plugin: the folder above it)."""
    p = Path(path)
    return p.parent.parent if p.name == "__init__.py" else p.parent


def recorded_folders(results_dir: str | Path, datasets=(), methods=()) -> dict[str, list[Path]]:
    """For each dataset / method variant named, the plugin folders (outside the built-in ones) its
    records in ``results_dir`` were made from: a dataset's recorded origin, else (records older
    than that field) the folder of the method run on it, when that was a plugin folder too."""
    from bench.plugins.registry import builtin_root
    from bench.results.store import Store

    builtin = builtin_root().resolve()
    datasets, methods = set(datasets), set(methods)
    found: dict[str, set[Path]] = {}
    if not (datasets or methods):
        return {}
    for rec in Store(Path(results_dir)).records():
        dname, variant = rec.dataset.get("name"), rec.method.get("variant")
        paths_by_name = []
        if dname in datasets:
            paths_by_name.append((dname, (rec.dataset.get("origin") or rec.method.get("origin") or {}).get("path")))
        if variant in methods:
            paths_by_name.append((variant, (rec.method.get("origin") or {}).get("path")))
        for name, path in paths_by_name:
            if isinstance(path, str) and path:
                folder = _plugin_folder(path)
                if builtin not in (folder.resolve(), *folder.resolve().parents):
                    found.setdefault(name, set()).add(folder)
    return {k: sorted(v) for k, v in found.items()}


def plugins_hint(reg: Registry, results_dir: str | Path = "results", datasets=(), methods=()) -> str:
    """A sentence for an error naming datasets / methods the scan does not know while records in
    the results folder were made from a plugin folder: pass that folder with --plugins. "" if none."""
    datasets = [d for d in datasets if d not in reg.datasets]
    methods = [m for m in methods if m not in reg.methods]
    try:
        found = recorded_folders(results_dir, datasets, methods)
    except OSError:
        return ""
    if not found:
        return ""
    parts = [f"{name!r} from {', '.join(str(f) for f in folders)}" for name, folders in sorted(found.items())]
    folders = sorted({f for fs in found.values() for f in fs})
    return (f" Records in {results_dir} were made with plugins from a folder this scan does not include "
            f"({'; '.join(parts)}): pass " + " ".join(f"--plugins {f}" for f in folders) + ".")


def parse_params(items: tuple[str, ...], option: str = "--params") -> dict[str, Any]:
    """``k=v`` items -> a dict; a value reads as in a suite file (a number, true, [4, 8, 8], a quoted
    string) or as a Python literal (True, (4, 8)), else as plain text."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = (x.strip() for x in item.partition("="))
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not key=value, e.g. lr=0.01 or widths=[4,8,8]",
                                     param_hint=option)
        try:
            out[key] = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            try:
                out[key] = ast.literal_eval(value)
            except (ValueError, SyntaxError):
                out[key] = value
    return out
