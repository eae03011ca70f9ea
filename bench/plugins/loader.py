"""Loads one plugin by path: a file (``knn.py``) or a package (a folder with ``__init__.py``).

Plugins are imported under private module names (``_bench_plugin_<folder>_<name>``, plus a hash
of the folder's path for user folders), never as ``plugins.x`` / ``datasets.x``: those folders
must not become importable packages (``datasets`` would shadow Hugging Face's). A package is
named by its ``__init__.py``; it is loaded with its folder as its search path, so its relative
imports (``from .read import ...``) find its own modules under the private name.
"""
from __future__ import annotations

import hashlib
import importlib.util
import re
import sys
from pathlib import Path

INIT = "__init__.py"


def natural_key(s: str):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s)]


def plugin_paths(folder: Path) -> list[Path]:
    """The plugins of a folder: its ``*.py`` files and the ``__init__.py`` of its packages (sub-
    folders that have one); hidden and underscore names (``__pycache__``) are skipped."""
    if not folder.is_dir():
        return []
    found = [p for p in folder.glob("*.py") if p.is_file()]
    found += [p / INIT for p in folder.iterdir() if p.is_dir() and (p / INIT).is_file()]
    named = [(p.parent.name if p.name == INIT else p.name, p) for p in found]
    return [p for name, p in sorted(named, key=lambda t: natural_key(t[0])) if not name.startswith(("_", "."))]


def entry_path(path: str | Path) -> Path:
    """A plugin's path as the registry keeps it: a package folder is named by its ``__init__.py``."""
    path = Path(path)
    return path / INIT if path.is_dir() else path


def package_files(path: Path) -> list[Path]:
    """The source files of a plugin: the file, or every ``.py`` file of the package."""
    path = entry_path(path)
    if path.name != INIT:
        return [path]
    return sorted(p for p in path.parent.rglob("*.py") if "__pycache__" not in p.parts)


def file_hash(path: Path) -> str:
    """A digest of the plugin's source: its file, or its package's files (names and contents)."""
    path = entry_path(path)
    if path.name != INIT:
        with open(path, "rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()[:16]
    h = hashlib.sha256()
    for f in package_files(path):
        h.update(f"{f.relative_to(path.parent).as_posix()}\0".encode())
        h.update(hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()[:16]


def module_name(path: Path, builtin_root: Path) -> str:
    """The private module name of a plugin file or package (see the module docstring)."""
    path = entry_path(path)
    target = path.parent if path.name == INIT else path
    folder = re.sub(r"\W", "_", target.parent.name)
    stem = re.sub(r"\W", "_", target.stem if target.is_file() else target.name)
    name = f"_bench_plugin_{folder}_{stem}"
    parent = Path(target).resolve().parent
    if parent.parent != builtin_root.resolve():
        # a user folder gets its own namespace: `my/plugins/knn.py` must not replace the built-in
        # `plugins/knn.py` in sys.modules (that would break pickling of the built-in classes)
        name += "_" + hashlib.sha256(str(parent).encode()).hexdigest()[:8]
    return name


def import_path(path: str | Path, name: str):
    """Import the file or package at ``path`` as module ``name`` (in ``sys.modules``); on an error
    nothing of it is left there (its submodules neither)."""
    path = entry_path(path)
    package = [str(path.parent)] if path.name == INIT else None
    spec = importlib.util.spec_from_file_location(name, path, submodule_search_locations=package)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        for key in [k for k in sys.modules if k == name or k.startswith(name + ".")]:
            del sys.modules[key]
        raise
    return module


def load_file(path: str | Path, builtin_root: Path):
    """Import one plugin (file or package) by path under its private, stable module name (pickle
    needs it); a second call gives the module already imported."""
    path = entry_path(path)
    name = module_name(path, builtin_root)
    if name in sys.modules and getattr(sys.modules[name], "__file__", None) == str(path):
        return sys.modules[name]
    return import_path(path, name)
