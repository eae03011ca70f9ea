"""`bench report` writes a suite page (tables, ranks, plots, provenance) and the results index;
`bench export` writes every record as parquet that pandas reads back."""
from __future__ import annotations

import pandas as pd
import pytest

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_report_page_and_index(cli):
    invoke, results = cli
    assert invoke("run", "--suite", "toy", "--format", "none").exit_code == 0
    res = invoke("report", "--suite", "toy", "--results-dir", str(results))
    assert res.exit_code == 0, res.output
    page = (results / "toy" / "README.md").read_text()
    assert page.startswith("# toy table\n")
    assert "6 of 6 planned runs recorded (6 ok)" in page  # majority on toy-reg is n/a: not planned
    assert "### toy-reg / fixed (synthetic data)" in page and "### toy-cls / default (synthetic data)" in page
    assert "## Average rank across datasets" in page
    assert "![headline metric per method, mean ± std over seeds](metric-bars.png)" in page
    assert "Regenerate: `bench run --suite toy`" in page
    for png in ("metric-bars.png", "time-vs-metric.png"):
        assert (results / "toy" / png).read_bytes()[:8] == PNG_MAGIC
    assert not (results / "toy" / "learning-curves.png").exists()  # no run has a per-epoch history
    index = (results / "README.md").read_text()
    assert "| `toy` | toy suite for the harness tests | toy-reg/fixed, toy-cls/default | 6/6 |" in index
    assert "[toy/README.md](toy/README.md)" in index

    # unchanged records give an identical page (no clock in it)
    invoke("report", "--suite", "toy", "--results-dir", str(results))
    assert (results / "toy" / "README.md").read_text() == page


def test_index_leaves_out_a_suite_whose_runs_another_suite_made(cli, plugin_dir):
    """A suite that shares every run it has records of with another one (practice-bn's ncf runs are
    collab's) is not listed as if it had been run: the index names the suite that made them."""
    invoke, results = cli
    (plugin_dir / "toy-subset.toml").write_text('[[datasets]]\nname = "toy-reg"\nsplit = "fixed"\n'
                                                '[[methods]]\nvariant = "toy-mean"\n'
                                                '[[methods]]\nvariant = "toy-mean"\nparams = { scale = 2.0 }\n')
    assert invoke("run", "--suite", "toy", "--format", "none").exit_code == 0
    assert invoke("report", "--suite", "toy", "--results-dir", str(results)).exit_code == 0
    index = (results / "README.md").read_text()
    assert "| `toy` |" in index and "toy-subset" not in index
    assert invoke("run", "--suite", "toy-subset", "--format", "none").exit_code == 0
    assert invoke("report", "--suite", "toy", "--results-dir", str(results)).exit_code == 0
    assert "| `toy-subset` |" in (results / "README.md").read_text()  # a run of its own: listed


def test_export_parquet_round_trip(cli, tmp_path):
    invoke, results = cli
    invoke("run", "--suite", "toy", "--format", "none")
    out = tmp_path / "runs.parquet"
    res = invoke("export", "--out", str(out), "--results-dir", str(results), plugins=False)
    assert res.exit_code == 0, res.output
    df = pd.read_parquet(out)
    assert len(df) == 6 and set(df["status"]) == {"ok"}
    row = df[(df["method"] == "toy-mean") & (df["split"] == "fixed") & (df["seed"] == 0)].iloc[0]
    import numpy as np
    y = np.arange(132.0, 140.0)
    assert row["metric.mape"] == np.mean(np.abs(y - 111.5) / y)
    assert row["param.shift"] == 0.0 and row["param.layers"] == "[8]"  # a tuple goes as JSON text
    assert row["history"] == "[]"


def test_export_of_an_empty_store_is_an_error(cli, tmp_path):
    invoke, results = cli
    res = invoke("export", "--out", str(tmp_path / "x.parquet"), "--results-dir", str(results), plugins=False)
    assert res.exit_code == 1 and "no run records" in res.output


def test_check_mode_draws_no_pixels_but_knows_which_figures_a_page_has(cli):
    """`bench report --check` renders each page with plots.dry_run(): the figure list (what the page
    links) comes out the same as when drawing, and no PNG is written."""
    from bench.report import plots

    invoke, results = cli
    assert invoke("run", "--suite", "toy", "--format", "none").exit_code == 0
    assert invoke("report", "--suite", "toy", "--results-dir", str(results)).exit_code == 0
    for png in (results / "toy").glob("*.png"):
        png.unlink()
    assert invoke("report", "--check", "--results-dir", str(results)).exit_code == 0  # same page text
    assert not list((results / "toy").glob("*.png"))
    from bench.core.spec import RunRecord

    rec = RunRecord(key="k", spec_id="s", spec={"seed": 0}, status="ok", label="a",
                    history=[{"epoch": 1, "train_loss": 1.0, "valid_rmse": 2.0}])
    with plots.dry_run():
        with pytest.raises(ValueError):  # what decides a figure still decides it
            plots.learning_curves([], results / "x.png")
        plots.learning_curves([rec], results / "x.png")
    assert not (results / "x.png").exists()
    plots.learning_curves([rec], results / "x.png")
    assert (results / "x.png").read_bytes()[:8] == PNG_MAGIC
