"""A non-editable install (a wheel) still finds the built-in plugins, datasets and suites, and
never makes `plugins` or `datasets` importable."""
from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # builds and installs a wheel

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    pytest.importorskip("hatchling")
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(out), str(ROOT)], check=True, capture_output=True)
    (whl,) = out.glob("bench-*.whl")
    return whl


def test_wheel_ships_builtin_plugins_outside_the_package(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert "_bench_builtin/plugins/knn.py" in names
    # a plugin package ships whole: its __init__ and its modules, never compiled leftovers
    assert {"_bench_builtin/datasets/rossmann/__init__.py", "_bench_builtin/datasets/rossmann/read.py",
            "_bench_builtin/datasets/movielens/splits.py", "_bench_builtin/datasets/cifar10/split.py"} <= set(names)
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert "_bench_builtin/suites/smoke.toml" in names
    assert {"bench/plugins/templates/method.py.tmpl", "bench/plugins/templates/dataset.py.tmpl",
            "bench/plugins/templates/suite.toml.tmpl"} <= set(names)  # `bench new` works from a wheel
    assert not any(n.startswith(("plugins/", "datasets/")) for n in names)


def test_installed_wheel_discovers_builtins(wheel, tmp_path):
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
                   check=True, capture_output=True)
    code = (
        "import bench, importlib.util\n"
        "from bench.plugins.registry import discover, builtin_root\n"
        "r = discover(entry_points=False)\n"
        "print(bench.__file__)\n"
        "print(builtin_root())\n"
        "print(sorted(r.methods)); print(sorted(r.datasets)); print(sorted(r.suites))\n"
        "print(importlib.util.find_spec('datasets'), importlib.util.find_spec('plugins'))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    res = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    file, root, methods, datasets, suites, specs = res.stdout.strip().splitlines()
    assert file.startswith(str(site)), file
    assert root == str(site / "_bench_builtin")
    assert "'knn'" in methods and "'xgboost'" in methods
    assert "'rossmann'" in datasets and "'rossmann-sim'" in datasets
    assert "'movielens'" in datasets and "'cifar10'" in datasets  # packages, found in the wheel too
    assert "'smoke'" in suites
    assert specs == "None None"
