"""The base of the neural-net method families: what every torch plugin would repeat, once.

A family subclasses ``TorchMethod``, prepares its tensors in ``fit`` and trains through
``fit_members``: one net, or a seeded ensemble when its card has an ``ensemble`` parameter.
The training settings come from the parameters named like ``bench.nn.TrainConfig`` fields
(``train_config``, plus ``train_options`` for any other field), the context's time budget is
shared among the members, the fitted nets (``members_``) pickle onto the CPU so a GPU-trained
model loads anywhere, and ``predict`` before ``fit`` raises ``NotFittedError`` (``check_fitted``).

torch is imported inside the methods only, so a plugin file importing this one does not need
torch until it builds a net.
"""
from __future__ import annotations

import contextlib
import copy
import dataclasses
import itertools
import time
from typing import Any, Callable, ClassVar, ContextManager

import numpy as np

from bench.core.method import FitContext, Method, NotFittedError

_CASTS = {int: int, float: float, bool: bool}  # TrainConfig field default's type -> cast of the param


def member_seed(seed: int, i: int) -> int:
    """The seed of ensemble member ``i``: the run's own for the first, one drawn from (seed, i) after."""
    return seed if i == 0 else int(np.random.SeedSequence([seed, i]).generate_state(1)[0])


def member_budget(budget: float | None, share: float, spent: float, members_left: int) -> float | None:
    """One net's seconds: an equal part of what is left of ``share`` of the budget (None: no limit)."""
    if budget is None:
        return None
    return max(0.0, share * budget - spent) / members_left


def on_cpu(net: Any) -> Any:
    """The net itself when it is on the CPU, else a copy moved there (the trained one stays put)."""
    if all(t.device.type == "cpu" for t in itertools.chain(net.parameters(), net.buffers())):
        return net
    return copy.deepcopy(net).cpu()


class TorchMethod(Method):
    """Base class of the torch families: config from params, seeded members, budget, CPU pickles."""

    # share of ctx.time_budget the members may spend training; the rest is left for predict
    budget_share: ClassVar[float] = 1.0

    def check_kind(self, train: Any) -> None:
        if train.kind not in self.kinds:
            raise ValueError(f"{self.name} handles {self.kinds}, not {train.kind!r}")

    def check_fitted(self, what: str = "predict") -> None:
        if not hasattr(self, "members_"):
            raise NotFittedError(f"{self.name}: call fit before {what}")

    def train_config(self, device: Any, **fields: Any) -> Any:
        """A ``bench.nn.TrainConfig``: every parameter named like one of its fields (cast to the
        field's type), then ``fields`` (what a family computes), then ``train_options``."""
        from bench.nn import TrainConfig

        p = self.params
        values: dict[str, Any] = {}
        for f in dataclasses.fields(TrainConfig):
            if f.name in p and f.name not in fields:
                cast = _CASTS.get(type(f.default))
                values[f.name] = cast(p[f.name]) if cast is not None and p[f.name] is not None else p[f.name]
        cfg = TrainConfig(**{**values, "device": str(device), **fields})
        extra = dict(p.get("train_options") or {})
        unknown = sorted(set(extra) - {f.name for f in dataclasses.fields(TrainConfig)})
        if unknown:
            raise ValueError(f"{self.name}: train_options names {unknown}, which are not bench.nn.TrainConfig "
                             f"fields; fields: {', '.join(f.name for f in dataclasses.fields(TrainConfig))}")
        return cfg.replace(**extra) if extra else cfg

    def training_scope(self, device: Any) -> ContextManager:
        """Entered around building and training each net (e.g. to set torch's thread count)."""
        return contextlib.nullcontext()

    def fit_members(self, build: Callable[[], Any], data: Any, cfg: Any, ctx: FitContext, device: Any,
                    **fit_kw: Any) -> list[Any]:
        """Build and train ``ensemble`` nets (1 without that parameter), each under its own seed and
        its part of the time budget; keeps them in ``members_`` and returns their FitResults.
        ``fit_kw`` goes to ``bench.nn.fit`` (valid data, loss, metric, augmentation...)."""
        from bench import nn as bnn

        k = int(self.params.get("ensemble", 1))
        if k < 1:
            raise ValueError(f"{self.name}: ensemble must be >= 1, not {k}")
        budget = cfg.time_budget if cfg.time_budget is not None else ctx.time_budget
        nets, results = [], []
        start = time.perf_counter()
        for i in range(k):
            seed = member_seed(ctx.seed, i)
            left = member_budget(budget, self.budget_share, time.perf_counter() - start, k - i)
            with bnn.seeded(seed, device), self.training_scope(device):
                net = build()
                res = bnn.fit(net, data, cfg.replace(seed=seed, time_budget=left), ctx=ctx,
                              desc=f"{self.name} {i + 1}/{k}" if k > 1 else self.name,
                              log_extra={"member": i} if k > 1 else None, **fit_kw)
            nets.append(net)
            results.append(res)
        self.members_ = nets
        return results

    @staticmethod
    def member_fits(results: list[Any], metric_name: str | None = None) -> list[dict[str, Any]]:
        """One row per trained net for the run record (``ctx.info["nn_fits"]``)."""
        return [{"member": i, "epochs_run": r.epochs_run, "best_epoch": r.best_epoch,
                 **({metric_name: r.best_score} if metric_name else {}), "stop_reason": r.stop_reason,
                 "train_seconds": round(r.train_seconds, 3), "samples_per_s": round(r.samples_per_s, 1)}
                for i, r in enumerate(results)]

    def n_parameters(self) -> int:
        """Weights of one net (the first member)."""
        self.check_fitted("n_parameters")
        return sum(q.numel() for q in self.members_[0].parameters())

    def __getstate__(self) -> dict[str, Any]:
        """Pickle with the nets on the CPU, so a GPU-trained model loads anywhere."""
        state = dict(self.__dict__)
        if "members_" in state:
            state["members_"] = [on_cpu(m) for m in state["members_"]]
        return state


__all__ = ["TorchMethod", "member_seed", "member_budget", "on_cpu"]
