"""The SDK for notebooks and scripts (bench.sdk, exposed lazily as bench.create_method, ...): the
same registry and the same one-run code as the CLI, so a record from run_one is the record
`bench run` writes for that spec."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import bench
from bench.results.store import Store

from conftest import TOY_TEST_Y, TOY_TRAIN_MEAN, write_plugin_folder


def test_import_bench_stays_light_until_an_sdk_name_is_used():
    code = textwrap.dedent("""
        import json, sys
        import bench
        before = sorted(m for m in ("bench.sdk", "bench.plugins.registry", "bench.run.execute", "torch")
                        if m in sys.modules)
        f = bench.list_methods
        after = sorted(m for m in ("bench.sdk", "bench.plugins.registry", "torch") if m in sys.modules)
        print(json.dumps({"before": before, "after": after, "same": f is sys.modules["bench.sdk"].list_methods,
                          "in_dir": "run_one" in dir(bench)}))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    got = json.loads(out)
    assert got["before"] == []
    assert got["after"] == ["bench.plugins.registry", "bench.sdk"]  # no plugin scanned yet, so no torch
    assert got["same"] and got["in_dir"]
    with pytest.raises(AttributeError, match="no attribute 'run_two'"):
        bench.run_two  # noqa: B018


def test_list_methods_and_datasets_filter_by_glob_and_kind(plugin_dir):
    (plugin_dir / "natural.py").write_text(textwrap.dedent("""
        from bench import Method

        class Natural(Method):
            name = "nat"
            kinds = ("rating",)
            variants = {"nat-10": {}, "nat-2": {}, "nat-1": {}}
    """))
    plugins = [plugin_dir]
    assert bench.list_methods("toy-mean*", plugins=plugins) == ["toy-mean", "toy-mean-shifted"]
    assert bench.list_methods("nat*", plugins=plugins) == ["nat-1", "nat-2", "nat-10"]
    assert bench.list_methods(["nat-1", "toy-m*"], plugins=plugins) == [
        "nat-1", "toy-majority", "toy-mean", "toy-mean-shifted"]
    assert bench.list_methods(kind="classification", plugins=plugins) == ["toy-boom", "toy-majority"]
    assert bench.list_datasets(plugins=plugins) == ["toy-cls", "toy-files", "toy-reg"]
    assert bench.list_datasets(kind="regression", plugins=plugins) == ["toy-files", "toy-reg"]
    with pytest.raises(ValueError, match="did you mean 'rating'"):
        bench.list_methods(kind="ratings", plugins=plugins)


def test_create_method_gives_an_unfitted_variant_with_overrides(plugin_dir):
    m = bench.create_method("toy-mean-shifted", plugins=[plugin_dir], scale=2.0, layers=None)
    assert isinstance(m, bench.Method) and type(m).name == "toy-mean"
    assert m.get_params() == {"shift": 10.0, "scale": 2.0, "layers": (8,)}  # variant + caller; None never overrides
    assert not hasattr(m, "mean_")
    with pytest.raises(KeyError, match="unknown method 'toy-mean-shiftd'; did you mean 'toy-mean-shifted'"):
        bench.create_method("toy-mean-shiftd", plugins=[plugin_dir])
    with pytest.raises(TypeError, match="'shfit' \\(did you mean 'shift'\\?\\)"):
        bench.create_method("toy-mean", plugins=[plugin_dir], shfit=1.0)


def test_two_plugins_claiming_a_name_are_refused(plugin_dir, tmp_path):
    other = write_plugin_folder(tmp_path / "other", suite=None)
    with pytest.raises(ValueError, match="two plugins claim the same name"):
        bench.create_method("toy-mean", plugins=[plugin_dir, other])


def test_load_task_default_split_named_split_and_missing_files(plugin_dir, tmp_path):
    kw = dict(data_dir=tmp_path / "data", cache_dir=tmp_path / "cache", plugins=[plugin_dir])
    task = bench.load_task("toy-reg", **kw)
    assert isinstance(task, bench.Task) and task.split.name == "fixed"
    assert list(task.split.test) == list(range(32, 40))
    assert list(bench.load_task("toy-reg", split="other", **kw).split.train) == list(range(8, 32))
    with pytest.raises(KeyError, match="has no split 'fixd' \\(did you mean 'fixed'\\?\\)"):
        bench.load_task("toy-reg", split="fixd", **kw)
    with pytest.raises(bench.FilesMissing, match="(?s)toyfiles/data.csv.*Download data.csv from"):
        bench.load_task("toy-files", **kw)


def test_run_one_records_what_bench_run_records(cli, plugin_dir, tmp_path):
    invoke, results = cli
    assert invoke("run", "--suite", "toy", "--methods", "toy-mean-shifted", "--datasets", "toy-reg",
                  "--format", "none").exit_code == 0
    (by_cli,) = [r for r in Store(results).records() if r.spec["seed"] == 1]
    sdk_results = tmp_path / "sdk-results"
    rec = bench.run_one("toy-mean-shifted", "toy-reg", seed=1, data_dir=tmp_path / "data",
                        cache_dir=tmp_path / "cache", plugins=[plugin_dir], results_dir=sdk_results)
    assert rec.status == "ok"
    expected_rmse = float(np.sqrt(np.mean((TOY_TEST_Y - (TOY_TRAIN_MEAN + 10.0)) ** 2)))
    assert rec.metrics["rmse"] == pytest.approx(expected_rmse)
    assert (rec.key, rec.spec_id) == (by_cli.key, by_cli.spec_id)
    stored = Store(sdk_results).get(rec.key)  # where `bench table --results-dir` reads it
    assert stored is not None
    for field in ("key", "spec_id", "spec", "metrics", "split", "dataset", "method", "threads", "overrides",
                  "status", "label", "error"):  # not `suite`: run_one runs no suite
        assert getattr(stored, field) == getattr(by_cli, field), field
    assert stored.command.startswith("bench.run_one('toy-mean-shifted', 'toy-reg'")


def test_run_one_params_failures_and_kinds(plugin_dir, tmp_path):
    kw = dict(data_dir=tmp_path / "data", cache_dir=tmp_path / "cache", plugins=[plugin_dir])
    rec = bench.run_one("toy-mean", "toy-reg", params={"shift": 5.0, "scale": None}, **kw)
    assert rec.spec["params"] == {"shift": 5.0, "scale": 1.0, "layers": (8,)}  # None never overrides
    assert rec.overrides == {"shift": 5.0}
    assert rec.metrics["mape"] == pytest.approx(np.mean(np.abs(TOY_TEST_Y - (TOY_TRAIN_MEAN + 5.0)) / TOY_TEST_Y))
    failed = bench.run_one("toy-boom", "toy-cls", **kw)  # a method that raises: a failed record, as in a suite
    assert failed.status == "failed" and "boom in fit" in failed.error
    with pytest.raises(ValueError, match="toy-majority supports classification; dataset toy-reg is regression"):
        bench.run_one("toy-majority", "toy-reg", **kw)
    with pytest.raises(TypeError, match="unknown parameter 'shfit'"):
        bench.run_one("toy-mean", "toy-reg", params={"shfit": 1.0}, **kw)
    with pytest.raises(bench.FilesMissing, match="Download data.csv"):
        bench.run_one("toy-mean", "toy-files", **kw)
