"""bench from notebooks and scripts: timm's ``create_model`` / ``list_models``, for methods and datasets.

    import bench
    bench.list_methods("knn*")                       # ['knn', 'knn-raw', 'knn-standardized']
    knn = bench.create_method("knn", n_neighbors=5)  # unfitted, the variant's parameters + yours
    task = bench.load_task("rossmann-sim")           # the default split; FilesMissing says what to do
    rec = bench.run_one("knn", "breast-cancer", seed=0)  # one run, as `bench run` makes it

Every function scans the plugins once per process (the built-in folders, ``plugins=`` folders and
the installed entry points) through ``bench.plugins.registry``, and runs through
``bench.run.execute``: a record from ``run_one`` has the key and fields a ``bench run`` of the same
spec writes, so ``results_dir=`` puts it where ``bench table`` finds it.
"""
from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any, Iterable

from bench.core.method import Method
from bench.core.spec import RunRecord, RunSpec
from bench.core.task import KINDS, Task
from bench.plugins import registry as _registry
from bench.plugins.registry import Registry

PathLike = str | os.PathLike
_SCANS: dict[tuple, Registry] = {}


def registry(plugins: Iterable[PathLike] = (), refresh: bool = False) -> Registry:
    """The plugins this process sees (built-in, ``plugins`` folders, entry points), scanned once."""
    folders = tuple(str(Path(p).resolve()) for p in plugins)
    key = (str(_registry.builtin_root()), folders, not os.environ.get(_registry.NO_ENTRY_POINTS_ENV))
    if refresh or key not in _SCANS:
        _SCANS[key] = _registry.discover(folders)
    return _SCANS[key]


def _patterns(pattern: str | Iterable[str]) -> list[str]:
    return [pattern] if isinstance(pattern, str) else list(pattern)


def _check_kind(kind: str | None) -> None:
    if kind is not None and kind not in KINDS:
        close = difflib.get_close_matches(kind, KINDS, n=1)
        raise ValueError(f"unknown kind {kind!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
                         + f"; kinds: {', '.join(KINDS)}")


def _refuse_clash(reg: Registry, methods: Iterable[str] = (), datasets: Iterable[str] = ()) -> None:
    clash = reg.clash_error(methods, datasets)
    if clash:
        raise ValueError(clash)


def list_methods(pattern: str | Iterable[str] = "*", kind: str | None = None,
                 plugins: Iterable[PathLike] = ()) -> list[str]:
    """Method variants matching the glob(s), in natural order (``mlp2`` before ``mlp10``);
    ``kind`` keeps those that support that task kind."""
    _check_kind(kind)
    reg = registry(plugins)
    names = reg.match_methods(_patterns(pattern))
    return [n for n in names if kind is None or kind in reg.methods[n].cls.kinds]


def list_datasets(pattern: str | Iterable[str] = "*", kind: str | None = None,
                  plugins: Iterable[PathLike] = ()) -> list[str]:
    """Datasets matching the glob(s), in natural order; ``kind`` keeps those of that task kind."""
    _check_kind(kind)
    reg = registry(plugins)
    names = reg.match_datasets(_patterns(pattern))
    return [n for n in names if kind is None or reg.datasets[n].cls.kind == kind]


def create_method(name: str, plugins: Iterable[PathLike] = (), **params: Any) -> Method:
    """An unfitted instance of method variant ``name``: defaults < the variant's parameters < ``params``
    (``None`` never overrides). Unknown variant: KeyError with close matches; unknown parameter:
    TypeError naming it."""
    reg = registry(plugins)
    entry = reg.method(name)
    _refuse_clash(reg, methods=[name])
    return entry.build(params)


def _spec(reg: Registry, dataset: str, split: str | None, dataset_params: dict[str, Any] | None,
          split_seed: int, method: str = "", params: tuple = (), overrides: tuple = (),
          seed: int = 0) -> RunSpec:
    """A RunSpec as a suite expands it (the dataset's default split when ``split`` is None)."""
    ds = reg.dataset(dataset).build(dataset_params)
    return RunSpec(suite="", dataset=dataset, dataset_params=tuple(sorted((dataset_params or {}).items())),
                   split=ds.check_split(split), method=method, params=params, overrides=overrides,
                   seed=int(seed), label=method, split_seed=int(split_seed))


def load_task(name: str, split: str | None = None, data_dir: PathLike | None = None,
              cache_dir: PathLike | None = None, split_seed: int = 0, params: dict[str, Any] | None = None,
              plugins: Iterable[PathLike] = ()) -> Task:
    """A dataset split as the runs see it (the default split when ``split`` is None). Folders
    default as for ``bench run`` (``BENCH_DATA`` / ``BENCH_CACHE``, else the per-user folders).
    Raises FilesMissing, whose message says where to put which files. The Task is the one this
    process's runs share (loaded once): treat it as read-only."""
    from bench.data import paths
    from bench.run import execute

    reg = registry(plugins)
    _refuse_clash(reg, datasets=[name])
    spec = _spec(reg, name, split, params, split_seed)
    return execute.load_task(reg, spec, paths.data_dir(data_dir), paths.cache_dir(cache_dir))


def run_one(method: str, dataset: str, split: str | None = None, seed: int = 0,
            params: dict[str, Any] | None = None, data_dir: PathLike | None = None,
            cache_dir: PathLike | None = None, device: str = "cpu", *, dataset_params: dict[str, Any] | None = None,
            split_seed: int = 0, threads: int | None = None, results_dir: PathLike | None = None,
            progress: bool = False, plugins: Iterable[PathLike] = ()) -> RunRecord:
    """Fit ``method`` (a variant, with ``params`` on top) on one dataset split in this process and
    return its RunRecord: the key, identity and fields ``bench run`` records for the same spec.
    A method that raises gives a record with status "failed" and the error, as in a suite;
    wrong names, parameters or kinds raise before anything is loaded. ``results_dir``: also store
    the record there (``bench table`` reads it)."""
    from bench.core import environment
    from bench.core.identity import run_identity
    from bench.data import paths
    from bench.results.store import Store
    from bench.run import execute

    reg = registry(plugins)
    entry, ds_cls = reg.method(method), reg.dataset(dataset).cls
    _refuse_clash(reg, [method], [dataset])
    if ds_cls.kind not in entry.cls.kinds:
        raise ValueError(f"method {method} supports {', '.join(entry.cls.kinds)}; dataset {dataset} is "
                         f"{ds_cls.kind} (see bench.list_methods(kind={ds_cls.kind!r}))")
    overrides = {k: v for k, v in (params or {}).items() if v is not None}
    resolved = entry.resolved_params(overrides)
    entry.cls(**resolved)  # an unknown parameter fails here, before the data loads
    spec = _spec(reg, dataset, split, dataset_params, split_seed, method, tuple(sorted(resolved.items())),
                 tuple(sorted(overrides.items())), seed)
    run_identity(reg, spec)  # every fit it depends on (an ee_variant, a blend's members) must exist
    opts = execute.RunOptions(data_dir=paths.data_dir(data_dir), cache_dir=paths.cache_dir(cache_dir),
                              device=environment.resolve_device(device), executor="inline",
                              show_progress=progress, threads=threads,
                              command=f"bench.run_one({method!r}, {dataset!r}, split={spec.split!r}, seed={seed})")
    task = execute.load_task(reg, spec, opts.data_dir, opts.cache_dir)
    record = execute.execute(reg, spec, task, opts)
    if results_dir is not None:
        Store(Path(results_dir)).put(record)
    return record
