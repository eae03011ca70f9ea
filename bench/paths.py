"""Where data and caches live: flag, then environment variable, then the per-user folder."""
from __future__ import annotations

import os
from pathlib import Path


def data_dir(explicit: str | os.PathLike | None = None) -> Path:
    if explicit:
        return Path(explicit).expanduser()
    if os.environ.get("BENCH_DATA"):
        return Path(os.environ["BENCH_DATA"]).expanduser()
    from platformdirs import user_data_dir  # imported late: scripts without it never get here

    return Path(user_data_dir("bench"))


def cache_dir(explicit: str | os.PathLike | None = None) -> Path:
    """A writable folder for converted data and artifacts; data folders may be read-only."""
    if explicit:
        return Path(explicit).expanduser()
    if os.environ.get("BENCH_CACHE"):
        return Path(os.environ["BENCH_CACHE"]).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("bench"))
