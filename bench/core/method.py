"""The method plugin contract: a card of class attributes plus ``fit`` and ``predict``.

Parameters are set in the constructor only (scikit-learn's convention); fitted state lives in
attributes ending with ``_``. A family declares named variants, each a dict of parameters on
top of ``defaults`` (timm's way): ``variants = {"mlp": {}, "mlp-bn": {"batchnorm": True}}``.

Suite values are type-checked against ``defaults`` when a suite is planned (an int default takes
ints, a float default numbers, a str default strings, a tuple or list default a list; a ``None``
or ``"auto"`` default anything; a bool is never taken for a number). The optional
``param_types`` declares a parameter's types where its default says too little or too much, e.g.
``param_types = {"max_features": (str, int, float), "pca": (int, type(None))}``.
"""
from __future__ import annotations

import difflib
from typing import Any, Callable, ClassVar, Iterable, Protocol

import numpy as np


from bench.core.task import Part


class Artifacts(Protocol):
    """A cache of things built once per task and key (bench.data.artifacts.ArtifactCache)."""

    def get(self, task_key: str, name: str, key: dict[str, Any], build: Callable[[], Any]) -> Any: ...


class FitContext:
    """What the runner gives a method besides the data: device, seed, budget, progress, artifacts."""

    def __init__(self, seed: int = 0, device: str = "cpu", time_budget: float | None = None,
                 artifacts: Artifacts | None = None, task_key: str = "", show_progress: bool = False,
                 dataset: str = ""):
        self.seed = seed
        self.device = device
        self.time_budget = time_budget
        self.artifacts = artifacts  # where shared fits are kept between runs; None: never kept
        self.task_key = task_key  # dataset + params + split fingerprint: scopes shared artifacts
        self.dataset = dataset
        self.show_progress = show_progress
        self.history: list[dict[str, Any]] = []  # per-epoch rows, stored in the run record
        self.info: dict[str, Any] = {}  # free-form facts a method wants recorded
        # set by the runner: variant name + overrides -> (class, resolved params, fit identity:
        # the parameters and the code behind them, transitively; see bench.core.identity)
        self.resolve_method: Callable[[str, dict], tuple[type, dict, str]] | None = None

    def child(self) -> "FitContext":
        """A context for a helper fit (e.g. the embedding network behind a "with EE" baseline)."""
        sub = FitContext(seed=self.seed, device=self.device, time_budget=self.time_budget,
                         artifacts=self.artifacts, task_key=self.task_key,
                         show_progress=self.show_progress, dataset=self.dataset)
        sub.resolve_method = self.resolve_method
        return sub

    def fitted(self, variant: str, train: Part, valid: Part | None, **overrides: Any) -> "Method":
        """Another method variant fitted on the same task and seed, trained once and then reused.

        This is how a baseline gets the entity embeddings learned by the ``ee`` network: every
        baseline asking for the same (task, variant, parameters, seed, plugin code) shares one fit.
        """
        if self.resolve_method is None:
            raise RuntimeError(f"this fit context cannot resolve method {variant!r} (no registry attached)")
        cls, params, identity = self.resolve_method(variant, overrides)
        key = {"variant": variant, "params": repr(sorted(params.items())), "seed": self.seed,
               "identity": identity, "n_train": len(train)}

        def build() -> Method:
            sub = self.child()
            model = cls(**params).fit(train, valid, sub)
            self.info.setdefault("helper_fits", []).append(
                {"variant": variant, "history": sub.history, **sub.info})
            return model

        return self.cached(f"fitted-{variant}", key, build)

    def progress(self, iterable: Iterable, total: int | None = None, desc: str = ""):
        """Wrap a loop in a progress bar when the runner shows progress."""
        if not self.show_progress:
            return iterable
        from tqdm.auto import tqdm

        return tqdm(iterable, total=total, desc=desc, leave=False)

    def log_epoch(self, **row: Any) -> None:
        self.history.append(row)

    def cached(self, name: str, key: dict[str, Any], build: Callable[[], Any]) -> Any:
        """Build an artifact once per (task, key) and reuse it, e.g. a learned embedding table.

        The runner attaches a shared cache (``artifacts``, bench.data.artifacts: signed pickles that
        parallel workers build once); without one every call builds."""
        if self.artifacts is None:
            return build()
        return self.artifacts.get(self.task_key, name, key, build)


class Method:
    """Base class of method plugins. Subclasses set the card attributes and implement fit/predict."""

    name: ClassVar[str] = ""
    kinds: ClassVar[tuple[str, ...]] = ()
    defaults: ClassVar[dict[str, Any]] = {}
    variants: ClassVar[dict[str, dict[str, Any]]] = {}
    # optional: {param: type or tuple of types} where the default says too little or too much
    param_types: ClassVar[dict[str, Any]] = {}
    # optional: parameter overrides for the contract checks on tiny data (`bench check`, the
    # conformance tests), on top of each variant's, e.g. {"epochs": 2, "hidden": (32, 32)}
    test_params: ClassVar[dict[str, Any]] = {}
    description: ClassVar[str] = ""
    # optional: {old parameter name: new name}, so a suite using the old name is told the new one
    renamed: ClassVar[dict[str, str]] = {}

    def __init__(self, **params: Any):
        unknown = [p for p in params if p not in self.defaults]
        if unknown:
            hints = []
            for p in unknown:
                close = difflib.get_close_matches(p, list(self.defaults), n=1)
                if p in self.renamed:
                    close = [self.renamed[p]]
                hints.append(f"{p!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
            raise TypeError(f"{type(self).__name__}: unknown parameter {', '.join(hints)}; "
                            f"known: {', '.join(self.defaults) or 'none'}")
        self.params: dict[str, Any] = {**self.defaults, **params}

    @classmethod
    def depends_on(cls, params: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        """The other variants a fit with ``params`` trains through ``ctx.fitted``, as
        ``(variant, overrides)``: their parameters and code are part of this run's identity, so
        changing the embedding network behind a "with EE" row re-runs that row. The shared case
        is built in (``encoding="ee"`` fits ``ee_variant``); a method fitting others overrides it."""
        if params.get("encoding") == "ee" and params.get("ee_variant"):
            return [(str(params["ee_variant"]), {})]
        return []

    @classmethod
    def all_variants(cls) -> dict[str, dict[str, Any]]:
        return dict(cls.variants) if cls.variants else {cls.name: {}}

    def get_params(self) -> dict[str, Any]:
        return dict(self.params)

    def fit(self, train: Part, valid: Part | None, ctx: FitContext) -> "Method":
        raise NotImplementedError

    def predict(self, data: Part) -> np.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:
        changed = {k: v for k, v in self.params.items() if self.defaults.get(k) != v}
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in changed.items())})"


class NotFittedError(RuntimeError):
    pass
