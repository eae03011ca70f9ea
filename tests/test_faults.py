"""Fault injection: plugins that raise, segfault, exit, sleep past their time limit, allocate past
their memory limit, return NaN or the wrong shape, all in one suite run beside healthy ones.
Each fault must end its own run only, with the right status and reason; every healthy run must
be recorded; the table must render. Then bad input: a clear error and nothing written."""
from __future__ import annotations

import textwrap

import pytest
from conftest import read_records, run_records as _records

FAULTY_METHODS = '''
"""Methods that fail in every way a plugin can: written by tests/test_faults.py."""
import ctypes
import os
import time

import numpy as np

from bench import Method


class Healthy(Method):
    name = "fault-none"
    kinds = ("regression",)

    def fit(self, train, valid, ctx):
        self.mean_ = float(np.mean(train.y))
        return self

    def predict(self, data):
        return np.full(len(data), self.mean_)


class Raises(Healthy):
    name = "fault-raise"

    def fit(self, train, valid, ctx):
        raise RuntimeError("injected failure")


class Segfaults(Healthy):
    name = "fault-segfault"

    def fit(self, train, valid, ctx):
        print("about to read address 0", flush=True)
        ctypes.string_at(0)


class Exits(Healthy):
    name = "fault-exit"

    def fit(self, train, valid, ctx):
        os._exit(3)


class Sleeps(Healthy):
    name = "fault-sleep"

    def fit(self, train, valid, ctx):
        time.sleep(120)


class Hogs(Healthy):
    name = "fault-hog"

    def fit(self, train, valid, ctx):
        chunks = []
        for _ in range(50):  # up to 2 GB, 40 MB at a time, every page touched
            chunks.append(np.ones(5_000_000))
            time.sleep(0.005)
        time.sleep(120)


class NaNs(Healthy):
    name = "fault-nan"

    def predict(self, data):
        return np.full(len(data), np.nan)


class WrongShape(Healthy):
    name = "fault-shape"

    def predict(self, data):
        return np.ones((len(data), 2))
'''

FAULT_SUITE = '''
description = "every fault beside healthy runs"
seeds = [0]
timeout = 60

[[datasets]]
name = "toy-reg"
split = "fixed"

[[datasets]]
name = "toy-cls"

[[methods]]
variant = "fault-none"

[[methods]]
variant = "fault-raise"

[[methods]]
variant = "fault-segfault"

[[methods]]
variant = "fault-exit"

[[methods]]
variant = "fault-nan"

[[methods]]
variant = "fault-shape"

[[methods]]
variant = "fault-sleep"
timeout = 1.5

[[methods]]
variant = "fault-hog"
memory_limit = "400M"

[[methods]]
variant = "toy-mean*"

[[methods]]
variant = "toy-majority"
'''

EXPECTED = {  # variant -> (status, words in the error)
    "fault-raise": ("failed", "RuntimeError: injected failure"),
    "fault-segfault": ("crashed", "killed by SIGSEGV"),
    "fault-exit": ("crashed", "exited with status 3"),
    "fault-sleep": ("timeout", "time limit of 1.5s"),
    "fault-hog": ("oom", "over its limit of 400 MB"),
    "fault-nan": ("failed", "non-finite values"),
    "fault-shape": ("failed", "predict returned shape (8, 2)"),
}
HEALTHY = ["fault-none/toy-reg", "toy-mean/toy-reg", "toy-mean-shifted/toy-reg", "toy-majority/toy-cls"]


@pytest.mark.slow
def test_every_fault_is_recorded_and_the_suite_goes_on(cli, plugin_dir, tmp_path):
    invoke, results = cli
    (plugin_dir / "faulty.py").write_text(textwrap.dedent(FAULTY_METHODS))
    suite = tmp_path / "faults.toml"
    suite.write_text(textwrap.dedent(FAULT_SUITE))
    res = invoke("run", "--suite", str(suite), "--jobs", "2", "--format", "none")
    assert res.exit_code == 1, res.output

    recs = _records(results)
    assert sorted(recs) == sorted([f"{v}/toy-reg" for v in EXPECTED] + HEALTHY)
    for variant, (status, words) in EXPECTED.items():
        rec = recs[f"{variant}/toy-reg"]
        assert (rec["status"], variant) == (status, variant), rec["error"]
        assert words in rec["error"], (variant, rec["error"])
        assert rec["metrics"] == {} and rec["spec"]["method"] == variant
    for name in HEALTHY:
        assert recs[name]["status"] == "ok" and recs[name]["metrics"], name
    # the worker's own words come back with the crash
    segv = recs["fault-segfault/toy-reg"]["info"]["stderr_tail"]
    assert "about to read address 0" in segv and "Segmentation fault" in segv
    assert recs["fault-hog/toy-reg"]["info"]["peak_worker_rss_mb"] >= 400  # killed over 400 MB; recorded to 0.1 MB
    assert "22 runs: 4 ok, 3 failed, 1 timeout, 1 oom, 2 crashed, 11 n/a" in res.output
    assert "TIMEOUT fault-sleep on toy-reg/fixed seed 0" in res.output
    assert "[11/11 done, 7 failed, 0 left]" in res.output

    table = invoke("table", "--suite", str(suite))
    assert table.exit_code == 0, table.output
    section = table.output.split("### toy-reg")[1].split("###")[0]
    rows = {line.split("|")[1].strip(): line for line in section.splitlines() if line.startswith("| ")}
    for variant, (status, _) in EXPECTED.items():
        assert status in rows[variant], rows[variant]  # the table names each failure's kind
    for healthy in ("fault-none", "toy-mean"):
        assert not any(status in rows[healthy] for status, _ in EXPECTED.values())

    # a re-run redoes the failed runs only, and records nothing twice
    res = invoke("run", "--suite", str(suite), "--jobs", "2", "--format", "none",
                 "--methods", "fault-raise,fault-exit,fault-none")
    assert "6 runs: 1 cached, 1 failed, 1 crashed, 3 n/a" in res.output, res.output
    assert "[2/2 done, 2 failed, 0 left]" in res.output
    assert len(list((results / "runs").glob("*.json"))) == 11


# --- bad input: a clear error, nothing written -------------------------------------------------

CSV_DATASET = '''
"""A dataset read from a CSV file in the data folder: written by tests/test_faults.py."""
import numpy as np
import pandas as pd

from bench import Dataset, Schema, Split, Task


class ToyCSV(Dataset):
    name = "toy-csv"
    kind = "regression"
    target = "y"
    metrics = ("rmse",)
    folder = "toycsv"
    files = ("data.csv",)

    def load(self, split, ctx):
        path = self.require_files(ctx.data_dir) / "data.csv"
        frame = pd.read_csv(path, dtype={"a": np.float64, "y": np.float64})
        if list(frame.columns) != ["a", "y"] or len(frame) != 20:
            raise ValueError(f"{path}: expected 20 rows of a,y; got {len(frame)} rows of {list(frame.columns)}")
        return Task(dataset=self.name, kind=self.kind, target=self.target, metrics=self.metrics,
                    schema=Schema(continuous=("a",)), X=frame[["a"]], y=frame["y"].to_numpy(),
                    split=Split(split, np.arange(12), np.arange(12, 16), np.arange(16, 20)))
'''


@pytest.mark.slow
@pytest.mark.parametrize("damage, words", [
    (lambda text: text[: len(text) // 2], "expected 20 rows"),  # truncated
    (lambda text: text.replace("3.0", "three", 1), "could not convert string to float"),  # corrupt cell
])
def test_corrupt_data_file_is_a_clear_error_recorded_as_failed_runs(cli, plugin_dir, tmp_path, write_suite,
                                                                     damage, words):
    invoke, results = cli
    (plugin_dir / "toy_csv.py").write_text(textwrap.dedent(CSV_DATASET))
    folder = tmp_path / "data" / "toycsv"
    folder.mkdir(parents=True)
    (folder / "data.csv").write_text(damage("a,y\n" + "".join(f"{i}.0,{2 * i}.0\n" for i in range(20))))
    suite = write_suite('[[datasets]]\nname = "toy-csv"\n[[methods]]\nvariant = "toy-mean"\n')
    res = invoke("run", "--suite", str(suite))
    assert res.exit_code == 1
    assert "loading toy-csv/default failed" in res.output and words in res.output
    assert str(folder / "data.csv") in res.output or words == "could not convert string to float"
    recs = read_records(results)
    assert [(r["spec"]["method"], r["status"]) for r in recs] == [("toy-mean", "failed")]
    assert words in recs[0]["error"] and recs[0]["info"]["stage"] == "load"
    table = invoke("table", "--suite", str(suite))
    assert "| toy-mean | failed" in table.output.replace("  ", " ").replace("  ", " ")


@pytest.mark.parametrize("args, words", [
    (["--suite", "toy", "--jbos", "2"], "No such option '--jbos'. Did you mean '--jobs'?"),
    (["--suite", "toy", "--datasets", "toy-rge"], "the filters leave nothing to run"),
    (["--suite", "toy", "--memory-limit", "lots"], "memory limit must be a size like 512M or 4G"),
    (["--suite", "toy", "--timeout", "-1"], "--timeout"),
    (["--suite", "toy", "--address", "ray://x:10001"], "--address is for --executor ray"),
])
def test_bad_command_lines_are_usage_errors(cli, args, words):
    invoke, results = cli
    res = invoke("run", *args)
    assert res.exit_code == 2 and words in res.output, res.output
    assert not results.exists()


@pytest.mark.parametrize("entry, words", [
    ('timeout = -3', "timeout must be a positive number of seconds"),
    ('memory_limit = "a lot"', "memory limit must be a size"),
])
def test_bad_limits_in_a_suite_name_the_file(cli, write_suite, entry, words):
    invoke, results = cli
    path = write_suite(f'[[datasets]]\nname = "toy-reg"\n[[methods]]\nvariant = "toy-mean"\n{entry}\n')
    res = invoke("run", "--suite", str(path))
    assert res.exit_code == 2 and str(path) in res.output and words in res.output
    assert not results.exists()


def test_unknown_dataset_in_a_suite_suggests_close_matches(cli, write_suite):
    invoke, results = cli
    path = write_suite('[[datasets]]\nname = "toy-rge"\n[[methods]]\nvariant = "toy-mean"\n')
    res = invoke("run", "--suite", str(path))
    assert res.exit_code == 2 and "unknown dataset 'toy-rge'; did you mean 'toy-reg'" in res.output
    assert not results.exists()


def test_memory_is_read_with_psutil_children_included():
    """A worker's memory (its limit) counts the processes it started; a run's peak memory sees
    what the run holds; a process that is gone reads 0."""
    import os
    import subprocess
    import sys

    import numpy as np
    import psutil

    from bench.core.environment import PeakMemory
    from bench.run.workers import rss_mb

    child = subprocess.Popen([sys.executable, "-c", "import sys; b = b'x' * (300 * 2**20); print('ready', flush=True); "
                              "sys.stdin.read()"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        own = psutil.Process().memory_info().rss / 2**20
        assert rss_mb(os.getpid()) >= own + 290
    finally:
        child.stdin.close()
        child.wait()
        child.stdout.close()
    assert rss_mb(child.pid) == 0.0
    with PeakMemory() as mem:
        held = np.ones(200 * 2**20 // 8)
    del held
    assert mem.peak_mb >= 190
