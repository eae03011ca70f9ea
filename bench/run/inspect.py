"""One fit outside a suite, to look inside it (`bench plot embeddings`): the same shared fit a
"with EE" run trains, reused from the cache folder when that run already trained it."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.core import environment
from bench.core.method import FitContext, Method
from bench.core.spec import RunSpec
from bench.core.task import Task
from bench.data.artifacts import ArtifactCache
from bench.plugins.registry import Registry
from bench.run.execute import fit_scope, load_task, resolve_method


@dataclass
class Fitted:
    model: Method
    task: Task
    dataset: Any  # the dataset plugin instance (for level names)
    split: str
    data_dir: Path


def fitted_helper(reg: Registry, dataset: str, split: str | None, variant: str, seed: int, device: str,
                  data_dir: Path, cache_dir: Path, need: str = "embeddings",
                  dataset_params: dict[str, Any] | None = None) -> Fitted:
    """``variant`` fitted on ``dataset``'s split (with ``dataset_params``, as a suite gives them)
    through the shared-fit cache; KeyError for an unknown name, TypeError when the method has no
    ``need`` method or the dataset no such parameter."""
    loaded = task_context(reg, dataset, split, variant, seed, device, data_dir, cache_dir, dataset_params)
    task, ctx = loaded.task, loaded.ctx
    model = ctx.fitted(variant, task.part("train"), task.part("valid"))
    if not hasattr(model, need):
        raise TypeError(f"method {variant} has no {need}()")
    return Fitted(model, task, loaded.dataset, loaded.split, data_dir)


@dataclass
class Loaded:
    task: Task
    dataset: Any  # the dataset plugin instance
    split: str
    ctx: FitContext


def task_context(reg: Registry, dataset: str, split: str | None, variant: str, seed: int, device: str,
                 data_dir: Path, cache_dir: Path, dataset_params: dict[str, Any] | None = None,
                 keep_fits: bool = True, threads: int | None = None) -> Loaded:
    """``dataset``'s split (with ``dataset_params``) loaded as a run loads it, and the FitContext a
    run of ``variant`` on it gets; KeyError for an unknown name. ``keep_fits=False``: a context
    whose shared fits are never stored (for fits that are not the real thing, e.g. lr-find's).
    ``threads``: the torch threads the fit runs under (keys the shared fit; default the machine's)."""
    params = dict(dataset_params or {})
    ds = reg.dataset(dataset).build(params)
    split = ds.check_split(split)
    reg.method(variant)
    spec = RunSpec(suite="", dataset=dataset, dataset_params=tuple(sorted(params.items())), split=split,
                   method=variant, params=(), seed=seed)
    task = load_task(reg, spec, data_dir, cache_dir)
    ctx = FitContext(seed=seed, device=environment.resolve_device(device),
                     artifacts=ArtifactCache(cache_dir) if keep_fits else None,
                     task_key=fit_scope(spec, task, threads or environment.default_threads(),
                                       environment.resolve_device(device)),
                     dataset=dataset)
    ctx.resolve_method = lambda v, o: resolve_method(reg, v, o)
    return Loaded(task, ds, split, ctx)
