"""Shared fits kept between runs: the embedding network behind every "with EE" baseline is
trained once per (task, parameters, seed, code) and reused by the others.

Kept pickled in ``<cache>/artifacts`` and signed with this user's key (bench.data.signing):
unpickling runs code, so a file that is not signed by us (planted, tampered with, a link) is
never unpickled, only rebuilt and replaced. Parallel workers asking for the same artifact wait for
the first one to build it (a lock file beside it) instead of building it twice.
"""
from __future__ import annotations

import hashlib
import pickle
import warnings
from pathlib import Path
from typing import Any, Callable

from bench.data import signing
from bench.data.locks import locked
from bench.data.paths import private_dir

_MISSING = object()


class ArtifactCache:
    """The artifacts folder of one cache folder (``FitContext.artifacts``)."""

    def __init__(self, cache_dir: Path):
        self.cache_dir = Path(cache_dir)
        self.warned: set[Path] = set()

    def get(self, task_key: str, name: str, key: dict[str, Any], build: Callable[[], Any]) -> Any:
        secret = signing.load_key()
        digest = hashlib.sha256(repr((task_key, name, sorted(key.items()))).encode()).hexdigest()[:20]
        path = private_dir(self.cache_dir / "artifacts") / f"{name}-{digest}.pkl"
        value = self._load(path, secret)
        if value is not _MISSING:
            return value
        with locked(path.with_suffix(".lock")):
            value = self._load(path, secret)  # built by another worker meanwhile?
            if value is not _MISSING:
                return value
            value = build()
            signing.write_signed(path, pickle.dumps(value), secret)
            return value

    def _load(self, path: Path, secret: bytes) -> Any:
        """The artifact at ``path``, or ``_MISSING`` when absent or not to be trusted (warned once)."""
        try:
            payload = signing.read_signed(path, secret)
            if payload is None:
                return _MISSING
        except signing.BadSignature as e:
            reason = f"{e}; it was not unpickled and is rebuilt"
        else:
            try:
                return pickle.loads(payload)  # verified: written by this user's bench
            except Exception as e:  # noqa: BLE001 - our own file, but from older plugin code
                reason = f"cannot be unpickled ({type(e).__name__}: {e}); it is rebuilt"
        if path not in self.warned:
            self.warned.add(path)
            warnings.warn(f"cached artifact {path}: {reason}", stacklevel=4)
        return _MISSING
