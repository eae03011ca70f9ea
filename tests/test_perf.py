"""`bench perf tabular` machinery on tiny embedded data: every section runs and the one-hot
implementations agree. (Speed itself is measured by the command, never asserted in tests.)"""
from __future__ import annotations

import math

import pytest
import torch

from bench.perf.tabular import run_tabular
from bench.plugins.registry import discover
from bench.run.execute import load_task
from bench.core.spec import RunSpec


def test_perf_sections_on_rossmann_sim(tmp_path):
    torch.set_num_threads(1)
    reg = discover(entry_points=False)
    spec = RunSpec(suite="", dataset="rossmann-sim", dataset_params=(),
                   split="paper", method="", params=(), seed=0)
    task = load_task(reg, spec, tmp_path / "data", tmp_path / "cache")
    lines: list[str] = []
    rows = run_tabular(reg, task, device="cpu", batches=[64], rows=512, trials=1, peer=False, onehot_steps=3,
                       echo=lines.append)
    by = {r["section"]: r for r in rows}
    assert set(by) == {"loop overhead (ee)", "vs DataLoader loop", "one-hot mlp layer"}
    assert by["one-hot mlp layer"]["outputs_equal"] is True
    assert by["one-hot mlp layer"]["max_abs_diff"] < 1e-4
    assert by["vs DataLoader loop"]["core_sps"] > 0 and by["vs DataLoader loop"]["dataloader_sps"] > 0
    assert by["loop overhead (ee)"]["bare_sps"] > 0
    assert lines[0].startswith("rossmann-sim/paper: 512 train rows")


@pytest.mark.slow
def test_perf_harness_command_on_the_toy_suite(cli):
    invoke, _ = cli
    res = invoke("perf", "harness", "--suite", "toy", "--settings", "inline,1,2")
    assert res.exit_code == 0, res.output
    lines = [line for line in res.output.splitlines() if " runs  wall " in line]
    assert [line.split(" 6 runs  wall ")[0].strip() for line in lines] == [
        "in-process (no isolation)", "workers, --jobs 1", "workers, --jobs 2"]
    assert all("(12 runs: 6 ok, 6 n/a)" in line for line in lines)
    ratios = [float(line.split("ratio ")[1].split()[0]) for line in lines]  # toy fits take ~0 s: nan is fine
    # wall / (fit + predict): in-process, the wall time holds the plugin time, so never below 1
    assert math.isnan(ratios[0]) or ratios[0] >= 1.0
    assert all(math.isnan(r) or r > 0 for r in ratios)
    res = invoke("perf", "harness", "--suite", "toy", "--settings", "two")
    assert res.exit_code == 2 and "neither 'inline' nor a number" in res.output


def test_time_to_a_quality_is_the_first_epoch_at_or_below_it():
    from bench.perf.tabular import peer_comparison, time_to

    curve = [(10.0, 0.20), (20.0, 0.12), (30.0, 0.13), (40.0, 0.10)]
    assert time_to(curve, 0.13) == 20.0 and time_to(curve, 0.10) == 40.0 and time_to(curve, 0.05) is None
    peer = {"best_valid_mape": 0.12, "curve": [(50.0, 0.15), (100.0, 0.12)], "mape": 0.2}
    c = peer_comparison({"curve": curve, "mape": 0.1}, peer)
    assert (c["bench_s_to_it"], c["peer_s_to_it"], c["time_ratio"], c["mape_ratio"]) == (20.0, 100.0, 0.2, 0.5)
    never = peer_comparison({"curve": [(5.0, 0.3)], "mape": 0.3}, peer)
    assert never["bench_s_to_it"] is None and never["time_ratio"] is None


def test_bench_side_of_the_peer_race_stamps_every_epoch_from_the_start_of_fit(tmp_path):
    from bench.perf.tabular import bench_ee

    torch.set_num_threads(1)
    reg = discover(entry_points=False)
    task = load_task(reg, RunSpec(suite="", dataset="rossmann-sim", dataset_params=(), split="paper", method="",
                                  params=(), seed=0), tmp_path / "data", tmp_path / "cache")
    r = bench_ee(reg, task, "ee", "cpu", {"epochs": 3, "hidden": (16, 16), "patience": None})
    walls = [t for t, _ in r["curve"]]
    assert len(walls) == 3 == r["epochs"] and walls == sorted(walls) and 0 < walls[-1] <= r["fit_s"]
    assert r["best_valid_mape"] == min(v for _, v in r["curve"])
