"""Per-run time and memory limits: how they are written and which one applies to a run.

Precedence: the command line (``--timeout``, ``--memory-limit``) beats a method's own entry in
the suite, which beats the suite's top-level default. ``None`` means no limit.
"""
from __future__ import annotations

import math
import re

_UNITS = {"": 1.0, "k": 1 / 1024, "m": 1.0, "g": 1024.0, "t": 1024.0 ** 2}


def parse_memory(value: str | int | float | None) -> float | None:
    """Megabytes (MiB) from ``4096``, ``"512M"``, ``"4G"`` or ``"1.5GB"``; a bare number is MiB."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"memory limit must be a size like 512M or 4G, got {value!r}")
    if isinstance(value, (int, float)):
        mb = float(value)
    else:
        m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kmgt]?)(i?b)?\s*", str(value), re.IGNORECASE)
        if not m:
            raise ValueError(f"memory limit must be a size like 512M or 4G, got {value!r}")
        mb = float(m.group(1)) * _UNITS[m.group(2).lower()]
    if mb <= 0:
        raise ValueError(f"memory limit must be positive, got {value!r}")
    return mb


def parse_timeout(value: int | float | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
        raise ValueError(f"timeout must be a positive number of seconds, got {value!r}")
    return float(value)


def effective(cli: float | None, spec: float | None) -> float | None:
    return cli if cli is not None else spec


def method_budget(timeout: float | None) -> float | None:
    """The time budget methods are told: 90% of the hard limit, so they can stop and predict in time."""
    return None if timeout is None else 0.9 * timeout
