"""The practice experiments' JSON files: strict JSON (no NaN), whatever the results hold, written
by bench and read back without following a link or evaluating anything."""
from __future__ import annotations

import math
from typing import Any

from bench.results.practice_summary import read_strict  # noqa: F401  (shared with the results site)


def jsonable(x: Any) -> Any:
    """JSON-ready: tuples as lists, non-finite floats as None, anything else unknown as its repr."""
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if x is None or isinstance(x, (str, int, bool)):
        return x
    return repr(x)
