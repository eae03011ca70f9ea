"""Data loading is a run step like the others: a dataset plugin's ``load`` runs in a worker under
the same time and memory limits, and a loader that raises, segfaults, exits, hangs or eats memory
ends as failed / crashed / timeout / oom records for that dataset's runs while the suite goes on.
A plugin's own child processes die with its worker, and worker log folders left by a killed
`bench run` are cleaned by the next one."""
from __future__ import annotations

import os
import tempfile
import textwrap
import time

import pytest
from conftest import run_records as _records

FAULTY_DATASETS = '''
"""Datasets whose loaders fail in every way: written by tests/test_load_faults.py."""
import ctypes
import os
import time

import numpy as np

from bench import Dataset


class _Faulty(Dataset):
    kind = "regression"
    target = "y"
    metrics = ("mape",)
    embedded = True
    synthetic = True


class Raises(_Faulty):
    name = "load-raise"

    def load(self, split, ctx):
        raise ValueError("row 7 of data.csv: could not parse 'abc' as a number")


class Segfaults(_Faulty):
    name = "load-segfault"

    def load(self, split, ctx):
        ctypes.string_at(0)


class Exits(_Faulty):
    name = "load-exit"

    def load(self, split, ctx):
        os._exit(3)


class Hangs(_Faulty):
    name = "load-hang"

    def load(self, split, ctx):
        time.sleep(600)


class Hogs(_Faulty):
    name = "load-hog"

    def load(self, split, ctx):
        chunks = []
        for _ in range(50):  # up to 2 GB, 40 MB at a time, every page touched
            chunks.append(np.ones(5_000_000))
            time.sleep(0.005)
        time.sleep(600)
'''

SUITE = '''
description = "every loader fault beside a healthy dataset"
seeds = [0]
timeout = 4
memory_limit = "400M"

[[datasets]]
name = "load-raise"

[[datasets]]
name = "load-segfault"

[[datasets]]
name = "load-exit"

[[datasets]]
name = "load-hang"

[[datasets]]
name = "load-hog"

[[datasets]]
name = "toy-reg"
split = "fixed"

[[methods]]
variant = "toy-mean*"
'''

EXPECTED = {  # dataset -> (status, words in the error)
    "load-raise": ("failed", "could not parse 'abc'"),
    "load-segfault": ("crashed", "killed by SIGSEGV while loading load-segfault"),
    "load-exit": ("crashed", "exited with status 3 while loading load-exit"),
    "load-hang": ("timeout", "loading load-hang/default passed the time limit of 4s"),
    "load-hog": ("oom", "over its limit of 400 MB"),
}


@pytest.mark.slow
def test_every_loader_fault_is_recorded_and_the_suite_goes_on(cli, plugin_dir, tmp_path):
    invoke, results = cli
    (plugin_dir / "faulty_datasets.py").write_text(textwrap.dedent(FAULTY_DATASETS))
    suite = tmp_path / "load-faults.toml"
    suite.write_text(textwrap.dedent(SUITE))
    res = invoke("run", "--suite", str(suite), "--format", "none")
    assert res.exit_code == 1, res.output

    recs = _records(results)
    for dataset, (status, words) in EXPECTED.items():
        for variant in ("toy-mean", "toy-mean-shifted"):
            rec = recs[f"{variant}/{dataset}"]
            assert rec["status"] == status, (dataset, rec["error"])
            assert words in rec["error"], (dataset, rec["error"])
            assert rec["info"]["stage"] == "load"
    assert recs["toy-mean/toy-reg"]["status"] == "ok" and recs["toy-mean/toy-reg"]["metrics"]
    assert "12 runs: 2 ok, 2 failed, 2 timeout, 2 oom, 4 crashed" in res.output

    # the table shows each dataset's failure by name, not "not run yet"
    table = invoke("table", "--suite", str(suite))
    assert table.exit_code == 0, table.output
    for dataset, (status, _) in EXPECTED.items():
        section = table.output.split(f"### {dataset}")[1].split("###")[0]
        row = next(line for line in section.splitlines() if line.startswith("| toy-mean "))
        assert status in row, (dataset, row)


@pytest.mark.slow
def test_dry_run_survives_a_crashing_loader(cli, plugin_dir, tmp_path):
    invoke, _ = cli
    (plugin_dir / "faulty_datasets.py").write_text(textwrap.dedent(FAULTY_DATASETS))
    suite = tmp_path / "load-faults.toml"
    suite.write_text(textwrap.dedent(SUITE).replace('name = "load-hang"', 'name = "load-raise"')
                     .replace('name = "load-hog"', 'name = "load-raise"'))
    res = invoke("run", "--suite", str(suite), "--dry-run", "--datasets", "load-segfault,load-exit,toy-reg")
    assert res.exit_code == 0, res.output
    assert "[fail: cannot load (crashed" in res.output
    assert "[to run] toy-mean on toy-reg/fixed seed 0" in res.output


CHILD_METHODS = '''
"""Methods that start a child process and then die or hang: written by tests/test_load_faults.py."""
import os
import subprocess
import sys
import time

import numpy as np

from bench import Method


class _Spawns(Method):
    kinds = ("regression",)
    defaults = {"pidfile": ""}

    def spawn(self):
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        with open(self.params["pidfile"], "w") as f:
            f.write(str(child.pid))

    def predict(self, data):
        return np.zeros(len(data))


class SpawnsAndExits(_Spawns):
    name = "spawn-exit"

    def fit(self, train, valid, ctx):
        self.spawn()
        os._exit(3)


def _square(x):
    return x * x


class UsesAPool(_Spawns):
    """A forked multiprocessing pool ends its processes with SIGTERM: that must not end the worker."""
    name = "spawn-pool"

    def fit(self, train, valid, ctx):
        import multiprocessing as mp

        with mp.get_context("fork").Pool(2) as pool:
            self.total_ = sum(pool.map(_square, range(10)))
        return self


class SpawnsAndHangs(_Spawns):
    name = "spawn-hang"

    def fit(self, train, valid, ctx):
        self.spawn()
        time.sleep(600)
'''


@pytest.mark.slow
def test_a_forked_pool_inside_a_run_does_not_end_its_worker(cli, plugin_dir, tmp_path):
    invoke, results = cli
    (plugin_dir / "child_methods.py").write_text(textwrap.dedent(CHILD_METHODS))
    suite = tmp_path / "pool.toml"
    suite.write_text('seeds = [0]\n[[datasets]]\nname = "toy-reg"\nsplit = "fixed"\n'
                     '[[methods]]\nvariant = "spawn-pool"\n[[methods]]\nvariant = "toy-mean"\n')
    res = invoke("run", "--suite", str(suite), "--format", "none")
    assert res.exit_code == 0, res.output
    assert {r["status"] for r in _records(results).values()} == {"ok"}


def _running(pid: int) -> bool:
    """Alive and not a zombie waiting for its (new) parent to reap it."""
    try:
        with open(f"/proc/{pid}/status") as f:
            state = next(line for line in f if line.startswith("State:"))
    except (FileNotFoundError, StopIteration):
        return False
    return "Z" not in state.split()[1]


def _wait_gone(pid: int, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _running(pid):
            return True
        time.sleep(0.1)
    return False


@pytest.mark.slow
@pytest.mark.parametrize("variant, status", [("spawn-exit", "crashed"), ("spawn-hang", "timeout")])
def test_a_plugins_child_processes_die_with_its_worker(cli, plugin_dir, tmp_path, variant, status):
    invoke, results = cli
    (plugin_dir / "child_methods.py").write_text(textwrap.dedent(CHILD_METHODS))
    pidfile = tmp_path / f"{variant}.pid"
    suite = tmp_path / "children.toml"
    suite.write_text(textwrap.dedent(f'''
        seeds = [0]
        [[datasets]]
        name = "toy-reg"
        split = "fixed"
        [[methods]]
        variant = "{variant}"
        params = {{ pidfile = "{pidfile}" }}
        timeout = 3
    '''))
    res = invoke("run", "--suite", str(suite), "--format", "none")
    assert res.exit_code == 1, res.output
    assert _records(results)[f"{variant}/toy-reg"]["status"] == status
    child = int(pidfile.read_text())
    try:
        assert _wait_gone(child), f"the plugin's child process {child} outlived its worker"
    finally:
        if _running(child):
            os.kill(child, 9)


def test_stale_worker_log_folders_are_removed_by_the_next_run(cli, tmp_path, monkeypatch):
    from bench.run.workers import LOGDIR_PREFIX, _host, clean_stale_logdirs

    invoke, _ = cli
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    dead = tmp / f"{LOGDIR_PREFIX}{2**22 + 12345}@{_host()}-abc"  # above pid_max's default: no such process
    dead.mkdir()
    (dead / "worker-0-1.log").write_text("left by a killed bench run")
    alive = tmp / f"{LOGDIR_PREFIX}{os.getpid()}@{_host()}-def"  # a live bench run's: kept
    elsewhere = tmp / f"{LOGDIR_PREFIX}{2**22 + 7}@another-host-ghi"  # another machine's pid: kept
    elsewhere.mkdir()
    alive.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("not bench's")
    link = tmp / f"{LOGDIR_PREFIX}{2**22 + 54321}@{_host()}-lnk"  # a planted link: never followed or removed through
    link.symlink_to(outside)

    res = invoke("run", "--suite", "toy", "--format", "none", "--methods", "toy-mean")
    assert res.exit_code == 0, res.output
    assert not dead.exists()
    assert alive.exists() and elsewhere.exists()
    assert (outside / "keep.txt").read_text() == "not bench's"
    assert not [p for p in tmp.glob(f"{LOGDIR_PREFIX}*") if p not in (alive, link, elsewhere)]  # its own is gone too
    assert clean_stale_logdirs(str(tmp)) == 0
