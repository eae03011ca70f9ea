"""Warnings where defaults meet new data: categorical columns that are not codes 0..n-1 fail the
same clear way under every method (and in `bench check`), naming every bad column; records say
when a network's best epoch was its last; `bench list methods` shows broken entry points; an
unknown name suggests the --plugins folder its records came from; dataset references take
parameters (`name[param=value]`) in `bench run --datasets` and `bench plot embeddings`."""
from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.core.task import Schema, Split, Task
from bench.plugins.dataset_checks import CategoricalCodesError, categorical_problems, check_categorical
from bench.run.suite import parse_dataset_ref, split_refs

SHOP = '''
"""A dataset plugin whose month and store columns are not coded 0..n-1 unless bad=false."""
import numpy as np
import pandas as pd

from bench import Dataset, Method, Schema, Split, Task


class ToyShop(Dataset):
    name = "toy-shop"
    kind = "regression"
    target = "sales"
    metrics = ("mape",)
    embedded = synthetic = True
    defaults = {"n": 60, "bad": True}

    def load(self, split, ctx):
        split = self.check_split(split)
        n = self.params["n"]
        store = np.arange(n) % 5
        month = np.array(["Jan", "Feb", "Mar"])[np.arange(n) % 3] if self.params["bad"] else np.arange(n) % 3
        x = np.random.default_rng(0).normal(size=n)
        X = pd.DataFrame({"month": month, "store": store + 3 if self.params["bad"] else store, "x": x})
        y = 10.0 + store + np.abs(x)
        a, b = int(n * 0.6), int(n * 0.8)
        return Task(self.name, self.kind, self.target, self.metrics,
                    Schema(categorical={"month": 3, "store": 5}, continuous=("x",)), X, y,
                    Split(split, np.arange(a), np.arange(a, b), np.arange(b, n)), synthetic=True)


class Improving(Method):
    """Logs three epochs of a validation score that keeps falling: still improving at its end."""
    name = "toy-improving"
    kinds = ("regression",)

    def fit(self, train, valid, ctx):
        for epoch, score in enumerate((0.3, 0.2, 0.1), start=1):
            ctx.log_epoch(epoch=epoch, train_loss=1.0 / epoch, valid_mape=score)
        self.mean_ = float(np.mean(train.y))
        return self

    def predict(self, data):
        return np.full(len(data), self.mean_)
'''


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    folder = tmp_path / "shopplug"
    folder.mkdir()
    (folder / "shop.py").write_text(SHOP)
    return folder


def _suite(tmp_path: Path, methods: list[str], params: str = "") -> Path:
    path = tmp_path / f"shop-{len(methods)}.toml"
    entries = "".join(f'\n[[methods]]\nvariant = "{m}"\n' for m in methods)
    path.write_text(f'seeds = [0]\n\n[[datasets]]\nname = "toy-shop"\n{params}\n{entries}')
    return path


def _run(bench_cmd, tmp_path, suite, *extra):
    return bench_cmd(["run", "--suite", suite, "--results-dir", tmp_path / "results", "--cache-dir",
                      tmp_path / "cache", "--data-dir", tmp_path, "--device", "cpu", "--quiet",
                      "--format", "none", *extra])


def _records(results: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((results / "runs").glob("*.json"))]


# -- categorical codes ---------------------------------------------------------------------------

@pytest.mark.slow
def test_bad_codes_give_one_error_for_every_method_and_in_check(tmp_path, shop, bench_cmd):
    res = _run(bench_cmd, tmp_path, _suite(tmp_path, ["knn", "xgboost", "ee"]), "--plugins", shop)
    assert res.exit_code == 1, res.output
    recs = _records(tmp_path / "results")
    assert sorted(r["method"]["variant"] for r in recs) == ["ee", "knn", "xgboost"]
    errors = {r["error"] for r in recs}
    assert len(errors) == 1 and all(r["status"] == "failed" for r in recs)
    [error] = errors
    assert "CategoricalCodesError" in error and "invalid literal" not in error
    assert "'month' holds strings" in error and "'Jan'" in error
    assert "'store' has codes outside 0..4" in error and "7" in error
    assert "pd.factorize" in error and "Schema(categorical=" in error

    check = bench_cmd(["check", "toy-shop", "--plugins", shop, "--cache-dir", tmp_path / "cache"])
    assert check.exit_code != 0
    line = next(x for x in check.output.splitlines() if "schema[" in x)
    assert "FAIL" in line and "'month'" in line and "'store'" in line


def _task(X: pd.DataFrame, categorical: dict[str, int]) -> Task:
    n = len(X)
    return Task("t", "regression", "y", ("mape",), Schema(categorical=categorical), X, np.ones(n),
                Split("s", np.arange(n), np.arange(0), np.arange(0)))


def test_categorical_problems_name_every_kind_of_bad_column():
    X = pd.DataFrame({"ok": [0, 1, 2, 1], "whole": [0.0, 1.0, 2.0, 0.0], "flag": [True, False, True, True],
                      "nan": [0.0, np.nan, 1.0, 1.0], "half": [0.5, 1.0, 0.0, 0.0],
                      "neg": [-1, 0, 1, 2], "cat": pd.Categorical(["a", "b", "a", "b"]),
                      "obj": pd.Series([0, 1, 2, 1], dtype=object)})
    cards = {c: 3 for c in X.columns} | {"absent": 2}
    problems = categorical_problems(_task(X, cards))
    named = [p.split("'")[1] for p in problems]
    assert named == ["nan", "half", "neg", "cat", "obj", "absent"]  # ok, whole and flag are codes
    text = "\n".join(problems)
    assert "1 missing value(s) (NaN" in text and "e.g. 0.5" in text and "e.g. -1" in text
    assert ".cat.codes" in text and "is not a column of X" in text
    assert categorical_problems(_task(X[["ok", "whole", "flag"]], {"ok": 3, "whole": 3, "flag": 2})) == []
    with pytest.raises(CategoricalCodesError, match=r"6 do not: 'nan'.*'absent'"):
        check_categorical(_task(X, cards))


# -- still improving -----------------------------------------------------------------------------

def test_records_say_when_the_best_epoch_is_the_last_and_the_table_marks_it(tmp_path, shop, bench_cmd):
    suite = _suite(tmp_path, ["toy-improving"], params="params = {bad = false}")
    res = _run(bench_cmd, tmp_path, suite, "--plugins", shop, "--executor", "inline")
    assert res.exit_code == 0, res.output
    [rec] = _records(tmp_path / "results")
    assert rec["info"]["best_epoch"] == 3 and rec["info"]["epochs"] == 3
    assert rec["info"]["still_improving"] is True
    assert rec["dataset"]["origin"]["path"] == str(shop / "shop.py")
    table = bench_cmd(["table", "--suite", suite, "--results-dir", tmp_path / "results", "--plugins", shop])
    assert table.exit_code == 0, table.output
    assert "↗" in next(x for x in table.output.splitlines() if x.startswith("| toy-improving"))
    assert "toy-improving (seed 0; 3 epochs)" in table.output and "`epochs = 6`" in table.output

    # without the plugin folder, the unknown dataset's error names the folder its records came from
    again = _run(bench_cmd, tmp_path, suite)
    assert again.exit_code == 2
    assert "unknown dataset 'toy-shop'" in again.output and f"--plugins {shop}" in again.output


# -- broken entry points -------------------------------------------------------------------------

def test_list_methods_shows_broken_entry_points(tmp_path, monkeypatch, bench_cmd):
    site = tmp_path / "site"
    dist = site / "bench_broken_demo-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: bench-broken-demo\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[bench.methods]\nbroken = broken_demo_mod:Thing\n"
                                           "[bench.datasets]\nbrokends = broken_demo_mod:Other\n")
    (site / "broken_demo_mod.py").write_text("raise ImportError('needs libfoo: pip install foo')\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("PYTHONPATH", str(site))  # the import probe's process finds it too
    monkeypatch.delenv("BENCH_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    try:
        methods = bench_cmd(["list", "methods"])
        datasets = bench_cmd(["list", "datasets"])
    finally:
        import sys

        sys.modules.pop("broken_demo_mod", None)
    assert methods.exit_code == 0, methods.output
    tail = methods.output.split("Broken plugins", 1)[1]
    assert "bench-broken-demo 0.1 (entry point bench.methods:broken)" in tail
    assert "needs libfoo" in tail and "bench.datasets:brokends" not in tail
    assert "bench.datasets:brokends" in datasets.output.split("Broken plugins", 1)[1]


# -- dataset references with parameters ----------------------------------------------------------

def test_dataset_references_parse_like_suite_values():
    assert parse_dataset_ref("movielens[release=ml-latest-small]") == ("movielens", {"release": "ml-latest-small"})
    assert parse_dataset_ref("toy-shop[n=80, bad=false]") == ("toy-shop", {"n": 80, "bad": False})
    assert parse_dataset_ref("ross*") == ("ross*", {})
    assert parse_dataset_ref("toy-[ab]") == ("toy-[ab]", {})  # a glob's character class, no parameters
    with pytest.raises(ValueError, match="param=value"):
        parse_dataset_ref("toy-shop[n=1,oops]")
    assert split_refs(("a[x=1,y=2],b", "c")) == ["a[x=1,y=2]", "b", "c"]


def test_run_datasets_filter_matches_parameters(tmp_path, shop):
    from bench.plugins.registry import discover
    from bench.run.suite import load_suite

    path = tmp_path / "two.toml"
    path.write_text('seeds = [0]\n[[datasets]]\nname = "toy-shop"\n\n[[datasets]]\nname = "toy-shop"\n'
                    'params = {n = 80, bad = false}\n\n[[methods]]\nvariant = "toy-improving"\n')
    reg = discover(extra_dirs=[shop], entry_points=False)
    suite = load_suite(path)
    assert len(suite.expand(reg, datasets=["toy-shop"])) == 2
    assert [s.dataset_params for s in suite.expand(reg, datasets=["toy-shop[n=80]"])] == [(("bad", False), ("n", 80))]
    assert [s.dataset_params for s in suite.expand(reg, datasets=["toy-shop[bad=true]"])] == [()]  # a default
    assert suite.expand(reg, datasets=["toy-shop[n=7]"]) == []


@pytest.mark.slow
def test_plot_embeddings_takes_dataset_parameters(tmp_path, shop, bench_cmd):
    from bench.plugins.registry import discover
    from bench.run.inspect import fitted_helper

    out = tmp_path / "stores.png"
    args = ["plot", "embeddings", "--variant", "ee", "--columns", "store", "--cache-dir", tmp_path / "cache",
            "--data-dir", tmp_path, "--device", "cpu", "--plugins", shop, "--out", out]
    res = bench_cmd([*args[:2], "--dataset", "toy-shop[n=80,bad=false]", *args[2:]])
    assert res.exit_code == 0, res.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    fitted = fitted_helper(discover(extra_dirs=[shop], entry_points=False), "toy-shop", None, "ee", 0, "cpu",
                           tmp_path, tmp_path / "cache", dataset_params={"n": 80, "bad": False})
    assert len(fitted.task.y) == 80 and fitted.model.embeddings()["store"].shape[0] == 5
    wrong = bench_cmd([*args[:2], "--dataset", "toy-shop[rows=80]", *args[2:]])
    assert wrong.exit_code == 2 and "unknown parameter 'rows'" in wrong.output


def test_an_embedded_card_that_names_files_says_to_drop_embedded():
    from bench import Dataset
    from bench.plugins.dataset_checks import check_card

    class Shop(Dataset):
        name, kind, target, metrics = "shop", "regression", "y", ("rmse",)
        embedded, folder, files = True, "shop", ("shop.csv",)

    with pytest.raises(AssertionError, match="delete `embedded = True`"):
        check_card(Shop)
    Shop.embedded = False
    check_card(Shop)
