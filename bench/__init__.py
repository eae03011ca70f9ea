"""bench: a plugin-based benchmark harness for deep learning in practice.

The public API for plugin authors: ``Method``, ``FitContext``, ``Dataset``, ``LoadContext``,
``FilesMissing``, ``SplitSeedError``, ``Task``, ``Part``, ``Schema``, ``Split`` and the metrics in ``bench.core.metrics``.

For notebooks and scripts (timm's ``create_model`` / ``list_models``; see ``bench.sdk``):
``create_method``, ``list_methods``, ``list_datasets``, ``load_task``, ``run_one``. They are
imported on first use, so ``import bench`` loads neither the plugins nor torch.
"""
import importlib

from bench.core.dataset import Dataset, FilesMissing, LoadContext, SplitSeedError
from bench.core.method import FitContext, Method, NotFittedError
from bench.core.task import KINDS, Part, Schema, Split, Task
from bench.version import __version__

_SDK = ("create_method", "list_methods", "list_datasets", "load_task", "run_one")

__all__ = ["Dataset", "FilesMissing", "LoadContext", "FitContext", "Method", "NotFittedError",
           "SplitSeedError", "KINDS", "Part", "Schema", "Split", "Task", "__version__", *_SDK]


def __getattr__(name: str):
    """The SDK names, imported when first asked for (PEP 562)."""
    if name in _SDK:
        # importlib, not an import statement: the SDK is no plugin's code, and a plugin's code
        # identity follows import statements (bench.core.identity) from `from bench import ...`
        return getattr(importlib.import_module("bench.sdk"), name)
    raise AttributeError(f"module 'bench' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_SDK))
