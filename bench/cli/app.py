"""The `bench` command line: list, run, table, report, export, check, new, plot, perf.

Commands only wire options to the modules that do the work (table, report, export, expected,
scaffold, plots, conformance)."""
from __future__ import annotations

import importlib

import click

# command -> "module:function", imported only when that command runs, so `bench table` never
# pays for torch or the runner
COMMANDS = {
    "list": "bench.cli.listing:list_cmd",
    "run": "bench.cli.run:run",
    "table": "bench.cli.render:table_cmd",
    "export": "bench.cli.render:export_cmd",
    "report": "bench.cli.render:report_cmd",
    "check": "bench.cli.authoring:check",
    "new": "bench.cli.authoring:new_cmd",
    "plot": "bench.cli.plot:plot",
    "perf": "bench.cli.perf:perf",
    "reference": "bench.cli.reference:reference_cmd",
    "lr-find": "bench.cli.practice:lr_find_cmd",
    "practice": "bench.cli.practice_group:practice",
}


class LazyGroup(click.Group):
    """A group whose commands live in their own modules and are imported on use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module, attr = COMMANDS[name].split(":")
        return getattr(importlib.import_module(module), attr)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
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



if __name__ == "__main__":
    main()
