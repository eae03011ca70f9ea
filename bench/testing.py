"""The plugin contract checks as pytest cases, for bench's own tests and for plugin packages
(scikit-learn's ``parametrize_with_checks``):

    from bench.testing import parametrize_with_checks
    from my_package import MyMethod, MyDataset

    @parametrize_with_checks(methods=[MyMethod], datasets=[MyDataset])
    def test_bench_contract(plugin, check):
        check(plugin)

One case per (plugin, check), with ids like ``knn-regression-predict-shape``, ``my-method-card``
or ``rossmann-sim-paper-same-split``. Methods (classes, or variant names looked up in the registry)
go through every check of ``bench.plugins.checks`` for every variant and every kind they claim,
on tiny seeded data; one reference fit per (variant, kind) is shared by its checks. Datasets
(classes or names) go through ``bench.plugins.dataset_checks`` per split: embedded and synthetic
ones run; one whose files are not in the data folder is skipped with the message saying where
to put them (nothing is downloaded).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import pytest

from bench.core.dataset import Dataset, FilesMissing
from bench.core.method import Method
from bench.core.task import KINDS
from bench.plugins.checks import CHECK_NAMES, CheckResult, Checker, card_problems
from bench.plugins.dataset_checks import DATASET_CHECK_NAMES, check_card, dataset_checks
from bench.plugins.subclasses import inherited_card

PathLike = str | Path


@dataclass(frozen=True)
class MethodCase:
    """One method variant on one task kind."""

    cls: type[Method]
    variant: str
    params: tuple  # sorted (name, value) pairs: the variant's, plus the caller's small settings
    kind: str  # "" for the card case, which fits nothing

    def __repr__(self) -> str:
        return self.variant + (f"[{self.kind}]" if self.kind else "")


@dataclass(frozen=True)
class DatasetCase:
    """One dataset, on one of its splits (None: the card alone)."""

    cls: type[Dataset]
    split: str | None

    def __repr__(self) -> str:
        return f"{self.cls.name}" + (f"[{self.split}]" if self.split else "")


@dataclass(frozen=True)
class Check:
    """A named contract check; ``check(plugin)`` runs it and raises AssertionError when it fails."""

    name: str
    budget_s: float = 60.0
    device: str = "cpu"
    data_dir: PathLike | None = field(default=None, compare=False)
    cache_dir: PathLike | None = field(default=None, compare=False)

    def __repr__(self) -> str:
        return f"Check({self.name!r})"

    def __call__(self, plugin: MethodCase | DatasetCase) -> None:
        if isinstance(plugin, MethodCase):
            self._method(plugin)
        else:
            self._dataset(plugin)

    def _method(self, case: MethodCase) -> None:
        if self.name == "card":
            problems = card_problems(case.cls) + [p for p in [inherited_card(case.cls)] if p]
            assert not problems, "\n".join(problems)
            return
        key = (case.cls, case.variant, repr(case.params), case.kind, self.budget_s, self.device)
        if key not in _CHECKERS:
            _CHECKERS[key] = Checker(case.cls, dict(case.params), kind=case.kind, device=self.device,
                                     budget_s=self.budget_s)
        _CHECKERS[key].check(self.name)()

    def _dataset(self, case: DatasetCase) -> None:
        from bench.data import paths

        data_dir, cache_dir = paths.data_dir(self.data_dir), paths.cache_dir(self.cache_dir)
        if case.split is None:  # the card: no data needed
            check_card(case.cls)
            problem = inherited_card(case.cls)
            assert problem is None, problem
            return
        results = _dataset_results(case.cls, case.split, data_dir, cache_dir)
        loads = results.get(f"loads[{case.split}]")
        if loads is not None and not loads.ok and loads.message.startswith(f"{FilesMissing.__name__}:"):
            pytest.skip(loads.message)
        result = results.get(f"{self.name}[{case.split}]")
        if result is None:
            pytest.skip(f"not run: the card or loading {case.cls.name}/{case.split} failed (those cases say why)")
        assert result.ok, result.message


_CHECKERS: dict[tuple, Checker] = {}  # one reference fit per (variant, kind, settings), shared by its checks
_DATASET_RESULTS: dict[tuple, dict[str, CheckResult]] = {}


def _dataset_results(cls: type[Dataset], split: str, data_dir: Path, cache_dir: Path) -> dict[str, CheckResult]:
    """The dataset checks of one split, run once for all its cases; FilesMissing (files not in the
    data folder) is found before loading, so nothing is downloaded."""
    key = (cls, split, str(data_dir), str(cache_dir))
    if key not in _DATASET_RESULTS:
        try:
            cls().require_files(data_dir)
        except FilesMissing as exc:
            pytest.skip(str(exc))
        _DATASET_RESULTS[key] = {r.name: r for r in dataset_checks(cls, data_dir, cache_dir, splits=(split,))}
    return _DATASET_RESULTS[key]


def _as_list(items: Any) -> list:
    if items is None:
        return []
    if isinstance(items, (str, type)):
        return [items]
    return list(items)


def _method_variants(items: Iterable[Any], plugins: Iterable[PathLike]) -> list[tuple[type[Method], str, dict]]:
    """(class, variant, variant params) for Method classes (each of their variants) and variant names."""
    out = []
    for item in items:
        if isinstance(item, type) and issubclass(item, Method):
            out += [(item, v, dict(p)) for v, p in item.all_variants().items()]
        elif isinstance(item, str):
            from bench.sdk import registry

            entry = registry(plugins).method(item)  # KeyError with close matches
            out.append((entry.cls, item, dict(entry.params)))
        else:
            raise TypeError(f"methods: expected a bench.Method subclass or a variant name, got {item!r}")
    return out


def _dataset_classes(items: Iterable[Any], plugins: Iterable[PathLike]) -> list[type[Dataset]]:
    out = []
    for item in items:
        if isinstance(item, type) and issubclass(item, Dataset):
            out.append(item)
        elif isinstance(item, str):
            from bench.sdk import registry

            out.append(registry(plugins).dataset(item).cls)  # KeyError with close matches
        else:
            raise TypeError(f"datasets: expected a bench.Dataset subclass or a dataset name, got {item!r}")
    return out


def method_cases(methods: Any, params: dict[str, Any] | None = None, kinds: Iterable[str] | None = None,
                 plugins: Iterable[PathLike] = (), **check: Any) -> list:
    """The pytest params of ``methods``: a card case per variant, then every check per kind."""
    cases = []
    for cls, variant, vparams in _method_variants(_as_list(methods), plugins):
        fast = {k: v for k, v in (params or {}).items() if k in cls.defaults}
        merged = tuple(sorted({**vparams, **fast}.items()))
        cases.append(pytest.param(MethodCase(cls, variant, merged, ""), Check("card", **check), id=f"{variant}-card"))
        claimed = [k for k in cls.kinds if k in KINDS and (kinds is None or k in kinds)]
        for kind in claimed:
            stem = f"{variant}-{kind}" if len(claimed) > 1 else variant
            cases += [pytest.param(MethodCase(cls, variant, merged, kind), Check(name, **check), id=f"{stem}-{name}")
                      for name in CHECK_NAMES]
    return cases


def dataset_cases(datasets: Any, plugins: Iterable[PathLike] = (), **check: Any) -> list:
    """The pytest params of ``datasets``: the card, then every check per split."""
    cases = []
    for cls in _dataset_classes(_as_list(datasets), plugins):
        cases.append(pytest.param(DatasetCase(cls, None), Check("card", **check), id=f"{cls.name}-card"))
        for split in cls.splits:
            stem = f"{cls.name}-{split}" if len(cls.splits) > 1 else cls.name
            names = [n for n in DATASET_CHECK_NAMES if n != "card" and (n != "split-seed" or split in cls.seeded_splits)]
            cases += [pytest.param(DatasetCase(cls, split), Check(name, **check), id=f"{stem}-{name}") for name in names]
    return cases


def parametrize_with_checks(methods: Any = (), datasets: Any = (), *, params: dict[str, Any] | None = None,
                            kinds: Iterable[str] | None = None, budget_s: float = 60.0, device: str = "cpu",
                            data_dir: PathLike | None = None, cache_dir: PathLike | None = None,
                            plugins: Iterable[PathLike] = ()):
    """A ``pytest.mark.parametrize("plugin, check", ...)`` over every (plugin, contract check) pair.

    ``methods``: Method classes and/or variant names; ``datasets``: Dataset classes and/or names
    (names are looked up among the built-in plugins, ``plugins`` folders and entry points).
    ``params``: small settings for speed (``{"epochs": 2}``), applied to methods that have them.
    ``kinds``: only these task kinds. ``budget_s``: seconds allowed for fit + predict on the tiny
    task. ``data_dir`` / ``cache_dir``: the dataset folders, resolved when the checks run
    (default: ``BENCH_DATA`` / ``BENCH_CACHE``, else the per-user folders, as for ``bench run``).
    The test body is ``check(plugin)``."""
    check = dict(budget_s=budget_s, device=device, data_dir=data_dir, cache_dir=cache_dir)
    cases = method_cases(methods, params, kinds, plugins, **check) + dataset_cases(datasets, plugins, **check)
    return pytest.mark.parametrize("plugin, check", cases)
