"""`bench new`: the generated plugins work unedited, and the README's "Your own method in five
minutes" steps run one by one (new, edit, check, run, table, report) in a temporary folder."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from bench.cli.app import main

ROOT = Path(__file__).resolve().parents[1]


def _readme_steps() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Your own method in five minutes", 1)[1].split("\n## ", 1)[0]
    block = section.split("```bash", 1)[1].split("```", 1)[0]
    steps = [re.split(r"\s+#", line, maxsplit=1)[0].strip() for line in block.strip().splitlines()]
    return [s for s in steps if s]  # a comment continued on its own line is no step


@pytest.fixture
def bench_cli(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("BENCH_DATA", str(tmp_path / "data"))

    def invoke(*argv: str):
        return CliRunner().invoke(main, list(argv), catch_exceptions=False)

    return invoke


@pytest.mark.slow
def test_readme_five_minute_steps(bench_cli, tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_RESULTS", "")  # restored after the test
    steps = _readme_steps()
    assert steps == ["export BENCH_RESULTS=scratch/results", "bench new method my-ridge", "$EDITOR plugins/my_ridge.py", "bench check my-ridge",
                     "bench run --suite try-my-ridge", "bench table --suite try-my-ridge",
                     "bench report --suite try-my-ridge"]
    plug = tmp_path / "plugins"
    extra = ["--plugins", str(plug)]  # a temporary folder stands in for the checkout's plugins/
    os.environ["BENCH_RESULTS"] = "scratch/results"  # step 0 (monkeypatch restores it below)

    # 1. scaffold
    res = bench_cli("new", "method", "my-ridge", "--dir", str(plug))
    assert res.exit_code == 0, res.output
    source = plug / "my_ridge.py"
    assert source.exists() and (plug / "try-my-ridge.toml").exists()
    assert f"bench check my-ridge --plugins {plug}" in res.output
    # 2. edit: a stronger penalty, as a user would change the card
    text = source.read_text()
    assert '"alpha": 1.0,' in text
    source.write_text(text.replace('"alpha": 1.0,', '"alpha": 10.0,'))
    # 3. check
    res = bench_cli("check", "my-ridge", *extra)
    assert res.exit_code == 0, res.output
    assert "PASS my-ridge [regression] determinism" in res.output
    assert "PASS my-ridge [classification] pickle" in res.output
    assert "my-ridge: all checks passed" in res.output
    # 4. run (3 seeds, embedded data only), only the new method and KNN to stay quick
    res = bench_cli("run", "--suite", "try-my-ridge", "--methods", "my-ridge,knn", "--device", "cpu",
                    "--quiet", "--format", "none", *extra)
    assert res.exit_code == 0, res.output
    # 5. table
    res = bench_cli("table", "--suite", "try-my-ridge", *extra)
    assert res.exit_code == 0, res.output
    row = next(line for line in res.output.splitlines() if line.startswith("| my-ridge "))
    assert re.search(r"\| my-ridge +\| \S*0\.\d{4} ± 0\.\d{4}", row), row
    assert "significantly better / worse than `my-ridge`" in res.output
    assert "random-forest" in res.output and "—" in res.output  # not run here: shown, not dropped
    # 6. report
    res = bench_cli("report", "--suite", "try-my-ridge", *extra)
    assert res.exit_code == 0, res.output
    assert "my-ridge" in (tmp_path / "scratch" / "results" / "try-my-ridge" / "README.md").read_text()
    assert not (tmp_path / "results").exists()  # nothing went into the committed results folder


def test_new_refuses_to_overwrite_and_bad_names(bench_cli, tmp_path):
    plug = tmp_path / "p"
    assert bench_cli("new", "method", "mine", "--dir", str(plug)).exit_code == 0
    res = bench_cli("new", "method", "mine", "--dir", str(plug))
    assert res.exit_code == 1 and "already exists; not overwriting" in res.output
    res = bench_cli("new", "method", "My_Method", "--dir", str(plug))
    assert res.exit_code == 1 and "is not a plugin name" in res.output
    res = bench_cli("new", "method", "knn", "--dir", str(plug))
    assert res.exit_code == 1 and "already exists" in res.output


def test_new_dataset_passes_the_dataset_checks(bench_cli, tmp_path):
    plug = tmp_path / "p"
    res = bench_cli("new", "dataset", "my-data", "--dir", str(plug))
    assert res.exit_code == 0, res.output
    res = bench_cli("check", "my-data", "--plugins", str(plug))
    assert res.exit_code == 0, res.output
    assert "PASS my-data split-parts[random]" in res.output and "my-data: all checks passed" in res.output


def test_dataset_checks_catch_an_overlapping_split(bench_cli, tmp_path):
    plug = tmp_path / "p"
    bench_cli("new", "dataset", "bad-data", "--dir", str(plug))
    f = plug / "bad_data.py"
    f.write_text(f.read_text().replace("np.split(order, [int(0.6 * n), int(0.8 * n)])",
                                       "order[:700], order[600:800], order[800:]"))
    res = bench_cli("check", "bad-data", "--plugins", str(plug))
    assert res.exit_code == 1
    assert "FAIL bad-data split-parts[random]" in res.output and "train and valid share 100 rows" in res.output
