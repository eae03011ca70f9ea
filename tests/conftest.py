"""Shared fixtures for the harness-core tests: a tiny plugin folder with fast toy methods and
toy datasets, and a suite file using them. Nothing here needs downloaded data."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

WORKER_THREADS: dict[str, str] = {}  # under xdist: the thread variables this file set
if os.environ.get("PYTEST_XDIST_WORKER"):
    # `make test` runs one worker per core: each worker's OpenMP / BLAS / torch pools take one
    # thread (read when numpy, torch, xgboost load, so set before they do), or the workers'
    # pools wait on each other and small fits get many times slower. A value set outside wins.
    for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        WORKER_THREADS[_var] = os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

TOY_METHODS = '''
"""Toy methods for the harness tests: fast, deterministic, some deliberately broken."""
import numpy as np

from bench import Method


class MeanRegressor(Method):
    name = "toy-mean"
    kinds = ("regression",)
    defaults = {"shift": 0.0, "scale": 1.0, "layers": (8,)}
    variants = {"toy-mean": {}, "toy-mean-shifted": {"shift": 10.0}}

    def fit(self, train, valid, ctx):
        self.mean_ = float(np.mean(train.y))
        return self

    def predict(self, data):
        return np.full(len(data), (self.mean_ + self.params["shift"]) * self.params["scale"])


class Majority(Method):
    name = "toy-majority"
    kinds = ("classification",)

    def fit(self, train, valid, ctx):
        values, counts = np.unique(train.y, return_counts=True)
        self.label_ = values[np.argmax(counts)]
        return self

    def predict(self, data):
        return np.full(len(data), self.label_)


class Boom(Method):
    name = "toy-boom"
    kinds = ("regression", "classification")

    def fit(self, train, valid, ctx):
        raise RuntimeError("boom in fit")

    def predict(self, data):
        raise AssertionError("never reached")


class NaNs(Method):
    name = "toy-nan"
    kinds = ("regression",)

    def fit(self, train, valid, ctx):
        return self

    def predict(self, data):
        out = np.ones(len(data))
        out[0] = np.nan
        return out


class TooShort(Method):
    name = "toy-short"
    kinds = ("regression",)

    def fit(self, train, valid, ctx):
        return self

    def predict(self, data):
        return np.ones(len(data) - 1)
'''

TOY_DATASETS = '''
"""Toy datasets for the harness tests: generated in code, plus one whose files never exist."""
import numpy as np
import pandas as pd

from bench import Dataset, FilesMissing, Schema, Split, Task


class ToyRegression(Dataset):
    name = "toy-reg"
    kind = "regression"
    target = "y"
    metrics = ("mape", "rmse")
    splits = ("fixed", "other")
    embedded = True
    synthetic = True

    def load(self, split, ctx):
        split = self.check_split(split)
        X = pd.DataFrame({"a": np.arange(40, dtype=np.float64), "b": np.arange(40) % 3})
        y = 100.0 + np.arange(40, dtype=np.float64)
        if split == "fixed":
            parts = np.arange(0, 24), np.arange(24, 32), np.arange(32, 40)
        else:
            parts = np.arange(8, 32), np.arange(0, 8), np.arange(32, 40)
        return Task(dataset=self.name, kind=self.kind, target=self.target, metrics=self.metrics,
                    schema=Schema(categorical={"b": 3}, continuous=("a",)), X=X, y=y,
                    split=Split(split, *parts), synthetic=True)


class ToyClassification(Dataset):
    name = "toy-cls"
    kind = "classification"
    target = "label"
    metrics = ("accuracy",)
    embedded = True
    synthetic = True

    def load(self, split, ctx):
        split = self.check_split(split)
        X = pd.DataFrame({"a": np.arange(20, dtype=np.float64)})
        y = np.array([0, 0, 0, 1] * 5, dtype=np.int64)
        parts = np.arange(0, 12), np.arange(12, 16), np.arange(16, 20)
        return Task(dataset=self.name, kind=self.kind, target=self.target, metrics=self.metrics,
                    schema=Schema(continuous=("a",), n_classes=2), X=X, y=y,
                    split=Split(split, *parts), synthetic=True)


class ToyNeedsFiles(Dataset):
    name = "toy-files"
    kind = "regression"
    target = "y"
    metrics = ("mape",)
    folder = "toyfiles"
    files = ("data.csv",)
    how_to_get = "Download data.csv from https://example.org/toy and unpack it."

    def load(self, split, ctx):
        self.require_files(ctx.data_dir)
        raise AssertionError("the files never exist in these tests")
'''

TOY_SUITE = '''
description = "toy suite for the harness tests"
seeds = [0, 1]

[[datasets]]
name = "toy-reg"
split = "fixed"

[[datasets]]
name = "toy-cls"

[[methods]]
variant = "toy-mean*"

[[methods]]
variant = "toy-majority"
label = "majority vote"

[table]
title = "toy table"
'''

# What the toy methods score on toy-reg/fixed, written out by hand:
# train y = 100..123 -> mean 111.5; test y = 132..139.
TOY_TRAIN_MEAN = 111.5
TOY_TEST_Y = np.arange(132.0, 140.0)


def read_records(results: Path) -> list[dict]:
    """The record dicts under ``results/runs``, in file-name (key) order."""
    import json

    return [json.loads(p.read_text()) for p in sorted((results / "runs").glob("*.json"))]


def run_records(results: Path, key: str = "{method}/{dataset}") -> dict[str, dict]:
    """{key: record dict} for the records under ``results/runs``; ``key`` is formatted with
    each record's spec (e.g. ``"{method}/{dataset} {seed}"``)."""
    return {key.format(**d["spec"]): d for d in read_records(results)}


def write_plugin_folder(folder: Path, suite: str | None = TOY_SUITE) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "toy_methods.py").write_text(textwrap.dedent(TOY_METHODS))
    (folder / "toy_datasets.py").write_text(textwrap.dedent(TOY_DATASETS))
    if suite is not None:
        (folder / "toy.toml").write_text(textwrap.dedent(suite))
    return folder


# Test files that share one resource across files and must never run side by side under
# `make test`: each group is one xdist work unit (one worker runs its files one after another).
SERIAL_GROUPS = {"ray": ("test_ray.py", "test_ray_cluster.py", "test_determinism.py")}  # one local Ray


def xdist_unit(nodeid: str) -> str:
    """The unit of work one xdist worker runs whole, in order: a test file (its module fixtures
    are built once), a group of SERIAL_GROUPS, or in test_conformance one plugin variant and kind
    (its checks share one reference fit, and the many variants spread over the workers)."""
    path, _, name = nodeid.partition("::")
    if nodeid.rfind("@") > nodeid.rfind("]"):  # an xdist_group mark, once xdist can name it again
        return nodeid.rsplit("@", 1)[1]
    file = path.rsplit("/", 1)[-1]
    group = next((g for g, files in SERIAL_GROUPS.items() if file in files), None)
    if group is not None:
        return group
    if file == "test_conformance.py" and name.startswith("test_contract["):
        from bench.plugins.checks import CHECK_NAMES

        case = name[len("test_contract["):-1]  # "<variant>-<kind>-<check>"
        check = next((c for c in CHECK_NAMES if case.endswith("-" + c)), None)
        if check is not None:
            return f"{path}::{case[:-len(check) - 1]}"
    return path


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """`--dist loadgroup` (make test) distributes the units of `xdist_unit`. Not xdist's own
    loadgroup: with pytest 9.2 it silently ignores xdist_group marks (pytest-xdist issue #1386)."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ByUnit(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return xdist_unit(nodeid)

    return ByUnit(config, log)


@pytest.fixture(autouse=True)
def _worker_threads_stay_one():
    """An in-process `bench run` sets torch's threads and the thread variables to the machine's
    cores, as a real run does, and leaves them: under xdist, put one thread back for the next test."""
    yield
    if WORKER_THREADS:
        import sys

        os.environ.update(WORKER_THREADS)
        torch = sys.modules.get("torch")
        if torch is not None and torch.get_num_threads() != 1:
            torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def artifact_key(tmp_path_factory, monkeypatch) -> Path:
    """Each test signs cached artifacts with its own key, made in a private tmp folder outside
    every cache folder (never the user's real key in ~/.config)."""
    path = tmp_path_factory.mktemp("key") / "artifact.key"
    monkeypatch.setenv("BENCH_KEY_FILE", str(path))
    return path


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    """BENCH_CACHE: a private folder for the session. Every `bench` command scans the plugins
    through bench.plugins.probe, which keeps its verdicts there even when a test points BENCH_CACHE
    elsewhere: each plugin file (by content) is probed once a session, not once a test."""
    import bench.plugins.probe

    cache = tmp_path_factory.mktemp("bench-cache")
    mp = pytest.MonkeyPatch()
    mp.setenv("BENCH_CACHE", str(cache))
    mp.setattr(bench.plugins.probe, "default_cache_root", lambda: cache)
    yield
    mp.undo()


@pytest.fixture
def builtin_dir(tmp_path: Path, monkeypatch) -> Path:
    """An empty stand-in for the built-in plugins/, datasets/ and suites/ folders.

    The harness tests do not depend on the shipped plugins (written and tested elsewhere, and
    some import torch, which takes seconds); test_registry checks the real folders once."""
    import bench.plugins.registry

    root = tmp_path / "builtin"
    for sub in ("plugins", "datasets", "suites"):
        (root / sub).mkdir(parents=True)
    monkeypatch.setattr(bench.plugins.registry, "builtin_root", lambda: root)
    return root


@pytest.fixture
def plugin_dir(tmp_path: Path, builtin_dir: Path) -> Path:
    """A user plugin folder with the toy methods, the toy datasets and the `toy` suite
    (the built-in folders are replaced by empty ones, see `builtin_dir`)."""
    return write_plugin_folder(tmp_path / "userplug")


@pytest.fixture
def toy_registry(plugin_dir: Path):
    from bench.plugins.registry import discover

    return discover(extra_dirs=[plugin_dir], entry_points=False)


@pytest.fixture
def write_suite(tmp_path: Path):
    """Write a suite file from TOML text; returns its path."""
    def write(text: str, name: str = "custom") -> Path:
        p = tmp_path / f"{name}.toml"
        p.write_text(textwrap.dedent(text))
        return p

    return write


@pytest.fixture
def bench_cmd():
    """Run `bench` in-process with the built-in plugins (no toy folder, unlike `cli`):
    ``bench_cmd(["list", "methods"])`` returns click's Result (exit_code, output)."""
    from click.testing import CliRunner

    from bench.cli.app import main

    return lambda argv: CliRunner().invoke(main, [str(a) for a in argv], catch_exceptions=False)


@pytest.fixture
def cli(plugin_dir: Path, tmp_path: Path):
    """Invoke `bench` in-process with the toy plugins, private data/cache/results folders, on CPU.

    Returns (invoke, results_dir); ``invoke("run", "--suite", "toy", ...)``.
    """
    from click.testing import CliRunner

    from bench.cli.app import main

    results = tmp_path / "results"
    data = tmp_path / "data"
    cache = tmp_path / "cache"
    data.mkdir()

    def invoke(command: str, *args: str, plugins: bool = True):
        argv = [command, *args]
        if command == "run":
            argv += ["--data-dir", str(data), "--cache-dir", str(cache), "--device", "cpu", "--quiet"]
        if command in ("run", "table"):
            argv += ["--results-dir", str(results)]
        if plugins:
            argv += ["--plugins", str(plugin_dir)]
        return CliRunner().invoke(main, argv, catch_exceptions=False)

    return invoke, results


@pytest.fixture(scope="module")
def torch_one_thread():
    """Tiny models on a shared CPU: one torch thread avoids OpenMP waits that make steps 50x
    slower. Use per module: ``pytestmark = pytest.mark.usefixtures("torch_one_thread")``."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class FileServer:
    """A local HTTP server on a free port for the download tests: serves ``files`` ({path: bytes},
    404 for any other path) and lists every path asked for in ``requests``; ``url`` is its root."""

    def __init__(self):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.files: dict[str, bytes] = {}
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                server.requests.append(self.path)
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def file_server():
    """A `FileServer`, shut down after the test."""
    server = FileServer()
    yield server
    server.close()


def pytest_collection_modifyitems(config, items):
    """`slow` on the contract cases of the CNNs and of every network variant but each family's
    default one (`make test-fast` leaves them out; `make test` runs them)."""
    for item in items:
        if not item.nodeid.startswith("tests/test_conformance.py::test_contract["):
            continue
        case = item.callspec.params.get("plugin")
        cls, variant, kind = getattr(case, "cls", None), getattr(case, "variant", ""), getattr(case, "kind", "")
        if cls is None or not hasattr(cls, "defaults"):
            continue
        network = "epochs" in cls.defaults or "max_epochs" in cls.defaults
        if kind == "image-classification" or (network and variant != cls.name):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def _plugin_modules_restored():
    """A test that re-imports a plugin file (an edited copy, another built-in root) must not leave
    its new module in sys.modules: classes captured at collection (the contract cases) would no
    longer pickle ("not the same object"), depending on which tests shared the worker before."""
    before = {k: v for k, v in sys.modules.items() if k.startswith("_bench_plugin_")}
    yield
    sys.modules.update(before)


# -- the GPU scripts, run as the GPU machine runs them ------------------------------------------

GPU_SCRIPT_BLOCKED = "import sys, runpy; sys.modules.update(click=None, tqdm=None, platformdirs=None); "


def run_gpu_script(name: str, *args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    """``scripts/NAME args`` with ``PYTHONPATH=.`` only, click, tqdm and platformdirs blocked (the GPU
    machine has none of them), on the CPU with one thread."""
    root = Path(__file__).resolve().parents[1]
    code = GPU_SCRIPT_BLOCKED + (f"sys.argv = {[name, *args]!r}; "
                                 f"runpy.run_path({str(root / 'scripts' / name)!r}, run_name='__main__')")
    env = {**os.environ, "PYTHONPATH": str(root), "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)
