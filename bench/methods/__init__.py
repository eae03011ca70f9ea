"""Building blocks for method plugins: feature encodings and base classes."""
from bench.methods.tabular import TabularBaseline

__all__ = ["TabularBaseline"]
