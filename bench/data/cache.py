"""Converted data kept in the cache folder: a parquet table or plain uint8 / int64 arrays, keyed by
a digest of the source files and a format version, so a changed source is converted again.

Written atomically (``bench.data.paths.atomic_write``) in a private folder; read back only as
data: never through a planted link, no pickles (``allow_pickle=False``; pyarrow >= 14.0.1 runs no
code from parquet metadata). A damaged or unreadable file is rebuilt with a warning; a cache
folder that cannot be written is a warning, never an error.
"""
from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path
from typing import Any, Callable, Iterable

from bench.data.download import file_checksum
from bench.data.paths import atomic_write, open_nofollow, private_dir


def source_key(tag: str, files: Iterable[Path], n: int = 24) -> str:
    """A digest of ``tag`` (the format and its version) and of each file's name and sha256
    (``absent`` for a file that is not there: optional files count too)."""
    h = hashlib.sha256(tag.encode())
    for path in files:
        path = Path(path)
        h.update(path.name.encode())
        h.update(file_checksum(path).encode() if path.exists() else b"absent")
    return h.hexdigest()[:n]


def _read(path: Path, read: Callable[[Any], Any]) -> Any:
    """What ``read`` makes of the cache file, or None when it is absent or unusable (warned)."""
    if not os.path.lexists(path):
        return None
    try:
        with open_nofollow(path) as f:
            return read(f)
    except Exception as e:  # noqa: BLE001 - a damaged cache file: rebuild it
        warnings.warn(f"{path}: unreadable cache ({e}); rebuilding it", stacklevel=3)
        return None


def _write(path: Path, write: Callable[[Any], None]) -> None:
    try:
        private_dir(path.parent)
        with atomic_write(path) as f:
            write(f)
    except OSError as e:
        warnings.warn(f"cannot write the cache file {path} ({e}); going on without it", stacklevel=3)


def cached_frame(path: Path | None, build: Callable[[], Any]):
    """The table cached at ``path`` (parquet), else ``build()``, written there for next time.
    ``path`` None: no cache folder, just build."""
    import pandas as pd

    if path is None:
        return build()
    table = _read(Path(path), pd.read_parquet)
    if table is None:
        table = build()
        _write(Path(path), lambda f: table.to_parquet(f, index=False))
    return table


def cached_arrays(path: Path | None, names: tuple[str, ...], build: Callable[[], tuple]) -> tuple:
    """The arrays ``names`` cached at ``path`` (an uncompressed .npz of plain arrays), else
    ``build()``, written there for next time. ``path`` None: no cache folder, just build."""
    import numpy as np

    if path is None:
        return build()

    def read(f) -> tuple:
        with np.load(f, allow_pickle=False) as z:
            return tuple(z[n] for n in names)

    arrays = _read(Path(path), read)
    if arrays is None:
        arrays = build()
        _write(Path(path), lambda f: np.savez(f, **dict(zip(names, arrays))))
    return arrays
