"""`--executor ray`: the same run specs as Ray tasks on a local Ray instance started here; the
records come back to the same store. Without Ray, the option says how to install it."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from conftest import read_records

REPO = str(Path(__file__).resolve().parent.parent)


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": REPO}})  # the workers import this checkout's bench
    yield ray
    ray.shutdown()


@pytest.mark.slow
def test_ray_executor_records_every_run_in_the_store(local_ray, cli, write_suite):
    invoke, results = cli
    suite = write_suite('seeds = [0, 1]\n[[datasets]]\nname = "toy-reg"\nsplit = "fixed"\n'
                        '[[methods]]\nvariant = "toy-mean*"\n[[methods]]\nvariant = "toy-boom"\n')
    res = invoke("run", "--suite", str(suite), "--executor", "ray", "--format", "none")
    assert res.exit_code == 1, res.output  # toy-boom fails, on Ray as anywhere
    assert "6 runs: 4 ok, 2 failed" in res.output
    recs = read_records(results)
    assert sorted((r["spec"]["method"], r["spec"]["seed"], r["status"]) for r in recs) == [
        ("toy-boom", 0, "failed"), ("toy-boom", 1, "failed"), ("toy-mean", 0, "ok"), ("toy-mean", 1, "ok"),
        ("toy-mean-shifted", 0, "ok"), ("toy-mean-shifted", 1, "ok")]
    assert all(r["info"]["executor"] == "ray" for r in recs)
    boom = next(r for r in recs if r["spec"]["method"] == "toy-boom")
    assert boom["error"] == "RuntimeError: boom in fit"
    # the same store, the same keys: a local re-run finds them all
    res = invoke("run", "--suite", str(suite), "--format", "none", "--methods", "toy-mean*")
    assert res.exit_code == 0 and "4 runs: 4 cached" in res.output


def test_without_ray_the_option_says_how_to_install_it(cli, monkeypatch):
    invoke, results = cli
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a))
    res = invoke("run", "--suite", "toy", "--executor", "ray")
    assert res.exit_code == 2 and "pip install 'bench[ray]'" in res.output
    assert not results.exists()
