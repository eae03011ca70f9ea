"""bench: a plugin-based benchmark harness for deep learning in practice.

The public API for plugin authors: ``Method``, ``FitContext``, ``Dataset``, ``LoadContext``,
``FilesMissing``, ``SplitSeedError``, ``Task``, ``Part``, ``Schema``, ``Split`` and the metrics in ``bench.core.metrics``.
"""
from bench.core.dataset import Dataset, FilesMissing, LoadContext, SplitSeedError
from bench.core.method import FitContext, Method, NotFittedError
from bench.core.task import KINDS, Part, Schema, Split, Task

__version__ = "0.1.0"

__all__ = ["Dataset", "FilesMissing", "LoadContext", "FitContext", "Method", "NotFittedError",
           "SplitSeedError", "KINDS", "Part", "Schema", "Split", "Task", "__version__"]
