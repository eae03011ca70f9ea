"""A number does not depend on `--jobs` or the executor: every worker, inline run and Ray task sets
the same thread counts (torch, OpenMP, MKL, OpenBLAS) and records them, so deterministic CPU runs
give identical metrics under `--jobs 1`, `--jobs 2`, `--executor inline` and Ray."""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest

# with Ray: one local Ray at a time (conftest.SERIAL_GROUPS); the first test builds `outcomes`: 4 suite
# runs in subprocesses, minutes on a busy machine
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

SUITE = """
description = "determinism across executors"
seeds = [0]

[[datasets]]
name = "digits"

[[datasets]]
name = "movielens-sim"
split = "random"

[[methods]]
variant = "resnet-20"
params = { epochs = 1, batch_size = 64, augment = false, widths = [[4, 8, 8]] }  # every layer, few channels
datasets = ["digits"]

[[methods]]
variant = "mf"
params = { epochs = 2 }
datasets = ["movielens-sim"]
"""

SETTINGS = {
    "jobs-1": ["--jobs", "1"],
    "jobs-2": ["--jobs", "2"],
    "inline": ["--executor", "inline"],
    "ray": ["--executor", "ray"],
}


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    """Each setting's records: {run: (metrics, threads)}, from a fresh results folder each."""
    base = tmp_path_factory.mktemp("determinism")
    suite = base / "determinism.toml"
    suite.write_text(SUITE)
    env = {**os.environ, "BENCH_CACHE": str(base / "cache"), "BENCH_DISABLE_PLUGIN_AUTOLOAD": "1"}
    out = {}
    for name, args in SETTINGS.items():
        if name == "ray" and importlib.util.find_spec("ray") is None:
            continue
        results = base / name
        res = subprocess.run([sys.executable, "-m", "bench", "run", "--suite", str(suite), "--results-dir",
                              str(results), "--quiet", "--format", "none", *args],
                             env=env, capture_output=True, text=True, timeout=900)
        assert res.returncode == 0, f"{name}: {res.stderr[-3000:]}"
        recs = [json.loads(p.read_text()) for p in (results / "runs").glob("*.json")]
        out[name] = {f"{r['spec']['method']}/{r['spec']['dataset']}": (r["metrics"], r["threads"], r["key"])
                     for r in recs}
    return out


def test_every_setting_ran_both_runs(outcomes):
    for name, runs in outcomes.items():
        assert set(runs) == {"resnet-20/digits", "mf/movielens-sim"}, name


@pytest.mark.parametrize("setting", [s for s in SETTINGS if s != "jobs-1"])
def test_same_metrics_threads_and_key_as_one_worker(outcomes, setting):
    if setting not in outcomes:
        pytest.skip(f"{setting} is not available here (Ray not installed)")
    reference = outcomes["jobs-1"]
    for run, (metrics, threads, key) in outcomes[setting].items():
        ref_metrics, ref_threads, ref_key = reference[run]
        assert threads == ref_threads, f"{setting} {run}: {threads} threads vs {ref_threads}"
        assert metrics == ref_metrics, f"{setting} {run}: {metrics} vs {ref_metrics}"
        assert key == ref_key


def test_threads_are_recorded_and_default_to_the_available_cores(outcomes):
    cores = len(os.sched_getaffinity(0))
    for runs in outcomes.values():
        assert {threads for _, threads, _ in runs.values()} == {cores}


def test_apply_threads_sets_torch_and_blas_pools():
    torch = pytest.importorskip("torch")
    from threadpoolctl import threadpool_info

    from bench.core import environment as env

    before = torch.get_num_threads()
    try:
        with env.apply_threads(1):
            assert torch.get_num_threads() == 1
            assert all(p["num_threads"] == 1 for p in threadpool_info())
            assert os.environ["OMP_NUM_THREADS"] == "1"
    finally:
        torch.set_num_threads(before)


def test_threads_change_the_key_but_not_the_spec():
    from bench.core.spec import RunSpec

    s = RunSpec(suite="x", dataset="d", dataset_params=(), split="s", method="m", params=(), seed=0)
    assert s.key("fp", "m", "d", 1) != s.key("fp", "m", "d", 2)
    assert "threads" not in s.identity  # the table's row identity: threads are an environment, keyed
