"""`bench run` processes that die or share a store: a SIGKILLed run resumes with only the missing
runs, Ctrl-C stops cleanly, and two concurrent runs on one results folder give exactly one record
per run, each run executed once. These start real `bench` processes."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

pytestmark = pytest.mark.slow  # real `bench` processes, killed and resumed

SLOW_METHOD = '''
"""A method that takes a moment: written by tests/test_interrupts.py."""
import time

import numpy as np

from bench import Method


class Slow(Method):
    name = "toy-slow"
    kinds = ("regression",)
    defaults = {"seconds": 0.3}

    def fit(self, train, valid, ctx):
        time.sleep(self.params["seconds"])
        self.mean_ = float(np.mean(train.y))
        return self

    def predict(self, data):
        return np.full(len(data), self.mean_)
'''

SEEDS = 8


@pytest.fixture
def bench_process(plugin_dir: Path, builtin_dir: Path, tmp_path: Path):
    """Start `bench run` on the toy-slow suite as a separate process; returns (start, results)."""
    (plugin_dir / "slow.py").write_text(textwrap.dedent(SLOW_METHOD))
    suite = tmp_path / "slow.toml"
    suite.write_text(f'seeds = {list(range(SEEDS))}\n[[datasets]]\nname = "toy-reg"\nsplit = "fixed"\n'
                     '[[methods]]\nvariant = "toy-slow"\n')
    results = tmp_path / "results"
    # the same empty built-in folders as the in-process tests (see conftest.builtin_dir)
    boot = (f"import pathlib, bench.plugins.registry as r; r.builtin_root = lambda: pathlib.Path({str(builtin_dir)!r}); "
            "from bench.cli.app import main; main()")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent), "PYTHONUNBUFFERED": "1"}

    def start(*extra: str) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-c", boot, "run", "--suite", str(suite), "--plugins", str(plugin_dir),
             "--results-dir", str(results), "--data-dir", str(tmp_path), "--cache-dir", str(tmp_path / "cache"),
             "--device", "cpu", "--quiet", "--format", "none", *extra],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)

    return start, results


def _wait_for_records(results: Path, n: int, proc: subprocess.Popen, limit_s: float = 60) -> None:
    end = time.monotonic() + limit_s
    while len(list((results / "runs").glob("*.json"))) < n:
        assert proc.poll() is None, proc.stdout.read()
        assert time.monotonic() < end, "no records appeared"
        time.sleep(0.05)


def _seeds(results: Path) -> list[int]:
    return sorted(json.loads(p.read_text())["spec"]["seed"] for p in (results / "runs").glob("*.json"))


def test_sigkilled_run_resumes_with_only_the_missing_runs(bench_process):
    start, results = bench_process
    proc = start()
    _wait_for_records(results, 2, proc)
    helpers = psutil.Process(proc.pid).children(recursive=True)  # the fork server and the worker
    assert helpers
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    # the worker dies with it: the fork server ends with its parent, the worker with the server
    # (PR_SET_PDEATHSIG), and a watchdog checks the parent too
    gone, alive = psutil.wait_procs(helpers, timeout=10)
    assert not alive, [p.cmdline() for p in alive]
    before = _seeds(results)
    assert 2 <= len(before) < SEEDS and len(set(before)) == len(before)
    assert all(json.loads(p.read_text())["status"] == "ok" for p in (results / "runs").glob("*.json"))

    proc = start()
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out
    assert f"{SEEDS} runs: {SEEDS - len(before)} ok, {len(before)} cached" in out
    assert _seeds(results) == list(range(SEEDS))


HANG_METHOD = '''
"""A method that says where it runs, then hangs in fit: written by tests/test_interrupts.py."""
import os
import time

from bench import Method


class Hang(Method):
    name = "toy-hang"
    kinds = ("regression",)
    defaults = {"pid_file": ""}

    def fit(self, train, valid, ctx):
        with open(self.params["pid_file"], "w") as f:
            f.write(str(os.getpid()))
        time.sleep(300)
        return self

    def predict(self, data):
        raise AssertionError("never reached")
'''


def test_a_worker_busy_in_a_fit_dies_with_a_sigkilled_parent(plugin_dir, bench_process, tmp_path):
    """Not only an idle worker (its pipe closes): one inside a long fit ends too, and so would
    the processes its plugin started (it takes its process group down)."""
    start, _ = bench_process
    (plugin_dir / "hang.py").write_text(textwrap.dedent(HANG_METHOD))
    pid_file = tmp_path / "worker.pid"
    suite = tmp_path / "hang.toml"
    suite.write_text(f'[[datasets]]\nname = "toy-reg"\nsplit = "fixed"\n[[methods]]\nvariant = "toy-hang"\n'
                     f'params = {{ pid_file = "{pid_file}" }}\n')
    proc = start("--suite", str(suite))  # the last --suite wins
    end = time.monotonic() + 60
    while not (pid_file.exists() and pid_file.read_text()):
        assert proc.poll() is None, proc.stdout.read()
        assert time.monotonic() < end, "the fit never started"
        time.sleep(0.05)
    worker = psutil.Process(int(pid_file.read_text()))
    helpers = psutil.Process(proc.pid).children(recursive=True)  # the fork server and the worker
    assert worker in helpers
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    gone, alive = psutil.wait_procs(helpers, timeout=10)
    assert not alive, f"outlived their parent: {[p.cmdline()[-1][:80] for p in alive]}"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_stops_cleanly_and_keeps_finished_runs(bench_process, sig):
    start, results = bench_process
    proc = start()
    _wait_for_records(results, 1, proc)
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 130, out
    assert "interrupted:" in out and "nothing half-written" in out
    done = _seeds(results)
    assert 1 <= len(done) < SEEDS
    names = [p.name for p in (results / "runs").iterdir()]
    assert all(n.endswith(".json") and not n.startswith(".") for n in names)  # no half-written file
    assert not (results / ".claims").exists()  # every claim given back

    proc = start()
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0 and f"{SEEDS - len(done)} ok, {len(done)} cached" in out, out


def test_two_concurrent_runs_on_one_store_record_each_run_once(bench_process):
    start, results = bench_process
    first, second = start(), start("--jobs", "2")
    outs = [p.communicate(timeout=120)[0] for p in (first, second)]
    assert [first.returncode, second.returncode] == [0, 0], outs
    assert _seeds(results) == list(range(SEEDS))  # exactly one record per run
    executed = [sum(line.startswith("ok toy-slow") and "another bench process" not in line
                    for line in out.splitlines()) for out in outs]
    assert sum(executed) == SEEDS, outs  # and each run executed by one process only
    for out in outs:
        assert f"{SEEDS} runs: " in out
