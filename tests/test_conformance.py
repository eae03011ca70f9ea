"""Every registered method (each variant, each kind it claims) and every registered dataset (each
split) through the contract checks, with ``bench.testing.parametrize_with_checks``: the decorator
plugin packages use in their own tests. A new plugin is checked the moment it registers; a plugin
file that fails to import is listed as broken by the registry, which one test asserts is empty.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bench
from bench import Dataset, Method
from bench.plugins.checks import CHECK_NAMES
from bench.testing import parametrize_with_checks

# Small settings for speed, applied only to plugins that have the parameter.
FAST = {"n_estimators": 10, "n_rounds": 20, "epochs": 2, "max_epochs": 2}


@parametrize_with_checks(methods=bench.list_methods(), datasets=bench.list_datasets(), params=FAST, budget_s=60)
def test_contract(plugin, check):
    check(plugin)


def test_no_plugin_is_broken_or_claimed_twice():
    from bench.sdk import registry

    reg = registry()
    assert [f"{b.origin}: {b.error}" for b in reg.broken] == []
    assert reg.clashes == {}
    assert {"knn", "mlp", "xgboost"} <= set(reg.methods) and {"breast-cancer", "rossmann-sim"} <= set(reg.datasets)


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


# -- bench.testing: the cases the decorator makes ------------------------------------------------

def _cases(**kw) -> dict[str, tuple]:
    """{id: (plugin, check)} of a parametrize_with_checks decorator."""
    names, params = parametrize_with_checks(**kw).args
    assert names == "plugin, check"
    ids = [p.id for p in params]
    assert len(ids) == len(set(ids)), "ids must be unique"
    return {p.id: p.values for p in params}


def test_cases_have_readable_ids_per_variant_kind_split_and_check():
    cases = _cases(methods=[_Mean], datasets=["breast-cancer", "rossmann-sim"])
    assert {i for i in cases if i.startswith("toy-mean-regression-")} == {f"toy-mean-regression-{c}" for c in CHECK_NAMES}
    assert "toy-mean-card" in cases and "toy-mean-rating-pickle" in cases
    # one split: no split in the id; seeded splits only get split-seed
    assert {"breast-cancer-card", "breast-cancer-loads", "breast-cancer-split-seed"} <= set(cases)
    assert {"rossmann-sim-paper-split-seed", "rossmann-sim-kaggle-same-split"} <= set(cases)
    assert "rossmann-sim-kaggle-split-seed" not in cases
    knn = _cases(methods=["knn"], kinds=["regression"])  # a variant name; one kind left: no kind in the id
    assert set(knn) == {"knn-card"} | {f"knn-{c}" for c in CHECK_NAMES}
    plugin, check = knn["knn-predict-shape"]
    assert (plugin.variant, plugin.kind, check.name) == ("knn", "regression", "predict-shape")
    with pytest.raises(KeyError, match="did you mean 'knn'"):
        parametrize_with_checks(methods=["knnn"])


def test_a_bad_method_fails_its_cases_and_a_good_one_passes_them():
    bad = _cases(methods=[_Bad], kinds=["regression"])
    for case, message in [("toy-bad-fit-returns-self", "return self"), ("toy-bad-predict-shape", r"shape \(\d+, 1\)"),
                          ("toy-bad-unfitted-predict", "predict before fit"), ("toy-bad-params-unchanged", "shift")]:
        plugin, check = bad[case]
        with pytest.raises(AssertionError, match=message):
            check(plugin)
    for plugin, check in _cases(methods=[_Mean], kinds=["regression"]).values():
        check(plugin)


def test_a_subclass_inheriting_its_parents_name_fails_its_card():
    class Inherits(_Mean):  # no name of its own: it would claim toy-mean again
        pass

    plugin, check = _cases(methods=[Inherits], kinds=["regression"])["toy-mean-card"]
    with pytest.raises(AssertionError, match="inherits `name = 'toy-mean'` from _Mean"):
        check(plugin)


def test_dataset_cases_check_generated_data_and_skip_missing_files(tmp_path, plugin_dir):
    cases = _cases(datasets=["toy-reg", "toy-files"], plugins=[plugin_dir], data_dir=tmp_path / "data",
                   cache_dir=tmp_path / "cache")
    toy = {i: c for i, c in cases.items() if i.startswith("toy-reg-")}
    assert {"toy-reg-card", "toy-reg-fixed-loads", "toy-reg-other-schema"} <= set(toy)
    for plugin, check in toy.values():
        check(plugin)
    plugin, check = cases["toy-files-card"]
    check(plugin)  # the card needs no files
    plugin, check = cases["toy-files-loads"]
    with pytest.raises(pytest.skip.Exception, match="(?s)files missing.*data.csv.*Download data.csv"):
        check(plugin)


def test_dataset_cases_fail_on_a_broken_split(tmp_path):
    class Overlapping(Dataset):
        name, kind, target, metrics, embedded = "overlap", "regression", "y", ("rmse",), True

        def load(self, split, ctx):
            X = pd.DataFrame({"a": np.arange(10.0)})
            return bench.Task(self.name, self.kind, self.target, self.metrics, bench.Schema(continuous=("a",)),
                              X, np.arange(10.0), bench.Split("default", np.arange(6), np.arange(5, 8), np.arange(8, 10)),
                              synthetic=True)

    cases = _cases(datasets=[Overlapping], data_dir=tmp_path, cache_dir=tmp_path)
    plugin, check = cases["overlap-split-parts"]
    with pytest.raises(AssertionError, match="train and valid share 1 rows"):
        check(plugin)
    plugin, check = cases["overlap-shapes"]
    check(plugin)
