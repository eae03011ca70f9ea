"""scripts/gpu_vision.py end to end on a tiny image folder, on the CPU, with click, tqdm and
platformdirs blocked (the GPU machine has none of them): prepare writes verified parts, run
trains resnet-fast and the depth networks through the runner and leaves records that the
suite file it writes finds again."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from bench.plugins.registry import discover, load_file
from bench.results.store import Store
from bench.run.suite import load_suite
from bench.report.table import latest_records
from conftest import run_gpu_script

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = load_file(ROOT / "scripts" / "gpu_vision.py")


def _script(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return run_gpu_script("gpu_vision.py", *args, cwd=cwd, timeout=600)


def test_parts_round_trip_and_refuse_a_changed_part(tmp_path):
    a = {"train_x": np.arange(5000, dtype=np.uint8).reshape(50, 10, 10, 1), "train_y": np.arange(50),
         "test_x": np.zeros((3, 10, 10, 1), np.uint8), "test_y": np.arange(3)}
    SCRIPT.write_parts(a, tmp_path, part_mib=0.005)  # 5 KiB parts: several per array
    assert len(list(tmp_path.glob("train_x-*.npy"))) > 1
    assert all(p.stat().st_size <= 0.005 * (1 << 20) for p in tmp_path.glob("*.npy"))
    back = SCRIPT.read_parts(tmp_path)
    for name, got in zip(SCRIPT.ARRAYS, back):
        np.testing.assert_array_equal(got, a[name])
    part = tmp_path / "train_x-001.npy"
    part.write_bytes(part.read_bytes()[:-1] + b"\x07")
    with pytest.raises(SystemExit, match="sha256"):
        SCRIPT.read_parts(tmp_path)


@pytest.mark.slow
def test_prepare_and_run_without_click_tqdm_platformdirs(tmp_path, bench_cmd):
    from PIL import Image

    rng = np.random.default_rng(0)
    src = tmp_path / "cifar10"
    for part, n in (("train", 3), ("test", 1)):
        for cls in ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"):
            (src / part / cls).mkdir(parents=True)
            for i in range(n):
                Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(src / part / cls / f"{i}.png")
    parts, results = tmp_path / "parts", tmp_path / "out"
    prep = _script("prepare", "--from", str(src), "--out", str(parts), cwd=tmp_path)
    assert prep.returncode == 0, prep.stderr
    assert json.loads((parts / "manifest.json").read_text())["arrays"]["train_x"]["shape"] == [30, 32, 32, 3]

    run = _script("run", "--parts", str(parts), "--results", str(results), "--budget", "10",
                  "--valid-size", "10", "--train-per-class", "2", "--fast-epochs", "1",
                  "--fast-widths", "4,4,4,4", "--depth-variants", "resnet-20", cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    report = (results / "report.md").read_text()
    assert "images/s" in report and "did not reach 94%" in report and "accuracy reached" in report
    assert "Shortened schedule" in report and "| resnet-20 |" in report and "one-epoch probes" in report
    assert "device `cpu`" in report
    # the records are bench's own, found again through the suite file the script wrote
    suite = load_suite(results / "gpu-vision.toml")
    recs = latest_records(suite, discover(entry_points=False), Store(results))
    assert sorted(r.spec["method"] for r in recs) == ["resnet-20", "resnet-fast"]
    depth = [r for r in recs if r.spec["method"] != "resnet-fast"]
    assert all(r.history and "train_error" in r.history[0] and "valid_accuracy" in r.history[0] for r in depth)
    assert all(r.split["sizes"] == {"train": 20, "valid": 10, "test": 10} for r in recs)
    # and back on a workstation: the Fig. 1-like curves and the error table from those records
    res = bench_cmd(["plot", "depth", "--suite", str(results / "gpu-vision.toml"),
                     "--results-dir", str(results), "--out", str(tmp_path / "fig1.png")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "fig1.png").read_bytes()[:4] == b"\x89PNG"
    assert "| resnet-20 | " in (tmp_path / "depth-errors.md").read_text()
