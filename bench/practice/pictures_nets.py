"""The trained networks behind the deck's pictures (filters, loss landscapes) and the fixed images
they are looked at with.

A network is a method variant (e.g. the cnn plugin's ``plain-20`` / ``resnet-20``) fitted through
the registry on a dataset's split, exactly as `bench plot embeddings` fits its model
(bench.run.inspect.task_context, then the context's shared-fit cache ``ctx.fitted``): trained once
per dataset, split, variant, parameters, seed, threads and plugin code, kept signed in the cache
folder and reused by the next command. The torch net is the fitted method's ``members_[0]``."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.core.task import Task
from bench.plugins.registry import Registry
from bench.run.inspect import task_context

# A CPU-sized recipe for the CIFAR nets (the cnn plugin's defaults otherwise: SGD momentum 0.9, lr
# 0.1, weight decay 1e-4, lr / 10 at 50 % and 75 % of the epochs, pad-and-crop + flip).
DEFAULT_DATASET = "cifar10[train_per_class=200,valid_size=500,test_per_class=100]"
# Measured at one thread on 2 busy cores (2026-12-01): fitting plain-20 / resnet-20 100 / 81 s, plain-56 /
# resnet-56 238 / 244 s; with the 21x21 landscape 168 / 145 / 390 / 420 s per network. plain-56 stays near
# chance at this budget (valid accuracy 0.10 at lr 0.1, 0.18 at 0.05, 0.11 at 0.02): deep plain nets train worse.
DEFAULT_PARAMS: dict[str, Any] = {"widths": [8, 16, 32], "epochs": 20, "batch_size": 64}


def dataset_ref(name: str, params: dict[str, Any]) -> str:
    inner = ",".join(f"{k}={v}" for k, v in sorted(params.items()))
    return f"{name}[{inner}]" if inner else name


def params_text(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(params.items())) or "defaults"


@dataclass
class Trained:
    """One fitted network and what made it (for figure titles and the page)."""

    variant: str
    params: dict[str, Any]  # the overrides given (on top of the variant's defaults)
    seed: int
    dataset: str  # the dataset name
    dataset_params: dict[str, Any]
    split: str
    task: Task
    model: Any  # the fitted method
    seconds: float  # fitting it, or reading it back from the cache
    trained_now: bool  # False: read back from the cache folder
    info: dict[str, Any] = field(default_factory=dict)  # the fit's own info (epochs run, parameters)

    @property
    def net(self) -> Any:
        """The trained torch module (the method's first member)."""
        return self.model.members_[0]

    @property
    def fingerprint(self) -> str:
        return self.task.split.fingerprint

    @property
    def data(self) -> str:
        return dataset_ref(self.dataset, self.dataset_params)

    def label(self) -> str:
        """'resnet-20 (epochs=10, ...) on cifar10[...]/official (fingerprint ..., seed 0)'."""
        return (f"{self.variant} ({params_text(self.params)}) on {self.data}/{self.split} "
                f"(fingerprint {self.fingerprint}, seed {self.seed})")

    def targets(self, y: np.ndarray) -> np.ndarray:
        """Labels -> the net's output positions (the method's sorted training classes)."""
        classes = np.asarray(self.model.classes_)
        pos = np.searchsorted(classes, y)
        if np.any(pos >= len(classes)) or np.any(classes[np.minimum(pos, len(classes) - 1)] != y):
            raise ValueError(f"{self.variant}: labels outside the classes it was trained on")
        return pos.astype(np.int64)


def train(reg: Registry, dataset: str, dataset_params: dict[str, Any] | None, split: str | None, variant: str,
          params: dict[str, Any], seed: int, *, device: str, data_dir: Path, cache_dir: Path,
          threads: int | None = None) -> Trained:
    """``variant`` with ``params`` fitted on the split (or read back from the cache folder).
    KeyError: unknown dataset or variant; TypeError: an unknown parameter, or a method without a
    torch net (``members_``); FilesMissing: the data is not there."""
    loaded = task_context(reg, dataset, split, variant, seed, device, data_dir, cache_dir, dataset_params,
                          threads=threads)
    task, ctx = loaded.task, loaded.ctx
    start = time.perf_counter()
    model = ctx.fitted(variant, task.part("train"), task.part("valid"), **params)
    seconds = time.perf_counter() - start
    if not getattr(model, "members_", None):
        raise TypeError(f"method {variant} keeps no torch net (members_); pick a network variant such as resnet-20")
    fits = ctx.info.get("helper_fits") or []
    info = {k: v for k, v in (fits[0] if fits else {}).items() if k != "history"}
    return Trained(variant, dict(params), seed, dataset, dict(dataset_params or {}), loaded.split, task, model,
                   seconds, bool(fits), info)


def fixed_images(trained: Trained, part: str, n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A fixed, seeded draw of ``n`` images of ``part`` (all when fewer): (images (N, H, W, C) as
    the dataset gives them, the net's target positions, their row positions in the part)."""
    p = trained.task.part(part)
    total = len(p.y)
    rows = np.sort(np.random.default_rng(seed).permutation(total)[:min(n, total)])
    return np.asarray(p.X)[rows], trained.targets(np.asarray(p.y)[rows]), rows


def valid_accuracy(trained: Trained) -> float | None:
    """The fitted method's accuracy on the valid part (None without one)."""
    p = trained.task.part("valid")
    if not len(p.y):
        return None
    return float(np.mean(np.asarray(trained.model.predict(p)) == np.asarray(p.y)))
