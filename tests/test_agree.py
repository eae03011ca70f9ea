"""Tables that agree: whatever a `bench run` was filtered to (--methods, --seeds), its printout,
the suite's table.md, `bench table` and `bench report` show the same cells from all the suite's
records; committed pages equal what their records render; `make run`'s reproduction line; CSV
columns in the markdown order; an ETA learned from past records; a suite given by path."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from bench.core.spec import RunRecord
from bench.run.progress import Progress, duration, past_durations

ROOT = Path(__file__).resolve().parents[1]


def _table_of(page: str) -> str:
    """The `## Results` tables of a suite page, without the page's own lines (README.md has the
    95 % intervals; its tables start at the first section)."""
    return page[page.index("### "):page.index("Cells: mean")]


@pytest.mark.slow
def test_filtered_and_extra_seed_runs_leave_one_table(cli):
    invoke, results = cli
    first = invoke("run", "--suite", "toy", "--methods", "toy-mean")  # a filtered run
    assert first.exit_code == 0, first.output
    second = invoke("run", "--suite", "toy", "--methods", "toy-majority", "--seeds", "0,1,2")  # extra seed
    assert second.exit_code == 0, second.output

    written = (results / "toy" / "table.md").read_text()
    assert second.stdout.strip() == written.strip()  # the printout is the file
    table = invoke("table", "--suite", "toy")
    assert table.exit_code == 0 and table.stdout.strip() == written.strip()
    report = invoke("report", "--suite", "toy", "--results-dir", str(results))
    assert report.exit_code == 0, report.output
    assert (results / "toy" / "table.md").read_text() == written  # bench report writes the same file

    # every row of the suite, not only the last run's: toy-mean from the first, majority from the second
    rows: dict[str, str] = {}  # label: its line in the first section that has it
    for line in written.splitlines():
        if line.startswith("| "):
            rows.setdefault(line.split("|")[1].strip(), line)
    assert re.search(r"\d\.\d{4} ± \d\.\d{4}", rows["toy-mean"])  # seeds 0 and 1 of the first run
    assert rows["toy-mean-shifted"].count("—") >= 2  # never run: shown as a gap, not dropped
    cls = written[written.index("### toy-cls"):]
    assert re.search(r"\| majority vote +\| \d\.\d{4} ± \d\.\d{4}", cls)  # seeds 0 and 1 of the second run
    # seed 2 is outside the suite's seeds (0, 1): not averaged in, but named with the way to include it
    assert "Not in this table: 1 run(s) recorded with model seed(s) 2" in written
    assert "`bench table --suite toy --seeds 0,1,2` includes them" in written

    wide = invoke("table", "--suite", "toy", "--seeds", "0,1,2")
    assert wide.exit_code == 0, wide.output
    assert "Model seeds: 0, 1, 2" in wide.stdout and "Not in this table" not in wide.stdout
    majority = next(line for line in wide.stdout.splitlines() if line.startswith("| majority vote"))
    assert "(n=" not in majority  # its three seeds are all recorded
    mean = next(line for line in wide.stdout.splitlines() if line.startswith("| toy-mean "))
    assert "(n=2)" in mean  # two of the three seeds recorded for toy-mean

    # the page's tables show the same cells (it adds the 95 % interval to metric cells)
    page = (results / "toy" / "README.md").read_text()
    ci = invoke("table", "--suite", "toy", "--ci")
    assert _table_of(page).strip() in ci.stdout


def _md_headers(text: str) -> list[str]:
    """The column headers of every markdown table in ``text``, first seen first."""
    found: list[str] = []
    lines = text.splitlines()
    for line, under in zip(lines, lines[1:]):
        if line.startswith("| method") and under.startswith("|-"):
            found += [h.strip() for h in line.strip("|").split("|")[1:]]
    return list(dict.fromkeys(found))


def test_csv_columns_follow_the_markdown_order(cli):
    invoke, _ = cli
    assert invoke("run", "--suite", "toy", "--format", "none").exit_code == 0
    md = invoke("table", "--suite", "toy").stdout
    csv_text = invoke("table", "--suite", "toy", "--format", "csv").stdout
    import csv
    import io

    header = next(csv.reader(io.StringIO(csv_text)))
    assert header[:2] == ["dataset", "method"]
    assert header[2:] == _md_headers(md)
    assert header[2:] != sorted(header[2:])  # an order the old alphabetical sort would have changed


def test_reproduction_line_of_make_run(cli, tmp_path):
    """`make run` ends with `bench table --check`: one line when every committed run reproduces,
    the count and every difference when one moved."""
    invoke, _ = cli
    assert invoke("run", "--suite", "toy", "--format", "none").exit_code == 0
    expected = tmp_path / "expected.json"
    invoke("table", "--suite", "toy", "--write-expected", "--against", str(expected))
    res = invoke("table", "--suite", "toy", "--check", "--against", str(expected))
    assert res.exit_code == 0
    assert res.stdout.strip().splitlines() == [
        f"toy: reproduced 6/6 committed runs within tolerance (all 12 runs match {expected})"]  # 6 are n/a
    data = json.loads(expected.read_text())
    data["runs"]["toy-reg/fixed | toy-mean | seed 1"]["metrics"]["rmse"] += 1.0
    expected.write_text(json.dumps(data))
    res = invoke("table", "--suite", "toy", "--check", "--against", str(expected))
    assert res.exit_code == 1
    assert res.stdout.startswith("toy: reproduced 5/6 committed runs within tolerance; 1 difference(s)")
    assert "CHANGED  toy-reg/fixed | toy-mean | seed 1" in res.stdout


@pytest.mark.slow
def test_report_check_names_a_page_that_drifted_from_its_records(cli):
    invoke, results = cli
    assert invoke("run", "--suite", "toy", "--format", "none").exit_code == 0
    assert invoke("report", "--suite", "toy", "--results-dir", str(results)).exit_code == 0
    res = invoke("report", "--check", "--results-dir", str(results))
    assert res.exit_code == 0 and "every page" in res.stdout, res.output

    table = results / "toy" / "table.md"
    table.write_text(table.read_text().replace("majority vote", "majority", 1))  # a hand edit
    res = invoke("report", "--check", "--results-dir", str(results))
    assert res.exit_code == 1
    assert f"{table}: differs from what its records render" in res.stdout
    assert "README.md" not in res.stdout  # the page itself still agrees

    assert invoke("run", "--suite", "toy", "--seeds", "5", "--methods", "toy-mean", "--format", "none").exit_code == 0
    res = invoke("report", "--check", "--results-dir", str(results))  # a new record: both pages are old
    assert res.exit_code == 1 and str(results / "toy" / "README.md") in res.stdout
    assert invoke("report", "--suite", "toy", "--results-dir", str(results)).exit_code == 0
    assert invoke("report", "--check", "--results-dir", str(results)).exit_code == 0


@pytest.mark.slow
def test_committed_pages_are_what_their_records_render(bench_cmd, monkeypatch):
    """Every committed suite page (README.md, table.md; results/ and results/vision/) and the index
    equal what `bench report` renders from the committed records: pages and records never drift."""
    monkeypatch.chdir(ROOT)  # pages name their files relative to the repository root
    for results in ("results", "results/vision"):
        res = bench_cmd(["report", "--check", "--results-dir", results])
        assert res.exit_code == 0, res.output


@pytest.mark.slow
def test_report_of_a_suite_given_by_path_writes_commands_that_work(cli, write_suite, tmp_path, monkeypatch):
    invoke, results = cli
    from conftest import TOY_SUITE

    monkeypatch.chdir(tmp_path)
    path = write_suite(TOY_SUITE, name="mine")  # not in the plugin folder: found by its path only
    assert invoke("run", "--suite", str(path), "--format", "none").exit_code == 0
    res = invoke("report", "--suite", str(path), "--results-dir", str(results))
    assert res.exit_code == 0, res.output
    page = (results / "mine" / "README.md").read_text()
    commands = re.findall(r"`(bench (?:run|report) [^`]*)`", page)
    assert commands and all("--suite mine.toml" in c for c in commands), commands
    for command in commands:  # each one, as written, finds the suite
        args = command.split()[1:]
        if args[0] == "run":
            args += ["--dry-run"]
        res = invoke(*args, *(["--results-dir", str(results)] if args[0] == "report" else []))
        assert res.exit_code == 0, (command, res.output)
    invoke("table", "--suite", str(path), "--write-expected", "--against", str(tmp_path / "e.json"))
    regenerate = json.loads((tmp_path / "e.json").read_text())["regenerate"]
    assert regenerate.startswith("bench run --suite mine.toml --force")


def _rec(method: str, dataset: str, fit: float, predict: float = 0.0, status: str = "ok",
         span: tuple[str, str] = ("", "")) -> RunRecord:
    return RunRecord(key=f"{method}-{dataset}-{fit}", spec_id="x", spec={"method": method, "dataset": dataset},
                     status=status, fit_seconds=fit, predict_seconds=predict,
                     started_at=span[0], finished_at=span[1])


def test_durations_are_learned_per_method_and_dataset_from_ok_records():
    recs = [_rec("mlp", "d", 100.0, 2.0), _rec("mlp", "d", 120.0), _rec("mlp", "d", 500.0),
            _rec("mlp", "d", 9999.0, status="failed"), _rec("knn", "d", 0.1),
            _rec("knn", "e", 0.5, span=("2026-01-01T00:00:00+00:00", "2026-01-01T00:00:03+00:00"))]
    past = past_durations(recs)
    assert past[("mlp", "d")] == 120.0  # the median; the failed run never counts
    assert past[("knn", "d")] == 0.1
    assert past[("knn", "e")] == 3.0  # the worker's span is longer than fit + predict
    assert duration(_rec("x", "d", None)) is None


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_eta_weighs_runs_by_their_past_durations():
    clock = FakeClock()
    # two quick baselines (1 s each in the records) then a network that took 60 s
    p = Progress(3, show=False, echo=lambda m: None, estimates={"a": 1.0, "b": 1.0, "c": 60.0}, clock=clock)
    assert p.eta() == 62.0  # before anything finished: the records' sum
    clock.now = 2.0  # a took 1 s more than its record (a worker starting, data loading)
    p.advance("ok", "a done", "a")
    assert p.eta() == pytest.approx(61.0 + 1.0 * 2)  # the records left, plus that second per run left
    clock.now = 3.0  # b took just its record
    p.advance("ok", "b done", "b")
    assert p.eta() == pytest.approx(60.0 + (3.0 - 2.0) / 2 * 1)


def test_eta_is_not_thrown_by_a_run_recorded_at_zero_seconds():
    clock = FakeClock()  # today's case: a global-mean baseline recorded at 0.0 s, then networks
    p = Progress(3, show=False, echo=lambda m: None, estimates={"a": 0.0, "b": 10.0, "c": 10.0}, clock=clock)
    clock.now = 6.0
    p.advance("ok", "a done", "a")
    assert p.eta() == pytest.approx(20.0 + (6.0 - 0.05) * 2)  # not 6 / 0.05 x 20 s = 40 minutes


def test_eta_follows_runs_that_go_faster_than_their_records():
    clock = FakeClock()
    p = Progress(3, show=False, echo=lambda m: None, estimates={"a": 10.0, "b": 10.0, "c": 20.0}, clock=clock)
    clock.now = 5.0  # twice as fast as recorded
    p.advance("ok", "a done", "a")
    assert p.eta() == pytest.approx(30.0 / 2)


def test_eta_without_past_records_counts_runs():
    clock = FakeClock()
    p = Progress(4, show=False, echo=lambda m: None, estimates={"a": None, "b": None, "c": None, "d": None},
                 clock=clock)
    assert p.eta() is None
    clock.now = 10.0
    p.advance("ok", "a done", "a")
    assert p.eta() == pytest.approx(30.0)  # the average so far, times the runs left


def test_eta_fills_runs_without_records_with_the_average_of_those_with():
    clock = FakeClock()
    p = Progress(3, show=False, echo=lambda m: None, estimates={"a": 10.0, "b": 30.0, "new": None},
                 workers=2, clock=clock)
    assert p.eta() == pytest.approx((10 + 30 + 20) / 2)  # two workers at once


def test_report_check_reports_a_planted_link_instead_of_reading_through_it(tmp_path):
    from bench.report.pages import _differs

    secret = tmp_path / "secret.md"
    secret.write_text("the page text")
    page = tmp_path / "table.md"
    page.symlink_to(secret)
    (problem,) = _differs(page, "the page text", "bench report --suite x")
    assert "not a page bench wrote" in problem and "symbolic link" in problem
    page.unlink()
    os.mkfifo(page)  # a FIFO would block a plain read forever
    (problem,) = _differs(page, "the page text", "bench report --suite x")
    assert "not a plain file" in problem
    page.unlink()
    page.write_text("the page text")
    assert _differs(page, "the page text", "bench report --suite x") == []
