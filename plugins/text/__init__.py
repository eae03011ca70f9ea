"""Text networks for ``text-classification`` tasks (ULMFiT: ``ulmfit``, ``ulmfit-scratch``)."""
from .ulmfit import ULMFiT

__all__ = ["ULMFiT"]
