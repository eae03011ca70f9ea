"""`bench reference`: the plugin authors' API reference (docs/reference.md), from the code."""
from __future__ import annotations

from pathlib import Path

import click

from bench.cli.options import writes


def sections() -> list:
    """What the reference documents, in the order a plugin author meets it."""
    from bench import sdk
    from bench.core.dataset import Dataset, FilesMissing, LoadContext
    from bench.core.method import FitContext, Method
    from bench.core.metrics import register_metric
    from bench.core.task import Part, Schema, Split, Task
    from bench.methods.tabular import TabularBaseline
    from bench.methods.torch import TorchMethod

    out = [
        ("What a method receives",
         "`fit(train, valid, ctx)` gets two `Part`s (`valid` may be None) and a `FitContext`; "
         "`predict(data)` gets a `Part` and returns one prediction per row (`len(data)`).",
         [("Part", Part), ("Schema", Schema), ("FitContext", FitContext)]),
        ("The method card", "", [("Method", Method), ("bench.methods.TabularBaseline", TabularBaseline),
                                  ("bench.methods.torch.TorchMethod", TorchMethod)]),
        ("The dataset card", "", [("Dataset", Dataset), ("LoadContext", LoadContext), ("Task", Task),
                                   ("Split", Split), ("FilesMissing", FilesMissing)]),
        ("Metrics", "", [("bench.core.metrics.register_metric", register_metric)]),
        ("From Python", "", [(f"bench.{f.__name__}", f) for f in
                             (sdk.list_methods, sdk.list_datasets, sdk.create_method, sdk.load_task, sdk.run_one)]),
    ]
    try:
        from bench.testing import parametrize_with_checks
    except ImportError:  # pytest is a test dependency; without it the checks helper is not there
        return out
    return out + [("Tests of a plugin package", "", [("bench.testing.parametrize_with_checks", parametrize_with_checks)])]


def text() -> str:
    from bench.plugins.reference import reference

    return reference(sections())


@click.command("reference")
@click.option("--out", type=click.Path(dir_okay=False), help="Write to this file (docs/reference.md) "
                                                             "instead of standard output.")
def reference_cmd(out) -> None:
    """Print the API reference for plugin authors: what a method receives (Part, Schema,
    FitContext), the method and dataset cards, metrics, the Python functions and the test helper,
    generated from the code's docstrings and comments."""
    doc = text()
    if out:
        with writes(Path(out).absolute().parent, "another --out", "folder"):
            Path(out).write_text(doc)
        click.echo(f"wrote {out}", err=True)
    else:
        click.echo(doc, nl=False)
