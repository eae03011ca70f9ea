"""Comparison tables from hand-made records: mean ± std, best marks, failures, n/a, footnotes,
fingerprint mixing, and the four output formats."""
import csv
import io

import pytest

from bench.core.spec import RunRecord
from bench.results.store import Store
from bench.run.suite import load_suite
from bench.report.render import render
from bench.report.selection import current_ids
from bench.report.table import Cell, Section, TableError, build

FP = "fpA0000000000000"


@pytest.fixture
def setup(plugin_dir, toy_registry, tmp_path):
    suite = load_suite(plugin_dir / "toy.toml")
    specs = suite.expand(toy_registry)
    store = Store(tmp_path / "results")  # where the `cli` fixture's results go, too

    def put(method, metrics=None, *, dataset="toy-reg", seed=0, status="ok", fp=FP,
            finished="2024-05-01T10:00:00+00:00", method_hash=None, fit=1.0, spec=None, history=None,
            info=None):
        """Store a hand-made record for a run of the toy suite (or for `spec`, when given)."""
        s = spec or next(x for x in specs if x.method == method and x.dataset == dataset and x.seed == seed)
        m = toy_registry.method(s.method)
        d = toy_registry.dataset(s.dataset)
        mid, did = current_ids(toy_registry, s)
        mh = method_hash or mid  # another method identity: a record of older code (stale)
        rec = RunRecord(
            key=s.key(fp, mh, did) + finished.replace(":", "").replace("-", "")[:15],
            spec_id=s.spec_id, spec=s.identity, status=status, metrics=metrics or {},
            error=None if status == "ok" else "RuntimeError: boom", fit_seconds=fit if status == "ok" else None,
            device="cpu", hardware="Test CPU (2 cores)", versions={"python": "3.11.0", "numpy": "2.0"},
            split={"name": s.split, "fingerprint": fp, "sizes": {"train": 24, "valid": 8, "test": 8}},
            dataset={"name": s.dataset, "metrics": list(d.cls.metrics), "source_hash": d.origin.source_hash,
                     "identity": did},
            method={"family": m.family, "variant": s.method, "origin": m.origin.as_dict(), "identity": mh},
            suite="toy", label=s.label, command="bench run --suite toy", finished_at=finished,
            history=list(history or []), info=dict(info or {}))
        store.put(rec)
        return rec

    return suite, toy_registry, store, put


def _rows(section):
    return {label: dict(zip(section.headers, cells)) for label, cells in section.rows}


def _full_reg(put):
    """Both toy-mean variants over two seeds; majority runs on the classification set."""
    put("toy-mean", {"mape": 0.10, "rmse": 30.0}, seed=0, fit=1.0)
    put("toy-mean", {"mape": 0.30, "rmse": 10.0}, seed=1, fit=3.0)
    put("toy-mean-shifted", {"mape": 0.50, "rmse": 40.0}, seed=0)
    put("toy-mean-shifted", {"mape": 0.70, "rmse": 60.0}, seed=1)
    put("toy-majority", {"accuracy": 0.60}, dataset="toy-cls", seed=0)
    put("toy-majority", {"accuracy": 0.80}, dataset="toy-cls", seed=1)


def test_mean_and_std_over_two_seeds(setup):
    suite, reg, store, put = setup
    _full_reg(put)
    reg_section, cls_section = build(suite, reg, store)
    assert reg_section.title == "toy-reg / fixed (synthetic data)"
    assert reg_section.headers == ["MAPE", "RMSE", "fit s"]
    rows = _rows(reg_section)
    assert list(rows) == ["toy-mean", "toy-mean-shifted", "majority vote"]
    # mean (0.1+0.3)/2 = 0.2; sample std sqrt(((0.1-0.2)^2 + (0.3-0.2)^2) / 1) = 0.141421
    assert rows["toy-mean"]["MAPE"].text() == "0.2000 ± 0.1414"
    assert rows["toy-mean"]["RMSE"].text() == "20.0000 ± 14.1421"
    assert rows["toy-mean-shifted"]["MAPE"].text() == "0.6000 ± 0.1414"
    assert rows["toy-mean"]["fit s"].text() == "2.00 ± 1.41"
    assert rows["majority vote"]["MAPE"].text() == "n/a"  # classification-only method
    assert _rows(cls_section)["majority vote"]["accuracy"].text() == "0.7000 ± 0.1414"


def test_best_is_bold_for_lower_and_higher_is_better(setup, plugin_dir, write_suite):
    suite, reg, store, put = setup
    _full_reg(put)
    md = render(build(suite, reg, store), "md")
    lines = md.splitlines()
    mean_row = next(l for l in lines if l.startswith("| toy-mean "))
    shifted_row = next(l for l in lines if l.startswith("| toy-mean-shifted "))
    assert "**0.2000 ± 0.1414**" in mean_row and "**20.0000 ± 14.1421**" in mean_row
    assert "**" not in shifted_row
    assert "**2.00" not in mean_row  # fit seconds are never "best"

    # higher is better: a second classification method with lower accuracy
    path = write_suite('''
        seeds = [0]
        [[datasets]]
        name = "toy-cls"
        [[methods]]
        variant = "toy-majority"
        [[methods]]
        variant = "toy-boom"
        ''')
    s2 = load_suite(path, name="toy")
    for sp, acc in zip(s2.expand(reg), (0.9, 0.4)):
        put(None, {"accuracy": acc}, spec=sp)
    (section,) = build(s2, reg, store)
    rows = _rows(section)
    assert rows["toy-majority"]["accuracy"].best and not rows["toy-boom"]["accuracy"].best
    md = render([section], "md")
    assert "**0.9000**" in md and "**0.4000**" not in md


def test_a_single_row_is_not_marked_best(setup):
    suite, reg, store, put = setup
    put("toy-majority", {"accuracy": 0.6}, dataset="toy-cls", seed=0)
    _, cls_section = build(suite, reg, store)
    assert not _rows(cls_section)["majority vote"]["accuracy"].best


def test_failed_and_missing_cells(setup):
    suite, reg, store, put = setup
    put("toy-mean", {"mape": 0.1, "rmse": 1.0}, seed=0)
    put("toy-mean", status="failed", seed=1)
    put("toy-mean-shifted", {"mape": 0.5, "rmse": 2.0}, seed=0)
    reg_section, cls_section = build(suite, reg, store)
    rows = _rows(reg_section)
    assert rows["toy-mean"]["MAPE"].text() == "failed"  # one failed seed fails the cell
    assert rows["toy-mean"]["fit s"].text() == "failed"
    assert rows["toy-mean-shifted"]["MAPE"].text() == "0.5000 (n=1)"  # one of the suite's two seeds recorded: flagged, no ±
    assert not rows["toy-mean-shifted"]["MAPE"].best  # the only value: nothing to compare with
    assert _rows(cls_section)["majority vote"]["accuracy"].text() == "—"  # not run yet
    assert "| failed " in render([reg_section], "md")
    assert r"toy-mean & failed & failed & failed \\" in _squash(render([reg_section], "latex"))
    assert "toy-mean,failed,failed,failed" in render([reg_section], "csv")


def test_failed_first_seed_then_ok_is_still_failed(setup):
    suite, reg, store, put = setup
    put("toy-mean", status="failed", seed=0)
    put("toy-mean", {"mape": 0.1, "rmse": 1.0}, seed=1)
    rows = _rows(build(suite, reg, store)[0])
    assert rows["toy-mean"]["MAPE"].text() == "failed"


def test_footnote_has_fingerprint_seeds_hardware_versions_command(setup):
    suite, reg, store, put = setup
    _full_reg(put)
    section = build(suite, reg, store)[0]
    notes = "\n".join(section.notes)
    assert f"fingerprint `{FP}`" in notes
    assert "train/valid/test = 24/8/8 rows" in notes
    assert "synthetic, generated by bench (not real data)" in notes
    assert "Model seeds: 0, 1;" in notes and "split seeds" not in notes
    # one fixed split: the ± is over model seeds only, and the footnote says so
    assert f"mean ± std over 2 model seeds (initialisation and training order only; one split, fingerprint `{FP}`)" in notes
    assert "Hardware: Test CPU (2 cores)" in notes
    assert "Versions: numpy 2.0, python 3.11.0" in notes
    assert "Command: `bench run --suite toy`" in notes
    assert "†" not in notes
    md = render([section], "md", title="toy table")
    assert md.startswith("## toy table\n\n### toy-reg / fixed (synthetic data)")
    assert f"- Dataset: toy-reg (synthetic, generated by bench (not real data)); split `fixed`, fingerprint `{FP}`" in md


def test_records_of_older_plugin_code_are_marked_stale(setup):
    suite, reg, store, put = setup
    put("toy-mean", {"mape": 0.1, "rmse": 1.0}, seed=0, method_hash="0" * 16)
    section = build(suite, reg, store)[0]
    assert _rows(section)["toy-mean"]["MAPE"].text() == "0.1000 (n=1)†"
    assert any("recorded with older code" in n for n in section.notes)
    # a stale best cell keeps its mark in every format (LaTeX: escaped inside the bold)
    put("toy-mean-shifted", {"mape": 0.5, "rmse": 2.0}, seed=0)
    sections = build(suite, reg, store)
    assert "**0.1000 (n=1)†**" in render(sections, "md")
    assert r"\textbf{0.1000 (n=1)$^\dagger$}" in render(sections, "latex")
    assert "†" not in render(sections, "latex")
    # a record from the current code wins over a newer stale one
    put("toy-mean", {"mape": 0.2, "rmse": 2.0}, seed=0, finished="2024-01-01T00:00:00+00:00")
    assert _rows(build(suite, reg, store)[0])["toy-mean"]["MAPE"].text() == "0.2000 (n=1)"


def test_refuses_to_mix_split_fingerprints_in_one_section(setup):
    suite, reg, store, put = setup
    put("toy-mean", {"mape": 0.1, "rmse": 1.0}, seed=0, fp="fpA0000000000000")
    put("toy-mean-shifted", {"mape": 0.5, "rmse": 2.0}, seed=0, fp="fpB0000000000000")
    with pytest.raises(TableError) as err:
        build(suite, reg, store)
    msg = str(err.value)
    assert "toy-reg/fixed" in msg and "different split fingerprints" in msg
    assert "fpA0000000000000: toy-mean" in msg and "fpB0000000000000: toy-mean-shifted" in msg


def test_newest_record_of_a_run_decides_its_fingerprint(setup):
    suite, reg, store, put = setup
    # an old run of toy-mean on another split, then a newer one on the current split
    put("toy-mean", {"mape": 0.9, "rmse": 9.0}, seed=0, fp="fpOLD00000000000", finished="2024-01-01T00:00:00+00:00")
    put("toy-mean", {"mape": 0.1, "rmse": 1.0}, seed=0, fp=FP, finished="2024-06-01T00:00:00+00:00")
    put("toy-mean-shifted", {"mape": 0.5, "rmse": 2.0}, seed=0, fp=FP)
    section = build(suite, reg, store)[0]
    assert _rows(section)["toy-mean"]["MAPE"].text() == "0.1000 (n=1)"
    assert f"fingerprint `{FP}`" in section.notes[0]
    # now the newest toy-mean record is on the old split: the section mixes fingerprints
    put("toy-mean", {"mape": 0.9, "rmse": 9.0}, seed=0, fp="fpOLD00000000000", finished="2024-07-01T00:00:00+00:00")
    with pytest.raises(TableError, match="fpOLD00000000000: toy-mean\\)"):
        build(suite, reg, store)


def test_table_command_reports_mixed_fingerprints(setup, cli):
    suite, reg, store, put = setup
    invoke, _ = cli
    put("toy-mean", {"mape": 0.1, "rmse": 1.0}, seed=0, fp="fpA0000000000000")
    put("toy-mean-shifted", {"mape": 0.5, "rmse": 2.0}, seed=0, fp="fpB0000000000000")
    res = invoke("table", "--suite", "toy")
    assert res.exit_code == 1 and "refusing to compare" in res.output


def test_latex_html_csv(setup):
    suite, reg, store, put = setup
    _full_reg(put)
    sections = build(suite, reg, store)

    latex = _squash(render(sections, "latex", title="toy"))
    assert r"\begin{tabular}{lrrr}" in latex and r"\toprule" in latex and r"\end{table}" in latex
    assert r"\textbf{0.2000 $\pm$ 0.1414}" in latex
    assert r"toy-mean-shifted & 0.6000 $\pm$ 0.1414 & 50.0000 $\pm$ 14.1421 & 1.00 $\pm$ 0.00 \\" in latex
    assert r"majority vote & n/a & n/a & n/a \\" in latex
    assert "±" not in latex and "—" not in latex
    assert r"\caption{toy-reg / fixed (synthetic data)." in latex

    html = render(sections, "html", title="toy")
    assert "<h2>toy</h2>" in html and "<h3>toy-reg / fixed (synthetic data)</h3>" in html
    assert "<table>" in html and "<b>0.2000 ± 0.1414</b>" in html
    assert "<li>Dataset: toy-reg" in html

    rows = list(csv.reader(io.StringIO(render(sections, "csv"))))
    header = rows[0]
    assert header[:2] == ["dataset", "method"]
    assert set(header[2:]) == {"MAPE", "RMSE", "accuracy", "fit s"}
    by = {(r[0], r[1]): dict(zip(header, r)) for r in rows[1:]}
    assert by[("toy-reg / fixed (synthetic data)", "toy-mean")]["MAPE"] == "0.2000 ± 0.1414"
    assert by[("toy-reg / fixed (synthetic data)", "toy-mean-shifted")]["RMSE"] == "50.0000 ± 14.1421"
    assert by[("toy-reg / fixed (synthetic data)", "majority vote")]["MAPE"] == "n/a"
    assert by[("toy-reg / fixed (synthetic data)", "toy-mean")]["accuracy"] == ""
    assert by[("toy-cls / default (synthetic data)", "majority vote")]["accuracy"] == "0.7000 ± 0.1414"
    assert len(rows) == 1 + 3 + 3


def test_unknown_format(setup):
    suite, reg, store, _ = setup
    with pytest.raises(TableError, match="unknown format 'pdf'"):
        render(build(suite, reg, store), "pdf")


def test_layout_columns_and_reference_values(setup, write_suite):
    suite, reg, store, put = setup
    path = write_suite('''
        seeds = [0]
        [[datasets]]
        name = "toy-reg"
        split = "fixed"
        [[methods]]
        variant = "toy-mean"
        params = { scale = [1.0, 2.0] }
        [table]
        columns = ["scale"]
        metrics = ["mape"]
        column_labels = { "2.0" = "doubled" }
        [table.reference]
        "toy-mean" = { MAPE = 0.123 }
        ''')
    s2 = load_suite(path, name="toy")
    specs = s2.expand(reg)
    for sp, v in zip(specs, (0.4, 0.3)):
        put(None, {"mape": v, "rmse": 1.0}, spec=sp)
    (section,) = build(s2, reg, store, specs=specs)
    assert section.headers == ["MAPE (scale=1.0)", "MAPE (doubled)", "fit s (scale=1.0)", "fit s (doubled)",
                               "MAPE [paper]"]
    cells = _rows(section)["toy-mean"]
    assert cells["MAPE (scale=1.0)"].text() == "0.4000"
    assert cells["MAPE (doubled)"].text() == "0.3000"
    assert cells["MAPE [paper]"].text() == "0.1230"


def test_a_section_shows_its_own_reference_else_the_plain_one(setup, write_suite):
    """[table.reference."dataset/split"]: the ee-paper layout (the paper's two tables, one per split)."""
    _, reg, store, put = setup
    path = write_suite("""
        seeds = [0]
        [[datasets]]
        name = "toy-reg"
        split = "fixed"
        [[datasets]]
        name = "toy-reg"
        split = "other"
        [[methods]]
        variant = "toy-mean"
        label = "net"
        [[methods]]
        variant = "toy-mean-shifted"
        label = "net"
        column = "with EE"
        [table]
        metrics = ["mape"]
        [table.reference]
        "net" = { "MAPE" = 0.3, "MAPE (with EE)" = 0.2 }
        [table.reference."toy-reg/other"]
        "net" = { "MAPE (with EE)" = 0.07 }
        "toy-mean" = { "MAPE" = 0.9 }
        """)
    suite = load_suite(path)
    specs = suite.expand(reg)
    for sp, v in zip(specs, (0.25, 0.15, 0.35, 0.05)):
        put(None, {"mape": v, "rmse": 1.0}, spec=sp)
    fixed, other = build(suite, reg, store)
    assert fixed.title.startswith("toy-reg / fixed") and other.title.startswith("toy-reg / other")
    assert fixed.headers[-2:] == ["MAPE [paper]", "MAPE (with EE) [paper]"]
    row = _rows(fixed)["net"]
    assert [row[h].text() for h in ("MAPE", "MAPE [paper]", "MAPE (with EE) [paper]")] == ["0.2500", "0.3000", "0.2000"]
    assert list(_rows(fixed)) == ["net"]
    # the section's own rows replace the plain ones: columns, values and rows of its own
    assert other.headers == ["MAPE", "MAPE (with EE)", "fit s", "fit s (with EE)", "MAPE [paper]",
                             "MAPE (with EE) [paper]"]
    rows = _rows(other)
    assert list(rows) == ["net", "toy-mean"]
    assert [rows["net"][h].text() for h in ("MAPE", "MAPE (with EE)", "MAPE (with EE) [paper]")] == \
        ["0.3500", "0.0500", "0.0700"]
    assert rows["net"]["MAPE [paper]"].text() == "—" and rows["toy-mean"]["MAPE [paper]"].text() == "0.9000"


def test_suite_column_groups_put_two_variants_in_one_row(setup, write_suite):
    """`column = "..."` in a [[methods]] entry: the ee-paper layout (NN = mlp | ee in one row)."""
    _, reg, store, put = setup
    path = write_suite("""
        seeds = [0]
        [[datasets]]
        name = "toy-reg"
        [[methods]]
        variant = "toy-mean"
        label = "net"
        [[methods]]
        variant = "toy-mean-shifted"
        label = "net"
        column = "with EE"
        [table]
        metrics = ["mape"]
        [table.reference]
        "net" = { "MAPE" = 0.3, "MAPE (with EE)" = 0.2 }
        """)
    suite = load_suite(path)
    specs = suite.expand(reg)
    put("toy-mean", {"mape": 0.25, "rmse": 1.0}, spec=specs[0])
    put("toy-mean-shifted", {"mape": 0.15, "rmse": 1.0}, spec=specs[1])
    (section,) = build(suite, reg, store)
    assert section.headers == ["MAPE", "MAPE (with EE)", "fit s", "fit s (with EE)",
                               "MAPE [paper]", "MAPE (with EE) [paper]"]
    row = _rows(section)["net"]
    assert [row[h].text() for h in ("MAPE", "MAPE (with EE)", "MAPE [paper]")] == ["0.2500", "0.1500", "0.3000"]


def _squash(text: str) -> str:
    """LaTeX with runs of spaces made one (tabulate pads cells to line columns up)."""
    return "\n".join(" ".join(line.split()) for line in text.splitlines())


def test_latex_escapes_special_characters_in_labels_cells_and_captions():
    best = Cell(values=[0.25, 0.35], status="ok", best=True)
    other = Cell(values=[0.5, 0.5], status="ok")
    section = Section(title="ds_1 / 10% & more", headers=["MAPE_%", "#n"],
                      rows=[("mlp_bn & 50% {x}", [best, Cell(values=[3.0], status="ok")]), ("knn $1", [other, Cell(status="failed")])],
                      notes=["Note: a_b 5% ~ <", "stale runs: †"])
    latex = render([section], "latex")
    rows = _squash(latex).splitlines()
    assert r"method & MAPE\_\% & \#n \\" in rows
    assert r"mlp\_bn \& 50\% \{x\} & \textbf{0.3000 $\pm$ 0.0707} & 3.0000 \\" in rows
    assert r"knn \$1 & 0.5000 $\pm$ 0.0000 & failed \\" in rows
    assert (r"\caption{ds\_1 / 10\% \& more. Note: a\_b 5\% \textasciitilde{} \ensuremath{<} stale runs: $^\dagger$}"
            in rows)
    assert rows[3:6] == [r"\begin{tabular}{lrr}", r"\toprule", r"method & MAPE\_\% & \#n \\"]
    assert r"\midrule" in rows and r"\bottomrule" in rows and "±" not in latex and "†" not in latex
    # a bold mark typed into a label is dropped, so it cannot open a \textbf{ of its own
    marked = Section(title="t", headers=["MAPE"], rows=[("a\ue000b", [Cell(values=[1.0], status="ok")])], notes=[])
    assert r"ab & 1.0000 \\" in _squash(render([marked], "latex"))


def test_records_of_a_plugin_folder_render_without_it(cli, plugin_dir):
    """Records carry what a table needs: `bench table` without --plugins shows the rows the toy
    plugins made, from their records, and says they could not be checked against current code."""
    invoke, results = cli
    assert invoke("run", "--suite", "toy").exit_code == 0
    suite_file = str(plugin_dir / "toy.toml")
    with_plugins = invoke("table", "--suite", suite_file)
    without = invoke("table", "--suite", suite_file, plugins=False)
    assert without.exit_code == 0, without.output
    def rows(text: str) -> list[list[str]]:
        """Table rows as cells. Without the plugin a run that never happened cannot be told "n/a"
        (kind not supported) from missing: both are "no value" here."""
        cells = [[("—" if c.strip() == "n/a" else c.strip()) for c in line.strip("|").split("|")]
                 for line in text.splitlines() if line.startswith("| ") and not line.startswith("| method")]
        return [r for r in cells if set(r[1:]) != {"—"}]

    assert rows(without.output) == rows(with_plugins.output)  # the same rows and numbers
    assert "majority vote" in without.output and "toy-mean" in without.output
    assert "not checked against the current code" in without.output
    assert "not checked" not in with_plugins.output


def _epochs(*scores, column="valid_mape", **extra):
    return [{"epoch": i + 1, "train_loss": 1.0, column: v, **extra} for i, v in enumerate(scores)]


def test_still_improving_runs_are_marked_and_named_in_a_footnote(setup):
    """A run whose best validation epoch is its last (derived from the history of a record that
    does not say so itself) marks its metric cells and is named, with how to train longer."""
    suite, reg, store, put = setup
    put("toy-mean", {"mape": 0.10, "rmse": 30.0}, seed=0, history=_epochs(0.5, 0.4, 0.3))
    put("toy-mean", {"mape": 0.30, "rmse": 10.0}, seed=1, history=_epochs(0.5, 0.3, 0.4))
    put("toy-mean-shifted", {"mape": 0.50, "rmse": 40.0}, seed=0, history=_epochs(0.5, 0.3, 0.4))
    put("toy-mean-shifted", {"mape": 0.70, "rmse": 60.0}, seed=1)
    section = build(suite, reg, store)[0]
    rows = _rows(section)
    assert rows["toy-mean"]["MAPE"].text() == "0.2000 ± 0.1414 ↗"
    assert rows["toy-mean"]["RMSE"].text().endswith("↗")
    assert not rows["toy-mean"]["fit s"].text().endswith("↗")
    assert not rows["toy-mean-shifted"]["MAPE"].text().endswith("↗")  # best epoch 2 of 3
    [note] = [n for n in section.notes if n.startswith("↗")]
    assert "toy-mean (seed 0; 3 epochs)" in note and "toy-mean-shifted" not in note
    assert "`epochs = 6`" in note
    assert "$\\nearrow$" in render([section], "latex")


def test_a_records_own_verdict_beats_its_history(setup):
    suite, reg, store, put = setup
    put("toy-mean", {"mape": 0.10, "rmse": 30.0}, seed=0, history=_epochs(0.5, 0.4, 0.3),
        info={"still_improving": False})
    rows = _rows(build(suite, reg, store)[0])
    assert not rows["toy-mean"]["MAPE"].text().endswith("↗")


def test_training_info_per_fit_and_direction():
    from bench.results.history import training_info

    # one fit, lower is better, a note row after it (restored weights) ignored
    assert training_info(_epochs(0.5, 0.3, 0.4) + [{"epoch": 3, "note": "restored"}]) == {
        "best_epoch": 2, "epochs": 3, "still_improving": False}
    # accuracy: higher is better
    assert training_info(_epochs(0.5, 0.6, 0.7, column="valid_accuracy"))["still_improving"] is True
    assert training_info(_epochs(0.5, 0.7, 0.6, column="valid_accuracy"))["best_epoch"] == 2
    # an ensemble's members, and a blend's fits one after another (epochs restart at 1)
    members = _epochs(0.5, 0.4, member=0) + _epochs(0.5, 0.6, member=1)
    assert training_info(members) == {"best_epoch": [2, 1], "epochs": [2, 2], "still_improving": True}
    assert training_info(_epochs(0.5, 0.6) + _epochs(0.9, 0.8, 0.85)) == {
        "best_epoch": [1, 2], "epochs": [2, 3], "still_improving": False}
    # no per-epoch validation score, a single epoch, an unknown metric: nothing to say
    assert training_info([{"epoch": 1, "train_loss": 1.0}, {"epoch": 2, "train_loss": 0.5}]) == {}
    assert training_info(_epochs(0.5)) == {}
    assert training_info(_epochs(0.5, 0.4, column="valid_nosuchmetric")) == {}
