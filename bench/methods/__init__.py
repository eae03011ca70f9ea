"""Building blocks for method plugins: feature encodings and base classes."""
from bench.methods.torch import TorchMethod

__all__ = ["TorchMethod"]
