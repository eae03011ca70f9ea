"""What the import probe imports: a plugin file or an entry point, with the fingerprint its cached verdict is kept under."""
from __future__ import annotations

import hashlib
import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.plugins.loader import INIT, package_files


@dataclass(frozen=True)
class Candidate:
    """Something to import: a plugin file (``path``, imported as ``module``) or an entry point
    (``group``, ``name``, ``value``)."""

    id: str  # what the registry looks verdicts up by: the file's path, or entry_point_id(...)
    fingerprint: str  # sha256 of what decides the verdict (the file's content, or the entry point's)
    path: str | None = None
    module: str | None = None
    group: str | None = None
    name: str | None = None
    value: str | None = None

    def request(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "fingerprint" and v is not None}


def entry_point_id(group: str, ep) -> str:
    return f"{group}:{ep.name}={ep.value}"


def file_candidate(path: Path, module: str) -> Candidate:
    """A plugin file or package (named by its ``__init__.py``), to be imported under the module name
    the registry will give it; a package's fingerprint covers every ``.py`` file in it."""
    path = Path(path)
    if path.name != INIT:
        fingerprint = file_sha256(path)
    else:
        fingerprint = sha256("\n".join(f"{f.relative_to(path.parent).as_posix()}\0{sha256(f.read_bytes())}"
                                       for f in package_files(path)).encode())
    return Candidate(id=str(path), fingerprint=fingerprint, path=str(path), module=module)


def entry_point_candidate(group: str, ep) -> Candidate:
    dist = getattr(ep, "dist", None)
    parts = [group, ep.name, ep.value, dist.metadata["Name"] if dist else "?", dist.version if dist else "?"]
    source = module_file(ep.module)
    parts.append(file_sha256(source) if source else "")
    return Candidate(id=entry_point_id(group, ep), fingerprint=sha256("\0".join(parts).encode()),
                     group=group, name=ep.name, value=ep.value)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: str | Path) -> str:
    """The sha256 of a file's content, read in blocks (the same hex digest as ``sha256`` of its bytes)."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def module_file(module: str) -> Path | None:
    """The source file of a module, found without importing anything (a package's parents
    would run their ``__init__`` under ``importlib.util.find_spec``); None when not found."""
    top, *rest = module.split(".")
    try:
        spec = sys.modules[top].__spec__ if top in sys.modules else importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if not rest:
        return Path(spec.origin) if spec.origin and Path(spec.origin).is_file() else None
    for folder in spec.submodule_search_locations or ():
        base = Path(folder, *rest)
        for path in (base.with_suffix(".py"), base / "__init__.py"):
            if path.is_file():
                return path
    return None
