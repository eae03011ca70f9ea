"""bench: a plugin-based benchmark harness for deep learning in practice.

The public API for plugin authors: ``Method``, ``FitContext``, ``Dataset``, ``LoadContext``,
``FilesMissing``, ``Task``, ``Part``, ``Schema``, ``Split`` and the metrics in ``bench.metrics``.
"""
from .dataset import Dataset, FilesMissing, LoadContext
from .method import FitContext, Method, NotFittedError
from .task import KINDS, Part, Schema, Split, Task

__version__ = "0.1.0"

__all__ = ["Dataset", "FilesMissing", "LoadContext", "FitContext", "Method", "NotFittedError",
           "KINDS", "Part", "Schema", "Split", "Task", "__version__"]
