"""Finds method and dataset plugins: built-in folders, user folders and entry points.

Plugin files, and plugin packages (folders with ``__init__.py``), are loaded by path under private
module names (``_bench_plugin_<folder>_<stem>``, plus a hash of the folder's path for user folders):
``plugins`` and ``datasets`` never become importable packages (``datasets`` would shadow
Hugging Face's). A file that fails to import is kept as a broken entry with its error.
With ``safe=True`` (what the CLI uses) every candidate is first imported in a child process
(``bench.plugins.probe``), so one that ends or hangs the process at import is listed as broken
instead of taking the command down.
"""
from __future__ import annotations

import fnmatch
import hashlib
import inspect
import os
import traceback
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable

from bench.core.dataset import Dataset
from bench.core.method import Method
from bench.plugins import loader
from bench.plugins.subclasses import refused

ENTRY_POINT_GROUPS = {"methods": "bench.methods", "datasets": "bench.datasets"}
NO_ENTRY_POINTS_ENV = "BENCH_DISABLE_PLUGIN_AUTOLOAD"


def builtin_root() -> Path:
    """The folder holding plugins/, datasets/ and suites/: the source checkout beside the package
    (also for editable installs), else the copy a wheel ships in ``_bench_builtin/``."""
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "plugins").is_dir() and (checkout / "datasets").is_dir():
        return checkout
    return checkout / "_bench_builtin"


@dataclass
class Origin:
    """Where a plugin came from: a file, or a distribution's entry point."""

    path: str | None = None
    distribution: str | None = None
    version: str | None = None
    entry_point: str | None = None
    entry_point_value: str | None = None  # "module:attr" as the distribution declares it
    source_hash: str = ""

    def __str__(self) -> str:
        if self.path:
            return self.path
        return f"{self.distribution} {self.version} (entry point {self.entry_point})"

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass
class MethodEntry:
    variant: str
    cls: type[Method]
    params: dict[str, Any]  # the variant's parameters on top of the family's defaults
    origin: Origin

    @property
    def family(self) -> str:
        return self.cls.name

    def resolved_params(self, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
        """defaults < variant < caller; ``None`` from the caller never overrides (timm's rule)."""
        merged = {**self.cls.defaults, **self.params}
        for k, v in (overrides or {}).items():
            if v is not None:
                merged[k] = v
        return merged

    def build(self, overrides: dict[str, Any] | None = None) -> Method:
        return self.cls(**self.resolved_params(overrides))


@dataclass
class DatasetEntry:
    name: str
    cls: type[Dataset]
    origin: Origin

    def build(self, params: dict[str, Any] | None = None) -> Dataset:
        return self.cls(**(params or {}))


@dataclass
class Broken:
    origin: str
    error: str


@dataclass
class Registry:
    methods: dict[str, MethodEntry] = field(default_factory=dict)
    datasets: dict[str, DatasetEntry] = field(default_factory=dict)
    suites: dict[str, Path] = field(default_factory=dict)
    broken: list[Broken] = field(default_factory=list)
    # ("method" | "dataset", name) -> every origin claiming it, the one kept first
    clashes: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    # how to scan again in another process (a worker): built-in root, user folders, entry points
    sources: dict[str, Any] = field(default_factory=dict)
    # a worker's partial registry looks up what it lacks in the full scan, made on first need
    fallback: Any = None

    def method(self, variant: str) -> MethodEntry:
        if variant not in self.methods and self.fallback is not None:
            self.methods.update({k: v for k, v in self.fallback().methods.items() if k == variant})
        try:
            return self.methods[variant]
        except KeyError:
            raise KeyError(_unknown("method", variant, self.methods, self.broken)) from None

    def dataset(self, name: str) -> DatasetEntry:
        if name not in self.datasets and self.fallback is not None:
            self.datasets.update({k: v for k, v in self.fallback().datasets.items() if k == name})
        try:
            return self.datasets[name]
        except KeyError:
            raise KeyError(_unknown("dataset", name, self.datasets, self.broken)) from None

    def suite_path(self, name: str) -> Path:
        if name in self.suites:
            return self.suites[name]
        p = Path(name)
        if p.suffix == ".toml" and p.exists():
            return p
        raise KeyError(_unknown("suite", name, self.suites, []))

    def clash_error(self, methods: Iterable[str] = (), datasets: Iterable[str] = ()) -> str | None:
        """Why these names cannot be used, when two plugins claim one of them (else None): a run
        must not silently pick whichever plugin was scanned first."""
        wanted = {("method", m) for m in methods} | {("dataset", d) for d in datasets}
        lines = [f"{'method variant' if kind == 'method' else 'dataset'} {name!r} is defined by "
                 + " and by ".join(origins) for (kind, name), origins in sorted(self.clashes.items())
                 if (kind, name) in wanted]
        if not lines:
            return None
        return ("two plugins claim the same name:\n  " + "\n  ".join(lines)
                + "\nRename one of them, or leave one plugin folder out of --plugins (`bench list broken` "
                  "shows every clash).")

    def match_methods(self, patterns: Iterable[str]) -> list[str]:
        return _match(patterns, self.methods)

    def match_datasets(self, patterns: Iterable[str]) -> list[str]:
        return _match(patterns, self.datasets)


_natural_key = loader.natural_key


def _match(patterns: Iterable[str], names: Iterable[str]) -> list[str]:
    names = sorted(names, key=_natural_key)
    pats = list(patterns)
    return [n for n in names if any(fnmatch.fnmatchcase(n, p) for p in pats)]


def _unknown(what: str, name: str, known: Iterable[str], broken: list[Broken]) -> str:
    import difflib

    known = sorted(known, key=_natural_key)
    close = difflib.get_close_matches(name, known, n=3)
    msg = f"unknown {what} {name!r}"
    if close:
        msg += f"; did you mean {', '.join(map(repr, close))}?"
    msg += f" Known: {', '.join(known) or 'none'}."
    if broken:
        msg += " Broken plugins (see `bench list`): " + ", ".join(b.origin for b in broken)
    return msg


def file_hash(path: Path) -> str:
    return loader.file_hash(path)


def _module_name(path: Path) -> str:
    return loader.module_name(path, builtin_root())


def load_file(path: Path):
    """Import one plugin file or package (a folder with ``__init__.py``) by path under a private,
    stable module name (pickle needs it); see ``bench.plugins.loader``."""
    return loader.load_file(path, builtin_root())


def _classes(module) -> tuple[list[type[Method]], list[type[Dataset]]]:
    methods, datasets = [], []
    for _, obj in inspect.getmembers(module, inspect.isclass):
        mine = obj.__module__ == module.__name__ or obj.__module__.startswith(module.__name__ + ".")
        if not mine or inspect.isabstract(obj):  # a package's classes may live in its modules
            continue
        if issubclass(obj, Method) and obj is not Method and obj.name:
            methods.append(obj)
        elif issubclass(obj, Dataset) and obj is not Dataset and obj.name:
            datasets.append(obj)
    return methods, datasets


def _short_error(exc: BaseException) -> str:
    tb = traceback.format_exception(type(exc), exc, exc.__traceback__)
    return "".join(tb[-3:]).strip()


def _plugin_files(folder: Path) -> list[Path]:
    return loader.plugin_paths(folder)


def _entry_points() -> list[tuple[str, str, Any]]:
    """(kind, group, entry point) for every bench entry point of the installed distributions."""
    return [(kind, group, ep) for kind, group in ENTRY_POINT_GROUPS.items()
            for ep in metadata.entry_points(group=group)]


class _Builder:
    def __init__(self) -> None:
        self.reg = Registry()
        # candidates the probe found to end or hang the process at import: {id: reason}
        self.fatal: dict[str, str] = {}

    def screen(self, files: Iterable[Path], entry_points: bool) -> None:
        """Probe the files (and the entry points) in a child process before importing any here."""
        from bench.plugins import probe
        from bench.plugins.candidates import entry_point_candidate, file_candidate

        cands = [file_candidate(p, _module_name(p)) for p in files]
        if entry_points:
            cands += [entry_point_candidate(group, ep) for _, group, ep in _entry_points()]
        self.fatal.update(probe.screen(cands))

    def add_method(self, cls: type[Method], origin: Origin) -> None:
        if refused(cls, origin, self.reg.broken, Broken):  # a subclass must name its own card
            return
        for variant, params in cls.all_variants().items():
            if variant in self.reg.methods:
                other = self.reg.methods[variant].origin
                self.reg.clashes.setdefault(("method", variant), [str(other)]).append(str(origin))
                self.reg.broken.append(Broken(str(origin), f"method variant {variant!r} is already "
                                              f"defined by {other}; this one is ignored"))
                continue
            self.reg.methods[variant] = MethodEntry(variant, cls, dict(params), origin)

    def add_dataset(self, cls: type[Dataset], origin: Origin) -> None:
        if refused(cls, origin, self.reg.broken, Broken):
            return
        if cls.name in self.reg.datasets:
            other = self.reg.datasets[cls.name].origin
            self.reg.clashes.setdefault(("dataset", cls.name), [str(other)]).append(str(origin))
            self.reg.broken.append(Broken(str(origin), f"dataset {cls.name!r} is already defined "
                                          f"by {other}; this one is ignored"))
            return
        self.reg.datasets[cls.name] = DatasetEntry(cls.name, cls, origin)

    def scan_folder(self, folder: Path) -> None:
        if not folder.is_dir():
            return
        for path in _plugin_files(folder):
            self.scan_file(path)
        for path in sorted(folder.glob("*.toml")):
            self.reg.suites.setdefault(path.stem, path)

    def scan_file(self, path: Path) -> None:
        path = loader.entry_path(path)
        origin = Origin(path=str(path), source_hash=file_hash(path))
        if str(path) in self.fatal:
            self.reg.broken.append(Broken(str(path), self.fatal[str(path)]))
            return
        try:
            module = load_file(path)
        except BaseException as exc:  # a broken plugin never breaks the scan
            self.reg.broken.append(Broken(str(path), _short_error(exc)))
            return
        methods, datasets = _classes(module)
        for cls in methods:
            self.add_method(cls, origin)
        for cls in datasets:
            self.add_dataset(cls, origin)

    def scan_entry_points(self) -> None:
        from bench.plugins.candidates import entry_point_id

        for kind, group in ENTRY_POINT_GROUPS.items():
            for ep in metadata.entry_points(group=group):
                dist = getattr(ep, "dist", None)
                origin = Origin(distribution=dist.metadata["Name"] if dist else "?",
                                version=dist.version if dist else "?", entry_point=f"{group}:{ep.name}",
                                entry_point_value=ep.value)
                if entry_point_id(group, ep) in self.fatal:
                    self.reg.broken.append(Broken(str(origin), self.fatal[entry_point_id(group, ep)]))
                    continue
                try:
                    obj = ep.load()
                    origin.source_hash = _object_hash(obj, origin)
                except BaseException as exc:
                    self.reg.broken.append(Broken(str(origin), _short_error(exc)))
                    continue
                found = [obj] if inspect.isclass(obj) else [
                    c for _, c in inspect.getmembers(obj, inspect.isclass) if c.__module__ == obj.__name__]
                added = 0
                for cls in found:
                    if kind == "methods" and issubclass(cls, Method) and cls.name:
                        self.add_method(cls, origin)
                        added += 1
                    elif kind == "datasets" and issubclass(cls, Dataset) and cls.name:
                        self.add_dataset(cls, origin)
                        added += 1
                if not added:
                    self.reg.broken.append(Broken(str(origin), f"entry point gives {obj!r}, which is "
                                                  f"not a bench {kind[:-1]} class or a module holding one"))


def _object_hash(obj: Any, origin: Origin) -> str:
    try:
        return hashlib.sha256(inspect.getsource(obj).encode()).hexdigest()[:16]
    except (OSError, TypeError):
        return hashlib.sha256(f"{origin.distribution}=={origin.version}".encode()).hexdigest()[:16]


def discover(extra_dirs: Iterable[str | os.PathLike] = (), entry_points: bool | None = None,
             root: str | os.PathLike | None = None, safe: bool = False) -> Registry:
    """Scan built-in plugins, datasets and suites, then user folders, then entry points.

    ``safe``: import every candidate in a child process first (cached per file content, see
    ``bench.plugins.probe``) and list those that end or hang the process as broken. The CLI
    turns it on; it is off by default because it costs a child process (seconds, when the
    plugins import torch) whenever a file is new or changed, and tests trust their plugins."""
    b = _Builder()
    root = Path(root) if root is not None else builtin_root()
    extra = [Path(d).resolve() for d in extra_dirs]
    for d in extra:
        if not d.is_dir():
            raise FileNotFoundError(f"plugin folder {d} does not exist")
    if entry_points is None:
        entry_points = not os.environ.get(NO_ENTRY_POINTS_ENV)
    if safe:
        folders = [root / "plugins", root / "datasets", root / "suites", *extra]
        b.screen([p for f in folders for p in _plugin_files(f)], bool(entry_points))
    for sub in ("plugins", "datasets", "suites"):
        b.scan_folder(root / sub)
    for d in extra:
        b.scan_folder(d)
    if entry_points:
        b.scan_entry_points()
    b.reg.sources = {"root": str(Path(root).resolve()), "extra_dirs": [str(d) for d in extra],
                     "entry_points": bool(entry_points), "safe": safe}
    return b.reg


def rediscover(sources: dict[str, Any]) -> Registry:
    """The same scan as the one that produced ``sources`` (a Registry's), in another process."""
    return discover(sources["extra_dirs"], entry_points=sources["entry_points"], root=sources["root"],
                    safe=sources.get("safe", False))


def partial(sources: dict[str, Any], files: Iterable[str], entry_points: bool = False,
            into: Registry | None = None) -> Registry:
    """Load only the named plugin files (what one run needs: its method's and dataset's), so a
    worker never imports every plugin; anything else is looked up in the full scan on demand."""
    b = _Builder()
    if into is not None:
        b.reg = into
    seen = {e.origin.path for e in [*b.reg.methods.values(), *b.reg.datasets.values()]}
    for f in files:
        if f not in seen:
            b.scan_file(Path(f))
    if entry_points and not b.reg.sources.get("entry_points_scanned"):
        if sources.get("safe"):  # the parent's verdicts, from the cache: no killer is imported here
            b.screen([], True)
        b.scan_entry_points()
    b.reg.sources = {**sources, "entry_points_scanned": entry_points or b.reg.sources.get("entry_points_scanned", False)}
    if b.reg.fallback is None:
        full: list[Registry] = []
        b.reg.fallback = lambda: full[0] if full else full.append(rediscover(sources)) or full[0]
    return b.reg
