"""What made a number: the code identity of a method or dataset plugin, and of the fits it uses.

A record's key must change whenever anything that could change its number changes, so a plugin's
identity is not its own file alone but every project source file it imports, transitively:
bench's own modules (``bench/nn/*``, the encodings, metrics, task and split code), the helper
modules of a plugin package, and, for an entry-point plugin, its distribution's whole top-level
package. The closure is found by reading ``import`` statements (imports inside functions count),
never by importing anything, so it costs a parse of a few dozen files, cached per process.

A method that fits another variant through ``ctx.fitted`` (a "with EE" baseline and its
embedding network, a blend and its members) declares it in ``Method.depends_on``; that fit's
identity (its resolved parameters and its own code identity) is part of the dependent's.

Third-party package versions are recorded in every run and shown in table footnotes, but are
not part of the identity: a new numpy does not invalidate a table, it is just named.
"""
from __future__ import annotations

import ast
import hashlib
import importlib.util
import inspect
import json
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

BENCH_DIR = Path(__file__).resolve().parents[1]  # the bench package


def stable_hash(obj: Any, n: int = 20) -> str:
    """A short digest of a JSON-able object (sorted keys; anything else by its ``str``)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:n]


@lru_cache(maxsize=4096)
def _file_digest(path: str, mtime_ns: int, size: int) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()[:16]


def file_digest(path: Path) -> str:
    st = path.stat()
    return _file_digest(str(path), st.st_mtime_ns, st.st_size)


def _package_dir(path: Path) -> Path | None:
    """The outermost folder above ``path`` that is a regular package (has ``__init__.py``)."""
    top = None
    d = path.parent
    while (d / "__init__.py").is_file():
        top = d
        d = d.parent
    return top


def _module_file(base: Path, parts: list[str]) -> list[Path]:
    """Files that importing ``parts`` below ``base`` executes: each package's ``__init__.py`` on
    the way and the module itself (``a/b.py`` or ``a/b/__init__.py``); none when it is not there."""
    out, d = [], base
    for i, part in enumerate(parts):
        pkg, mod = d / part / "__init__.py", d / f"{part}.py"
        if pkg.is_file():
            out.append(pkg)
            d = d / part
        elif mod.is_file() and i == len(parts) - 1:
            out.append(mod)
            return out
        else:
            return out
    return out


@lru_cache(maxsize=4096)
def _imports(path: str, mtime_ns: int) -> tuple[tuple[int, str, tuple[str, ...]], ...]:
    """(level, module, names) for every import statement in a file, anywhere in it."""
    try:
        tree = ast.parse(Path(path).read_bytes(), filename=path)
    except (SyntaxError, ValueError, OSError):
        return ()
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(0, a.name, ()) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append((node.level, node.module or "", tuple(a.name for a in node.names)))
    return tuple(found)


class _Resolver:
    """Maps import statements of project files to project files; anything else is outside."""

    def __init__(self, roots: dict[str, Path]):
        self.roots = roots  # top-level package name -> the folder holding that package

    def files(self, path: Path, level: int, module: str, names: Iterable[str]) -> list[Path]:
        if level:  # relative: only meaningful inside a package
            pkg = path.parent
            for _ in range(level - 1):
                pkg = pkg.parent
            base_parts = module.split(".") if module else []
            found = _module_file(pkg, base_parts) if base_parts else []
            sub = pkg.joinpath(*base_parts)
            for name in names:  # `from . import x` / `from .a import b` where b may be a module
                found += _module_file(sub, [name])
            return found
        parts = module.split(".")
        base = self.roots.get(parts[0])
        if base is None:  # a third-party package: recorded by version, not hashed
            return []
        found = _module_file(base, parts)
        sub = base.joinpath(*parts)
        for name in names:
            found += _module_file(sub, [name])
        return found


# closure(start, roots) -> (its files, the (mtime, size) of them and of their folders when it was
# computed): a suite asks for the same few closures once or twice per run; re-statting is 50x
# cheaper than resolving every import again, and an edited file, or a file added to or removed
# from one of their folders (an import that now resolves elsewhere), recomputes.
_CLOSURES: dict[tuple, tuple[list[Path], tuple]] = {}


def _stamp(files: list[Path]) -> tuple:
    out = []
    for f in [*files, *sorted({f.parent for f in files})]:
        try:
            st = f.stat()
            out.append((st.st_mtime_ns, st.st_size))
        except OSError:
            out.append(None)
    return tuple(out)


def closure(start: Iterable[Path], roots: dict[str, Path]) -> list[Path]:
    """Every project file the ``start`` files import, transitively, the start files included."""
    key = (tuple(Path(p).resolve() for p in start), tuple(sorted((k, str(v)) for k, v in roots.items())))
    hit = _CLOSURES.get(key)
    if hit is not None and _stamp(hit[0]) == hit[1]:
        return list(hit[0])
    files = _closure(key[0], roots)
    _CLOSURES[key] = (files, _stamp(files))
    return list(files)


def _closure(start: Iterable[Path], roots: dict[str, Path]) -> list[Path]:
    resolver = _Resolver(roots)
    seen: set[Path] = set()
    todo = [Path(p).resolve() for p in start]
    while todo:
        p = todo.pop()
        if p in seen or not p.is_file():
            continue
        seen.add(p)
        for level, module, names in _imports(str(p), p.stat().st_mtime_ns):
            todo += [f.resolve() for f in resolver.files(p, level, module, names)]
    return sorted(seen)


def third_party_modules(files: Iterable[Path], roots: dict[str, Path] | None = None) -> list[tuple[str, bool]]:
    """The modules outside the project that ``files`` import anywhere (inside functions too), in
    order of appearance: what a plugin will import when it fits. A run imports them before it is
    timed and seeded, so its fit seconds and peak memory are the fit's, not the imports' (plugin
    cards import light; their heavy libraries come with the first fit of a worker). Each comes as
    (module, maybe): ``maybe`` for ``from a import b``'s ``a.b``, which may be an attribute."""
    roots = roots or {"bench": BENCH_DIR.parent}
    out: dict[str, bool] = {}
    for f in files:
        local = _package_dir(Path(f))
        for level, module, names in _imports(str(f), Path(f).stat().st_mtime_ns):
            top = module.split(".")[0]
            if level or not module or top in roots or top == "__future__" or (local and top == local.name):
                continue
            out[module] = False
            for name in names:  # `from scipy import sparse`: maybe a submodule (tried, not required)
                out.setdefault(f"{module}.{name}", True)
    return list(out.items())


# Machinery that a plugin's code reaches but that cannot change a number: locks and signing of
# shared artifacts, folder helpers, and the package's re-exports and version string. Their
# imports are followed, their text is not hashed, so a locking fix does not re-run every suite.
MACHINERY = tuple(BENCH_DIR / name for name in ("__init__.py", "version.py", "data/locks.py", "data/paths.py", "data/signing.py"))


def _label(path: Path, bases: Iterable[Path]) -> str:
    """A machine-independent name for a file in a digest: relative to bench's checkout, or to the
    folder holding the plugin (or its package), so the same plugin in two clones hashes the same."""
    for base in (BENCH_DIR.parent, *bases):
        try:
            return str(path.relative_to(base))
        except ValueError:
            continue
    return path.name


def files_identity(files: Iterable[Path], bases: Iterable[Path] = ()) -> str:
    bases = list(bases)
    return stable_hash(sorted((_label(p, bases), file_digest(p)) for p in files if p not in MACHINERY))


def _roots_for(files: Iterable[Path]) -> dict[str, Path]:
    roots = {"bench": BENCH_DIR.parent}
    for f in files:
        top = _package_dir(f)
        if top is not None:
            roots.setdefault(top.name, top.parent)
    return roots


def plugin_files(origin: Any) -> list[Path]:
    """The source files behind a plugin origin (bench.plugins.registry.Origin): a plugin file and what it
    imports; for an entry point, every file of its top-level package (or its single module)."""
    if origin.path:
        start = [Path(origin.path).resolve()]
        top = _package_dir(start[0])
        if top is not None:  # a plugin inside a package: the whole package is its code
            start += sorted(top.rglob("*.py"))
        return closure(start, _roots_for(start))
    module = (getattr(origin, "entry_point_value", None) or "").split(":")[0]
    if not module:
        return []
    top_name = module.split(".")[0]
    loaded = sys.modules.get(top_name)
    origin_file = getattr(loaded, "__file__", None)
    if origin_file is None:
        spec = importlib.util.find_spec(top_name)
        origin_file = spec.origin if spec else None
    if not origin_file or not origin_file.endswith(".py"):
        return []
    origin_path = Path(origin_file).resolve()
    if origin_path.name == "__init__.py":
        start = sorted(origin_path.parent.rglob("*.py"))
        roots = {"bench": BENCH_DIR.parent, top_name: origin_path.parent.parent}
    else:
        start = [origin_path]
        roots = {"bench": BENCH_DIR.parent}
    return closure(start, roots)


def _base(path: Path) -> Path:
    """The folder a plugin's file labels are relative to: its folder, or its package's parent."""
    top = _package_dir(path)
    return top.parent if top is not None else path.parent


def code_identity(origin: Any) -> str:
    """The digest of every source file behind a plugin (see ``plugin_files``)."""
    files = plugin_files(origin)
    if not files:  # nothing readable (a compiled module): its distribution and version
        return stable_hash({"distribution": origin.distribution, "version": origin.version,
                            "source_hash": origin.source_hash})
    if not origin.path:  # an entry point: its files relative to the folder holding its package
        top = sys.modules.get((getattr(origin, "entry_point_value", "") or "").split(":")[0].split(".")[0])
        base = Path(getattr(top, "__file__", "") or ".").resolve().parent
        return files_identity(files, [base.parent, base])
    return files_identity(files, [_base(Path(origin.path).resolve())])


class DependencyError(ValueError):
    """A method declares a fit it depends on that does not exist, or a cycle of them."""


def method_identity(registry: Any, variant: str, params: dict[str, Any], _path: tuple = ()) -> str:
    """A variant's code identity plus the identity of every fit it depends on (with its params)."""
    entry = registry.method(variant)
    deps = []
    for dep_variant, overrides in entry.cls.depends_on(params):
        if dep_variant in _path or dep_variant == variant:
            raise DependencyError(f"method {variant!r} depends on {dep_variant!r}, which depends on it "
                                  f"again ({' -> '.join((*_path, variant, dep_variant))})")
        try:
            registry.method(dep_variant)
        except KeyError as exc:
            raise DependencyError(f"method {variant!r} fits {dep_variant!r} (see its depends_on / "
                                  f"ee_variant / members), which is not a known method: {exc.args[0]}") from None
        deps.append(fit_identity(registry, dep_variant, overrides, (*_path, variant)))
    return stable_hash({"code": code_identity(entry.origin), "depends_on": deps})


def fit_identity(registry: Any, variant: str, overrides: dict[str, Any] | None = None, _path: tuple = ()) -> str:
    """The identity of one fit of ``variant``: its resolved parameters and its code (transitively)."""
    params = registry.method(variant).resolved_params(overrides or {})
    return stable_hash({"variant": variant, "params": repr(sorted(params.items())),
                        "method": method_identity(registry, variant, params, _path)})


# Scoring is the dataset's side of a number: its declared metrics are computed by this module.
SCORING = (BENCH_DIR / "core" / "metrics.py",)


def plugin_metric_sources(names: Iterable[str]) -> dict[str, str]:
    """{metric: digest of the file defining it} for the metrics among ``names`` that a plugin
    registered (bench.core.metrics.register_metric); built-ins are covered by SCORING, unknown
    names fail their runs. The executor makes every metric known before it keys a run."""
    from bench.core.metrics import METRICS

    out = {}
    for name in names:
        fn = METRICS[name].fn if name in METRICS else None
        if fn is None or getattr(fn, "__module__", None) == "bench.core.metrics":
            continue
        try:
            path = Path(inspect.getsourcefile(fn) or "")
        except TypeError:  # a builtin or C function: its name is all there is
            path = Path("")
        out[name] = file_digest(path) if path.is_file() else f"{fn.__module__}.{getattr(fn, '__qualname__', '?')}"
    return out


def dataset_identity(registry: Any, name: str) -> str:
    """The dataset plugin's code (with the task and split code it imports) and the metric code,
    plus the files of plugin metrics it names (only then: other datasets keep their keys)."""
    cls = registry.dataset(name).cls
    ident = {"code": code_identity(registry.dataset(name).origin),
             "scoring": files_identity(closure(SCORING, {"bench": BENCH_DIR.parent}))}
    plugin_metrics = plugin_metric_sources(getattr(cls, "metrics", ()))
    if plugin_metrics:
        ident["plugin_metrics"] = plugin_metrics
    return stable_hash(ident)


def run_identity(registry: Any, spec: Any) -> dict[str, str]:
    """The code identities a run's record carries: its method's (with the fits it depends on)
    and its dataset's. Tables call a record current when both match."""
    return {"method": method_identity(registry, spec.method, dict(spec.params)),
            "dataset": dataset_identity(registry, spec.dataset)}
