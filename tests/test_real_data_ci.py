"""The real-data workflow (.github/workflows/real-data.yml -> .ci/real-data): every suite it
regenerates has committed expectations that its committed records pass, and a suite whose data
files are missing is skipped by name, not failed and not run on nothing."""
from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / ".ci" / "real-data"


def _default_suites() -> list[str]:
    match = re.search(r'SUITES="\$\{SUITES:-([^}]*)\}"', SCRIPT.read_text())
    assert match, "no default SUITES line in .ci/real-data"
    return match.group(1).split()


def _expected_path(suite: str) -> Path:
    results = ROOT / "results" / ("vision" if suite.startswith("vision") else "")
    return results / suite / "expected.json"


def test_the_workflow_runs_the_script_by_hand_and_on_a_schedule():
    yaml = pytest.importorskip("yaml")
    flow = yaml.safe_load((ROOT / ".github" / "workflows" / "real-data.yml").read_text())
    triggers = flow[True] if True in flow else flow["on"]  # YAML 1.1 reads `on` as true
    assert "workflow_dispatch" in triggers and triggers["schedule"]
    steps = flow["jobs"]["regenerate"]["steps"]
    assert any(s.get("run") == "bash .ci/real-data" for s in steps)
    assert "self-hosted" in flow["jobs"]["regenerate"]["runs-on"]


@pytest.mark.parametrize("suite", _default_suites())
def test_every_regenerated_suite_has_expectations_its_records_pass(suite):
    path = _expected_path(suite)
    assert path.is_file(), f"{path} missing: bench table --suite {suite} --write-expected"
    runs = json.loads(path.read_text())["runs"]
    # a suite still being regenerated (bench run resumes) may have runs not recorded yet: "missing"
    assert any(r["status"] == "ok" for r in runs.values())
    assert all(r["status"] in ("ok", "n/a", "missing") for r in runs.values())
    results = path.parents[1]
    res = subprocess.run([str(ROOT / ".venv" / "bin" / "bench"), "table", "--suite", suite, "--check",
                          "--results-dir", str(results), "--against", str(path)],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr


def test_a_suite_without_its_data_is_skipped_by_name(tmp_path):
    if not (ROOT / ".venv" / ".installed").exists():
        pytest.skip("the script installs through `make venv`; run from a checkout made by `make test`")
    env = {**os.environ, "BENCH_DATA": str(tmp_path), "SUITES": "tabular", "BENCH_CACHE": str(tmp_path / "c"),
           "BENCH_RESULTS": ""}
    res = subprocess.run(["bash", str(SCRIPT)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert "== tabular: skipped, data files missing" in res.stdout and "knn on rossmann/paper" in res.stdout
    assert res.returncode == 1 and "no suite had its data" in res.stderr  # nothing ran: not a pass
    res = subprocess.run(["bash", str(SCRIPT)], cwd=ROOT, env={**env, "BENCH_DATA": str(tmp_path / "nope")},
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and "is not a folder" in res.stderr
    env.pop("BENCH_DATA")
    res = subprocess.run(["bash", str(SCRIPT)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert res.returncode != 0 and "BENCH_DATA" in res.stderr
