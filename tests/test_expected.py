"""`bench table --check`: a fresh run's numbers against the committed ones, with a readable diff
for moved numbers, changed statuses and runs that appeared or disappeared; `--write-expected`
regenerates. Also checks the committed smoke expectations against the committed smoke records."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run_toy(invoke):
    res = invoke("run", "--suite", "toy", "--format", "none")
    assert res.exit_code == 0, res.output


@pytest.mark.slow
def test_check_passes_then_fails_on_a_hand_edited_number_then_passes_after_regenerating(cli, tmp_path):
    invoke, _ = cli
    _run_toy(invoke)
    expected = tmp_path / "expected.json"
    res = invoke("table", "--suite", "toy", "--write-expected", "--against", str(expected))
    assert res.exit_code == 0 and "wrote" in res.output
    data = json.loads(expected.read_text())
    key = "toy-reg/fixed | toy-mean | seed 0"
    # train mean 111.5, test y = 132..139: MAPE = mean(|y - 111.5| / y)
    import numpy as np
    y = np.arange(132.0, 140.0)
    assert abs(data["runs"][key]["metrics"]["mape"] - np.mean(np.abs(y - 111.5) / y)) < 1e-12
    assert "fit_seconds" not in json.dumps(data)  # times are never compared

    res = invoke("table", "--suite", "toy", "--check", "--against", str(expected))
    assert res.exit_code == 0, res.output
    assert "all 12 runs match" in res.output

    data["runs"][key]["metrics"]["mape"] *= 1.001  # a hand-edited committed number
    expected.write_text(json.dumps(data))
    res = invoke("table", "--suite", "toy", "--check", "--against", str(expected))
    assert res.exit_code == 1
    assert "1 difference(s)" in res.output
    assert "CHANGED  toy-reg/fixed | toy-mean | seed 0" in res.output
    assert "mape: committed" in res.output and "> tolerance 1e-06" in res.output
    assert "bench table --suite toy --write-expected" in res.output  # how to regenerate

    assert invoke("table", "--suite", "toy", "--write-expected", "--against", str(expected)).exit_code == 0
    assert invoke("table", "--suite", "toy", "--check", "--against", str(expected)).exit_code == 0


def test_check_lists_added_removed_and_status_changes(cli, tmp_path, plugin_dir):
    invoke, results = cli
    _run_toy(invoke)
    expected = tmp_path / "expected.json"
    invoke("table", "--suite", "toy", "--write-expected", "--against", str(expected))
    data = json.loads(expected.read_text())
    data["runs"]["toy-reg/fixed | toy-gone | seed 0"] = {"label": "gone", "variant": "toy-gone",
                                                         "status": "ok", "metrics": {"mape": 0.1}}
    del data["runs"]["toy-cls/default | toy-majority | seed 1"]
    data["runs"]["toy-reg/fixed | toy-mean | seed 1"]["status"] = "failed"
    expected.write_text(json.dumps(data))
    res = invoke("table", "--suite", "toy", "--check", "--against", str(expected))
    assert res.exit_code == 1
    assert "REMOVED  toy-reg/fixed | toy-gone | seed 0" in res.output
    assert "ADDED    toy-cls/default | toy-majority | seed 1" in res.output
    assert "STATUS   toy-reg/fixed | toy-mean | seed 1" in res.output and "committed failed, now ok" in res.output


def test_suite_tolerance_loosens_one_metric(cli, tmp_path, plugin_dir):
    invoke, _ = cli
    _run_toy(invoke)
    expected = tmp_path / "expected.json"
    invoke("table", "--suite", "toy", "--write-expected", "--against", str(expected))
    data = json.loads(expected.read_text())
    data["runs"]["toy-reg/fixed | toy-mean | seed 0"]["metrics"]["mape"] *= 1.01
    expected.write_text(json.dumps(data))
    suite = (plugin_dir / "toy.toml").read_text()
    (plugin_dir / "toy.toml").write_text(suite + "\n[table.tolerance]\ntoy-mean = { mape = 0.05 }\n")
    res = invoke("table", "--suite", "toy", "--check", "--against", str(expected))
    assert res.exit_code == 0, res.output


def test_check_without_expected_file_says_how_to_write_it(cli, tmp_path):
    invoke, _ = cli
    res = invoke("table", "--suite", "toy", "--check", "--against", str(tmp_path / "none.json"))
    assert res.exit_code == 1 and "--write-expected" in res.output


def test_committed_smoke_expectations_match_the_committed_smoke_records(tmp_path):
    """The committed file is what `bench table --suite smoke --write-expected` makes of the
    committed records; a hand-edited number in a copy fails the check."""
    from click.testing import CliRunner

    from bench.cli.app import main

    committed = ROOT / "results" / "smoke" / "expected.json"
    assert committed.exists(), "regenerate: bench run --suite smoke && bench table --suite smoke --write-expected"
    args = ["table", "--suite", "smoke", "--results-dir", str(ROOT / "results"), "--check"]
    res = CliRunner().invoke(main, args + ["--against", str(committed)])
    assert res.exit_code == 0, res.output
    copy = tmp_path / "expected.json"
    data = json.loads(committed.read_text())
    run = next(r for r in data["runs"].values() if r["status"] == "ok")
    metric = sorted(run["metrics"])[0]
    run["metrics"][metric] += 0.01
    copy.write_text(json.dumps(data))
    res = CliRunner().invoke(main, args + ["--against", str(copy)])
    assert res.exit_code == 1 and "CHANGED" in res.output and f"{metric}: committed" in res.output


def _seeded(values, column=""):
    from bench.core.spec import RunRecord, RunSpec

    out = []
    for seed, v in enumerate(values):
        spec = RunSpec(suite="s", dataset="d", dataset_params=(), split="p", method="net", params=(),
                       seed=seed, label="net", column=column)
        out.append((spec, RunRecord(key=str(seed), spec_id="x", spec={}, status="ok", metrics={"mape": v})))
    return out


def test_seed_tolerance_is_the_spread_of_the_rows_seeds_and_one_seed_justifies_none():
    from bench.report import tolerances

    spread = tolerances.from_seeds(_seeded([0.100, 0.101, 0.102]) + _seeded([0.2], column="with EE"))
    (row,) = spread  # the one-seed row has no spread to justify a tolerance
    # std of 0.100, 0.101, 0.102 (ddof 1) = 0.001; 3 std / mean = 0.003 / 0.101
    assert spread[row]["mape"] == pytest.approx(0.003 / 0.101, abs=1e-6)
    (wide,) = tolerances.from_seeds(_seeded([0.10, 0.11, 0.12])).values()  # 0.03 / 0.11 = 27 %
    assert wide["mape"] == tolerances.CAP  # capped: a row with a wild seed stays checkable


def test_check_uses_the_committed_seed_spread_then_the_suites_own_setting():
    from bench.report import expected
    from bench.run.suite import Suite

    entry = {"label": "net", "variant": "net", "status": "ok", "metrics": {"mape": 0.1}}
    committed = {"runs": {"r": {**entry, "seed_rtol": {"mape": 0.05}}}}
    from bench.run.suite import TableLayout

    suite = Suite("s", Path("s.toml"), "", [0, 1, 2], [{"name": "d"}], [{"variant": "net"}], TableLayout())
    near = {"runs": {"r": {**entry, "metrics": {"mape": 0.104}}}}  # 4 % off: inside 5 %
    far = {"runs": {"r": {**entry, "metrics": {"mape": 0.107}}}}   # 7 % off: outside
    assert expected.compare(committed, near, suite) == []
    assert [d.kind for d in expected.compare(committed, far, suite)] == ["changed"]
    # without a seed spread the metric's own tolerance (1e-6) holds
    bare = {"runs": {"r": entry}}
    assert [d.kind for d in expected.compare(bare, near, suite)] == ["changed"]
    suite.table.tolerance = {"net": {"mape": 0.1}}  # the suite's own word wins
    assert expected.compare(committed, far, suite) == []
