"""`bench perf cli`'s measurements: real child processes, failures reported, figures that mean it."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

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


def test_auto_device_without_gpu_files_does_not_import_torch():
    code = ("import sys; from bench.core import environment as e; e.gpu_device_files = lambda: False; "
            "print(e.resolve_device('auto'), 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["cpu", "False"]


def test_the_parent_of_bench_run_and_bench_table_never_import_torch_for_tree_baselines(tmp_path):
    """Runs of knn on the embedded breast-cancer table in worker processes, then the table: the
    parent process imports neither torch nor pandas (its workers do what the runs need)."""
    (tmp_path / "plug").mkdir()
    (tmp_path / "plug" / "tiny.toml").write_text(
        'seeds = [0]\n[[datasets]]\nname = "breast-cancer"\n[[methods]]\nvariant = "knn"\n')
    code = textwrap.dedent(f"""
        import sys
        from bench.core import environment
        environment.gpu_device_files = lambda: False  # as on a machine without a GPU
        from bench.cli.app import main
        for argv in (["run", "--suite", "tiny", "--quiet"], ["table", "--suite", "tiny"]):
            try:
                main(argv + ["--plugins", {str(tmp_path / "plug")!r}, "--results-dir", {str(tmp_path / "results")!r}],
                     standalone_mode=False)
            except SystemExit as e:
                assert not e.code, e.code
        print("HEAVY", sorted(m for m in ("torch", "pandas", "sklearn") if m in sys.modules))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                         env={**os.environ, "BENCH_CACHE": str(tmp_path / "cache")})
    assert out.returncode == 0, out.stderr[-3000:]
    assert "HEAVY []" in out.stdout, out.stdout[-2000:]
