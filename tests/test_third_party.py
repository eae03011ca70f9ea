"""A third-party plugin package: built as a wheel, pip-installed (no network), declaring a method
and a dataset through the `bench.methods` / `bench.datasets` entry points; bench lists, checks,
runs and tables it, and the package's own tests run bench's contract checks on its plugins with
`bench.testing.parametrize_with_checks`."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bench.plugins.checks import CHECK_NAMES
from bench.plugins.dataset_checks import DATASET_CHECK_NAMES

ROOT = Path(__file__).resolve().parents[1]

PYPROJECT = """
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "bench-tiny-plugin"
version = "0.3.0"
description = "a nearest-centroid classifier for bench"

[project.entry-points."bench.methods"]
tiny = "bench_tiny_plugin:NearestCentroid"

[project.entry-points."bench.datasets"]
blobs = "bench_tiny_plugin:TinyBlobs"

[tool.hatch.build.targets.wheel]
packages = ["bench_tiny_plugin"]
"""

MODULE = '''
"""Nearest class centroid on standardized columns: a tiny third-party bench method."""
import numpy as np
import pandas as pd

from bench import Dataset, Method, NotFittedError, Schema, Split, Task


class NearestCentroid(Method):
    name = "tiny-centroid"
    kinds = ("classification",)
    defaults = {"shrink": 0.0}

    def fit(self, train, valid, ctx):
        X = np.asarray(train.X, dtype=np.float64)
        self.mean_, self.scale_ = X.mean(axis=0), X.std(axis=0) + 1e-12
        Z = (X - self.mean_) / self.scale_
        self.classes_ = np.unique(train.y)
        self.centroids_ = np.stack([Z[train.y == c].mean(axis=0) for c in self.classes_])
        self.centroids_ *= 1.0 - self.params["shrink"]
        return self

    def predict(self, data):
        if not hasattr(self, "centroids_"):
            raise NotFittedError("tiny-centroid: predict before fit")
        Z = (np.asarray(data.X, dtype=np.float64) - self.mean_) / self.scale_
        d = ((Z[:, None, :] - self.centroids_[None]) ** 2).sum(axis=2)
        return self.classes_[d.argmin(axis=1)]


class TinyBlobs(Dataset):
    name = "tiny-blobs"
    kind = "classification"
    target = "label"
    metrics = ("accuracy",)
    splits = ("random",)
    seeded_splits = ("random",)
    embedded = synthetic = True

    def load(self, split, ctx):
        split = self.check_split(split)
        rng = np.random.default_rng(7)
        y = np.repeat([0, 1], 100)
        X = pd.DataFrame(rng.normal(size=(200, 2)) + 3.0 * y[:, None], columns=["x1", "x2"])
        order = np.random.default_rng(self.split_seed_for(split, ctx)).permutation(200)
        parts = [np.sort(order[a:b]) for a, b in ((0, 120), (120, 160), (160, 200))]
        return Task(self.name, self.kind, self.target, self.metrics, Schema(continuous=("x1", "x2"), n_classes=2),
                    X, y, Split(split, *parts), synthetic=True)
'''

# the package's own tests: bench's contract checks on its plugins, one pytest case per check
PACKAGE_TEST = '''
import bench
from bench.testing import parametrize_with_checks

from bench_tiny_plugin import NearestCentroid, TinyBlobs


@parametrize_with_checks(methods=[NearestCentroid], datasets=[TinyBlobs])
def test_bench_contract(plugin, check):
    check(plugin)


def test_registered_through_the_entry_points():
    assert bench.list_methods("tiny-*") == ["tiny-centroid"]
    assert {"breast-cancer", "tiny-blobs"} <= set(bench.list_datasets(kind="classification"))
    assert "tiny-blobs" not in bench.list_datasets(kind="regression")
'''

SUITE = """
description = "a third-party method against KNN"
seeds = [0]

[[datasets]]
name = "breast-cancer"

[[methods]]
variant = "tiny-centroid"

[[methods]]
variant = "knn"
"""

DRIVER = """
import sys
from click.testing import CliRunner
from bench.cli.app import main

for argv in (["list", "methods"], ["check", "tiny-centroid"], ["run", "--suite", sys.argv[1], "--results-dir",
             sys.argv[2], "--device", "cpu", "--quiet", "--format", "none"],
             ["table", "--suite", sys.argv[1], "--results-dir", sys.argv[2]]):
    res = CliRunner().invoke(main, argv)
    print(f"=== {argv[0]} exit {res.exit_code}")
    print(res.output)
"""


@pytest.mark.slow
def test_pip_installed_entry_point_plugin_is_listed_checked_run_and_tabled(tmp_path):
    pytest.importorskip("hatchling")
    pkg = tmp_path / "pkg"
    (pkg / "bench_tiny_plugin").mkdir(parents=True)
    (pkg / "pyproject.toml").write_text(textwrap.dedent(PYPROJECT))
    (pkg / "bench_tiny_plugin" / "__init__.py").write_text(textwrap.dedent(MODULE))
    wheels, site = tmp_path / "wheels", tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(pip + ["wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(wheels), str(pkg)],
                   check=True, capture_output=True)
    (whl,) = wheels.glob("bench_tiny_plugin-0.3.0-*.whl")
    subprocess.run(pip + ["install", "--no-deps", "--no-index", "--target", str(site), str(whl)],
                   check=True, capture_output=True)
    assert (site / "bench_tiny_plugin-0.3.0.dist-info" / "entry_points.txt").exists()

    suite = tmp_path / "third.toml"
    suite.write_text(textwrap.dedent(SUITE))
    env = {k: v for k, v in os.environ.items() if k != "BENCH_DISABLE_PLUGIN_AUTOLOAD"}
    env.update(PYTHONPATH=os.pathsep.join([str(site), str(ROOT)]), BENCH_CACHE=str(tmp_path / "cache"),
               BENCH_DATA=str(tmp_path / "data"))
    res = subprocess.run([sys.executable, "-c", DRIVER, str(suite), str(tmp_path / "results")], cwd=tmp_path,
                         env=env, capture_output=True, text=True)
    out = res.stdout
    assert res.returncode == 0, res.stderr
    listing = out.split("=== list exit 0", 1)[1].split("===", 1)[0]
    line = next(l for l in listing.splitlines() if l.startswith("tiny-centroid"))
    assert "classification" in line and "bench-tiny-plugin 0.3.0" in line
    assert "=== check exit 0" in out and "PASS tiny-centroid [classification] determinism" in out
    assert "tiny-centroid: all checks passed" in out
    assert "=== run exit 0" in out
    table = out.split("=== table exit 0", 1)[1]
    row = next(l for l in table.splitlines() if l.startswith("| tiny-centroid"))
    import re

    accuracy = float(re.search(r"\| tiny-centroid +\| \**(\d\.\d{4})", row).group(1))
    assert 0.85 < accuracy <= 1.0, row  # nearest centroid separates breast-cancer well; a gap would fail

    # the package's own test file, under pytest, against the installed package
    (pkg / "tests").mkdir()
    (pkg / "tests" / "test_bench_contract.py").write_text(textwrap.dedent(PACKAGE_TEST))
    res = subprocess.run([sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", "tests"], cwd=pkg,
                         env=env, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]
    for case in ("tiny-centroid-card", "tiny-centroid-predict-shape", "tiny-centroid-determinism",
                 "tiny-blobs-card", "tiny-blobs-split-parts", "tiny-blobs-split-seed"):
        assert f"test_bench_contract[{case}] PASSED" in res.stdout, res.stdout[-3000:]
    n_checks = 1 + len(CHECK_NAMES) + len(DATASET_CHECK_NAMES)  # one kind, one seeded split
    assert f"{n_checks + 1} passed" in res.stdout, res.stdout[-1500:]
