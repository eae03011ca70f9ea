"""`bench perf cli`'s measurements: real child processes, failures reported, figures that mean it."""
from __future__ import annotations

import pytest

from bench.perf import startup


@pytest.fixture
def modules(tmp_path, monkeypatch):
    """Tiny modules to run with ``python -m``: one that touches 200 MB, one whose child does."""
    (tmp_path / "takes_200mb.py").write_text("x = bytearray(200 * 2**20)\nx[::4096] = b'1' * len(range(0, len(x), 4096))\n")
    (tmp_path / "child_takes_300mb.py").write_text(
        "import subprocess, sys\nsubprocess.run([sys.executable, '-c', 'x = b\"1\" * (300 * 2**20)'], check=True)\n")
    (tmp_path / "fails.py").write_text("import sys\nsys.exit(3)\n")
    (tmp_path / "nothing.py").write_text("")
    return tmp_path


def test_command_cost_sees_the_memory_a_process_takes(modules):
    small = startup.command_cost([], 1, module="nothing", cwd=modules)
    big = startup.command_cost([], 1, module="takes_200mb", cwd=modules)
    assert big["peak_mb"] - small["peak_mb"] > 150  # the 200 MB it touched
    assert small["peak_mb"] < 100 and small["wall_s"] > 0  # not the forked copy of this pytest process


def test_a_process_is_measured_without_its_children(modules):
    assert startup.command_cost([], 1, module="child_takes_300mb", cwd=modules)["peak_mb"] < 100


def test_a_failing_command_is_an_error_naming_it(modules):
    with pytest.raises(RuntimeError, match="python -m fails exited with 3"):
        startup.command_cost([], 1, module="fails", cwd=modules)


def test_harness_overhead_runs_every_tiny_run():
    got = startup.harness_overhead(3)
    assert got["runs"] == 3 and got["wall_s"] > 0 and got["per_run_s"] > 0
