"""Every method plugin in plugins/*.py, every variant, every kind it claims, through every contract check.

A new plugin file is checked the moment it is saved; a file that fails to import is one failing
test (``test_plugin_imports[<file>]``), never a collection error for the rest.
"""
from __future__ import annotations

import inspect
import traceback
from pathlib import Path

import numpy as np
import pytest

from bench import KINDS, Method
from bench.plugins.checks import CHECK_NAMES, Checker, card_problems
from bench.plugins.registry import load_file

PLUGINS = Path(__file__).resolve().parents[1] / "plugins"

# Small settings for speed, applied only to plugins that have the parameter.
FAST = {"n_estimators": 10, "n_rounds": 20, "epochs": 2, "max_epochs": 2}


def _scan():
    files, families, cases = [], [], []
    for path in sorted(PLUGINS.glob("*.py")):
        if path.name.startswith(("_", ".")):
            continue
        try:
            module, error = load_file(path), None
        except BaseException:  # reported by test_plugin_imports
            module, error = None, traceback.format_exc()
        # A class without a `name` is a shared base (the registry skips it too).
        classes = [] if module is None else [
            c for _, c in inspect.getmembers(module, inspect.isclass)
            if issubclass(c, Method) and c is not Method and c.__module__ == module.__name__ and c.name]
        if module is not None and not classes:
            error = f"{path} defines no named subclass of bench.Method"
        files.append(pytest.param(path, error, id=path.stem))
        for cls in classes:
            families.append(pytest.param(cls, id=cls.name or cls.__name__))
            for variant, params in cls.all_variants().items():
                fast = {k: v for k, v in FAST.items() if k in cls.defaults}
                for kind in cls.kinds:
                    if kind not in KINDS:
                        continue  # card_problems reports it
                    key = (str(path), cls.__qualname__, variant, kind)
                    # slow: the CNNs, and every network variant but each family's default one
                    network = "epochs" in cls.defaults or "max_epochs" in cls.defaults
                    slow = kind == "image-classification" or (network and variant != cls.name)
                    marks = [pytest.mark.slow] if slow else []
                    for check in CHECK_NAMES:
                        cases.append(pytest.param(key, cls, {**params, **fast}, check, marks=marks,
                                                  id=f"{variant}-{kind}-{check}"))
    return files, families, cases


FILES, FAMILIES, CASES = _scan()
_checkers: dict[tuple, Checker] = {}  # one reference fit per (plugin, variant, kind), shared by its checks


@pytest.mark.parametrize("path, error", FILES)
def test_plugin_imports(path, error):
    assert error is None, f"plugin file {path} is broken:\n{error}"


@pytest.mark.parametrize("cls", FAMILIES)
def test_card(cls):
    problems = card_problems(cls)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("key, cls, params, check", CASES)
def test_contract(key, cls, params, check):
    if key not in _checkers:
        _checkers[key] = Checker(cls, params, kind=key[3], budget_s=60)
    _checkers[key].check(check)()


# -- the checks catch what they are meant to catch ---------------------------------------------

class _Mean(Method):
    """A well-behaved toy: predicts the train mean."""
    name = "toy-mean"
    kinds = ("regression", "rating")
    defaults = {"shift": 0.0}

    def fit(self, train, valid, ctx):
        self.mean_ = float(train.y.mean()) + self.params["shift"]
        return self

    def predict(self, data):
        if not hasattr(self, "mean_"):
            raise RuntimeError("not fitted")
        return np.full(len(data), self.mean_)


class _Bad(_Mean):
    name = "toy-bad"

    def fit(self, train, valid, ctx):
        train.y[0] = -1.0                      # mutates its input
        self.params["shift"] = 1.0             # changes a parameter
        self.mean_ = float(np.random.rand())   # ignores the seed
        return None                            # forgets `return self`

    def predict(self, data):
        pred = np.full((len(data), 1), getattr(self, "mean_", 0.0))  # wrong shape
        pred[0] = np.nan
        return pred


def test_a_good_toy_passes_every_check():
    from bench.plugins.checks import run_checks

    results = {r.name: r for r in run_checks(_Mean, {}, "rating")}
    assert set(results) == set(CHECK_NAMES)
    assert all(r.ok for r in results.values()), [r.message for r in results.values() if not r.ok]


def test_a_bad_toy_fails_with_readable_messages():
    from bench.plugins.checks import run_checks

    results = {r.name: r for r in run_checks(_Bad, {}, "regression")}
    failed = {n for n, r in results.items() if not r.ok}
    assert failed == {"fit-returns-self", "predict-shape", "finite", "determinism", "no-mutation",
                      "params-unchanged", "unfitted-predict"}
    assert "predict differently" in results["determinism"].message
    assert "return self" in results["fit-returns-self"].message
    assert "changed y of the train part" in results["no-mutation"].message
    assert "['shift']" in results["params-unchanged"].message


def test_time_budget_and_broken_fit_are_reported():
    from bench.plugins.checks import run_checks

    slow = run_checks(_Mean, {}, "regression", budget_s=0.0, names=("time-budget",))
    assert not slow[0].ok and "budget" in slow[0].message
    broken = run_checks(_Mean, {"shift": "oops"}, "regression", names=("predict-shape", "unfitted-predict"))
    assert not broken[0].ok and "TypeError" in broken[0].message
    assert broken[1].ok  # needs no fit


def test_a_broken_plugin_file_is_one_failing_case(tmp_path):
    (tmp_path / "broken.py").write_text("import not_a_module_anywhere\n")
    (tmp_path / "empty.py").write_text("X = 1\n")
    globals()["PLUGINS"], saved = tmp_path, PLUGINS
    try:
        files, families, cases = _scan()
    finally:
        globals()["PLUGINS"] = saved
    errors = {p.id: p.values[1] for p in files}
    assert "not_a_module_anywhere" in errors["broken"] and "no named subclass" in errors["empty"]
    assert not families and not cases
