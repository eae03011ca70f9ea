"""The practice experiments' JSON files: strict JSON (no NaN), whatever the results hold, written
by bench and read back without following a link or evaluating anything."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from bench.data.paths import open_nofollow

MAX_BYTES = 64 * 1024 * 1024  # far above any page's file: a bigger one is not bench's


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


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not strict JSON")


def read_strict(path: str | Path) -> Any:
    """The JSON value in ``path``: a plain file (a link there raises UnsafePath, an OSError), UTF-8,
    strict JSON (NaN / Infinity refused: ValueError). FileNotFoundError when absent."""
    with open_nofollow(path) as f:
        data = f.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise ValueError(f"larger than {MAX_BYTES // 2**20} MiB")
    return json.loads(data.decode("utf-8"), parse_constant=_no_constant)
