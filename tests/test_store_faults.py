"""The store never tracebacks: mistyped records are skipped with a warning by every reader, a NaN
metric is flagged instead of shown as a number, and a results folder that cannot be written
(read-only, disk full, no permission) is one clear error with exit status 74 that keeps every
record written before it."""
from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest

from bench.results.store import Store, StoreError, validate_record

ONE_RUN = ("--suite", "toy", "--methods", "toy-mean", "--datasets", "toy-reg", "--seeds", "0",
           "--executor", "inline")
TWO_ROWS = ("--suite", "toy", "--methods", "toy-mean*", "--datasets", "toy-reg", "--seeds", "0",
            "--executor", "inline")
IS_ROOT = os.geteuid() == 0


def _drop(d: dict, name: str) -> None:
    del d[name]


# each turns a copy of a valid record into a mistyped one (JSON still parses)
MISTYPED = {
    "metrics-text": lambda d: d.update(metrics="oops"),
    "status-number": lambda d: d.update(status=3),
    "spec-list": lambda d: d.update(spec=[]),
    "history-object": lambda d: d.update(history={}),
    "metric-strings": lambda d: d.update(metrics={k: str(v) for k, v in d["metrics"].items()}),
    "no-key": lambda d: _drop(d, "key"),
    "no-spec-id": lambda d: _drop(d, "spec_id"),
    "fit-seconds-text": lambda d: d.update(fit_seconds="fast"),
    "finished-at-number": lambda d: d.update(finished_at=5),
    "origin-text": lambda d: d["method"].update(origin="somewhere"),
    "fingerprint-number": lambda d: d["split"].update(fingerprint=7),
    "version-number": lambda d: d["versions"].update(numpy=2),
    "history-row-text": lambda d: d.update(history=[{"epoch": 1, "train_loss": "low"}]),
    "metric-bool": lambda d: d.update(metrics={k: True for k in d["metrics"]}),
}


def _only_record(results: Path) -> tuple[Path, dict]:
    (path,) = sorted((results / "runs").glob("*.json"))
    return path, json.loads(path.read_text())


def _plant_mistyped(results: Path) -> list[str]:
    """A mistyped copy of the valid record per MISTYPED kind, newer than it (so a reader that
    trusted it would pick it for the table). Returns the planted file names."""
    _, good = _only_record(results)
    names = []
    for kind, damage in MISTYPED.items():
        d = json.loads(json.dumps(good))
        d["key"], d["finished_at"] = f"bad-{kind}", "2999-01-01T00:00:00"
        damage(d)
        (results / "runs" / f"bad-{kind}.json").write_text(json.dumps(d))
        names.append(f"bad-{kind}.json")
    return names


@pytest.fixture
def recorded(cli):
    """One valid record of the toy suite (toy-mean on toy-reg, seed 0)."""
    invoke, results = cli
    res = invoke("run", *ONE_RUN, "--format", "none")
    assert res.exit_code == 0, res.output
    return invoke, results


@pytest.mark.parametrize("kind", sorted(MISTYPED))
def test_each_mistyped_record_is_rejected_naming_its_field(recorded, kind):
    _, results = recorded
    _, good = _only_record(results)
    assert validate_record(json.loads(json.dumps(good))).key == good["key"]  # the valid one reads
    d = json.loads(json.dumps(good))
    MISTYPED[kind](d)
    with pytest.raises(ValueError, match=r"field `[a-z_.\[\]0-9]+`"):
        validate_record(d)


@pytest.mark.parametrize("command", ["table", "check", "report", "export", "run"])
def test_every_reader_skips_mistyped_records_with_a_warning(recorded, tmp_path, command):
    invoke, results = recorded
    expected = tmp_path / "expected.json"
    assert invoke("table", "--suite", "toy", "--write-expected", "--against", str(expected)).exit_code == 0
    planted = _plant_mistyped(results)
    args = {
        "table": ("table", "--suite", "toy"),
        "check": ("table", "--suite", "toy", "--check", "--against", str(expected)),
        "report": ("report", "--suite", "toy", "--results-dir", str(results)),
        "export": ("export", "--out", str(tmp_path / "runs.parquet"), "--results-dir", str(results)),
        "run": ("run", *ONE_RUN),
    }[command]
    res = invoke(*args)
    assert res.exit_code == 0, res.output
    assert "Traceback" not in res.output
    for name in planted:
        lines = [x for x in res.output.splitlines() if "skipping corrupt record" in x and name in x]
        assert len(lines) == 1, (name, res.output)  # named, and once per file however many readers
        assert "field `" in lines[0] or "JSON object" in lines[0]
    if command == "check":
        assert "all 12 runs match" in res.output  # the mistyped copies changed no number
    if command == "run":
        assert "1 cached" in res.output
    if command == "export":
        import pandas as pd

        df = pd.read_parquet(tmp_path / "runs.parquet")
        assert len(df) == 1 and not df["key"].str.startswith("bad-").any()
    if command == "table":
        row = next(x for x in res.output.splitlines() if x.startswith("| toy-mean "))
        assert "—" not in row and "failed" not in row  # the valid record's numbers are shown


def test_run_reruns_a_planned_run_whose_record_is_mistyped(recorded):
    invoke, results = recorded
    path, d = _only_record(results)
    d["metrics"] = "oops"
    path.write_text(json.dumps(d))
    res = invoke("run", *ONE_RUN, "--format", "none")
    assert res.exit_code == 0, res.output
    assert f"skipping corrupt record {path}" in res.output and "field `metrics`" in res.output
    assert "1 ok" in res.output
    assert isinstance(json.loads(path.read_text())["metrics"]["mape"], float)


@pytest.mark.parametrize("token, flag", [("NaN", "nan!"), ("Infinity", "inf!"), ("-Infinity", "inf!")])
def test_non_finite_metric_is_flagged_never_a_number(cli, tmp_path, token, flag):
    invoke, results = cli
    assert invoke("run", *TWO_ROWS, "--format", "none").exit_code == 0
    (path,) = [p for p in (results / "runs").glob("*.json") if json.loads(p.read_text())["label"] == "toy-mean"]
    d = json.loads(path.read_text())
    path.write_text(json.dumps(d).replace(f'"mape": {d["metrics"]["mape"]!r}', f'"mape": {token}'))
    assert token in path.read_text()
    res = invoke("table", "--suite", "toy", "--compare-to", "toy-mean-shifted")
    assert res.exit_code == 0 and "Traceback" not in res.output, res.output
    row = next(x for x in res.output.splitlines() if x.startswith("| toy-mean "))
    mape_cell = row.split("|")[2]
    assert mape_cell.strip() == flag  # not a number, not bold
    shifted = next(x for x in res.output.splitlines() if x.startswith("| toy-mean-shifted "))
    assert "**" not in shifted.split("|")[2]  # one number left in the column: nothing to be best against
    assert f"runs/{d['key']}.json" in res.output and "non-finite" in res.output
    # every other reader survives it too
    expected = tmp_path / "expected.json"
    assert invoke("table", "--suite", "toy", "--write-expected", "--against", str(expected)).exit_code == 0
    res = invoke("table", "--suite", "toy", "--check", "--against", str(expected))
    assert res.exit_code == 0, res.output
    for fmt in ("latex", "html", "csv"):
        res = invoke("table", "--suite", "toy", "--format", fmt)
        assert res.exit_code == 0 and flag in res.output, res.output
    res = invoke("report", "--suite", "toy", "--results-dir", str(results))
    assert res.exit_code == 0, res.output
    assert flag in (results / "toy" / "README.md").read_text()
    res = invoke("export", "--out", str(tmp_path / "r.parquet"), "--results-dir", str(results))
    assert res.exit_code == 0, res.output


THREE_ROWS = """
seeds = [0]
[[datasets]]
name = "toy-reg"
split = "fixed"
[[methods]]
variant = "toy-mean"
[[methods]]
variant = "toy-mean-shifted"
[[methods]]
variant = "toy-mean"
label = "scaled"
params = {scale = 1.1}
"""


def test_non_finite_metric_is_never_marked_best(cli, write_suite):
    """Three rows; the one whose MAPE is -inf would be the min(), so "best", if taken as a number."""
    invoke, results = cli
    suite = str(write_suite(THREE_ROWS))
    assert invoke("run", "--suite", suite, "--executor", "inline", "--format", "none").exit_code == 0
    store = Store(results)
    recs = {r.label: r for r in store.records()}
    assert sorted(recs) == ["scaled", "toy-mean", "toy-mean-shifted"]
    recs["toy-mean-shifted"].metrics["mape"] = float("-inf")  # lower is better
    store.put(recs["toy-mean-shifted"])
    assert "-Infinity" in store.path(recs["toy-mean-shifted"].key).read_text()
    res = invoke("table", "--suite", suite)
    assert res.exit_code == 0, res.output
    cells = {x.split("|")[1].strip(): x.split("|")[2].strip() for x in res.output.splitlines()
             if x.startswith("| ") and not x.startswith("| method")}
    assert cells["toy-mean-shifted"] == "inf!"
    best = [label for label, cell in cells.items() if cell.startswith("**")]
    assert best == [min(("toy-mean", "scaled"), key=lambda label: recs[label].metrics["mape"])]


# -- writing ---------------------------------------------------------------------------------

def _no_traceback(res) -> None:
    assert "Traceback" not in res.output, res.output
    errors = [x for x in res.output.splitlines() if x.startswith("Error:")]
    assert len(errors) == 1, res.output


def test_read_only_results_folder_stops_before_any_run(cli, monkeypatch):
    invoke, results = cli
    results.mkdir()
    if IS_ROOT:  # root ignores permission bits: make the store's writes fail as they would
        import tempfile

        def denied(*a, **k):
            raise PermissionError(errno.EACCES, "Permission denied")

        monkeypatch.setattr(tempfile, "mkdtemp", denied)
        monkeypatch.setattr(tempfile, "mkstemp", denied)
    else:
        results.chmod(0o555)
    try:
        res = invoke("run", *ONE_RUN)
    finally:
        results.chmod(0o755)
    assert res.exit_code == 74, res.output
    _no_traceback(res)
    assert f"cannot write to results folder {results / 'runs'}" in res.output
    assert "Permission denied" in res.output and "make it writable or pass --results-dir" in res.output
    assert not (results / "runs").exists() and "ok toy-mean" not in res.output
    assert list(results.iterdir()) == []  # no probe, no claim left behind


def test_runs_folder_that_is_a_file_is_one_clear_error(cli):
    """runs/ cannot be created or written at all (a file has its name), as any user."""
    invoke, results = cli
    results.mkdir()
    (results / "runs").write_text("x")
    res = invoke("run", *ONE_RUN)
    assert res.exit_code == 74, res.output
    _no_traceback(res)
    assert f"cannot write to results folder {results / 'runs'}" in res.output
    assert "Not a directory" in res.output and (results / "runs").read_text() == "x"
    assert "ok toy-mean" not in res.output  # stopped before any run


def _full_disk(monkeypatch, runs: Path, after: int, where: str) -> list[int]:
    """Let ``after`` record writes under runs/ succeed, then fail every one with ENOSPC, either
    while the temporary file is written (fsync) or at the rename."""
    calls = [0]
    real_replace, real_fsync = os.replace, os.fsync

    def replace(src, dst, *a, **k):
        if where == "replace" and Path(dst).parent == runs:
            calls[0] += 1
            if calls[0] > after:
                raise OSError(errno.ENOSPC, "No space left on device")
        return real_replace(src, dst, *a, **k)

    def fsync(fd):
        if where == "fsync" and Path(os.readlink(f"/proc/self/fd/{fd}")).parent == runs:
            calls[0] += 1
            if calls[0] > after:
                raise OSError(errno.ENOSPC, "No space left on device")
        return real_fsync(fd)

    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(os, "fsync", fsync)
    return calls


@pytest.mark.slow
@pytest.mark.parametrize("where, executor", [("replace", "inline"), ("fsync", "inline"), ("replace", "local")])
def test_full_disk_mid_suite_stops_cleanly_and_keeps_earlier_records(cli, monkeypatch, where, executor):
    if where == "fsync" and not Path("/proc/self/fd").is_dir():
        pytest.skip("needs /proc to tell which file is synced")
    invoke, results = cli
    calls = _full_disk(monkeypatch, results / "runs", after=2, where=where)
    args = ["--suite", "toy", "--datasets", "toy-reg", "--executor", executor, "--jobs", "1"]
    res = invoke("run", *args)  # toy-mean, toy-mean-shifted, toy-majority (n/a) x seeds 0, 1: 4 runs
    assert res.exit_code == 74, res.output
    _no_traceback(res)
    assert f"cannot write to results folder {results / 'runs'}: [Errno 28] No space left on device" in res.output
    assert "free space there or pass --results-dir" in res.output
    assert calls[0] == 3  # stopped at the first failure: no further run was attempted
    names = sorted(p.name for p in (results / "runs").iterdir())
    assert len(names) == 2 and all(n.endswith(".json") and not n.startswith(".") for n in names), names
    for p in (results / "runs").iterdir():
        assert validate_record(json.loads(p.read_text())).status == "ok"
    assert not (results / ".claims").exists()
    monkeypatch.undo()  # space again: the next run resumes and does only what is missing
    res = invoke("run", *args, "--format", "none")
    assert res.exit_code == 0 and "2 ok, 2 cached" in res.output, res.output


def test_store_put_raises_store_error_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    from bench.core.spec import RunRecord

    store = Store(tmp_path / "results")
    store.put(RunRecord(key="k1", spec_id="s", spec={}, status="ok", metrics={"mape": 1.0}))
    _full_disk(monkeypatch, store.runs, after=0, where="replace")
    with pytest.raises(StoreError) as info:
        store.put(RunRecord(key="k2", spec_id="s", spec={}, status="ok"))
    assert isinstance(info.value, OSError) and info.value.errno == errno.ENOSPC
    assert str(store.runs) in str(info.value)
    assert sorted(p.name for p in store.runs.iterdir()) == ["k1.json"]
    assert store.get("k1").metrics == {"mape": 1.0}


@pytest.mark.parametrize("command", ["run", "table", "report", "export"])
def test_table_and_page_writes_that_fail_are_one_clear_error(recorded, tmp_path, command):
    """The output's folder is a file: mkdir / open fail with a real OSError, as any user."""
    invoke, results = recorded
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    if command in ("run", "report"):
        (results / "toy").write_text("x")  # where results/toy/table.md and README.md go
    args = {
        "run": ("run", *ONE_RUN),
        "table": ("table", "--suite", "toy", "--out", str(blocker / "t.md")),
        "report": ("report", "--suite", "toy", "--results-dir", str(results)),
        "export": ("export", "--out", str(blocker / "r.parquet"), "--results-dir", str(results)),
    }[command]
    res = invoke(*args)
    assert res.exit_code == 74, res.output
    _no_traceback(res)
    folder = results / "toy" if command == "run" else results if command == "report" else blocker
    assert "cannot write to " in res.output and f"{folder}:" in res.output, res.output
    assert "--out" in res.output if command in ("table", "export") else "--results-dir" in res.output
    assert len(list((results / "runs").glob("*.json"))) == 1
