"""The practice-overfit page: per-run measures read off the history (best epoch, tested epoch, the
valid score lost after the best, the train - valid gap), each claim's verdict on hand-built runs
where it holds and where it does not, the suite's plan and structure, and the suite's structure
run on embedded data renders its page (slow)."""
from __future__ import annotations

import json
import statistics
import tomllib

import pytest

from practice_helpers import ROOT, embedded_twin, run

from bench.practice import overfit as of
from bench.practice import overfit_page as page
from bench.practice.suite_runs import make_run, runs_from
from bench.practice.summary import read_summary

SEEDS = (0, 1, 2)


def acc_run(label, valid, train_error=None, seed=0, test=0.5, n_parameters=68050, **params):
    """A CIFAR-like run: valid accuracy per epoch, training error per epoch, n_parameters in info."""
    train_error = train_error if train_error is not None else [0.5 - 0.1 * i for i in range(len(valid))]
    spec, rec = run(label, seed=seed, valid=valid, test=test, metric="accuracy", **params)
    for row, err in zip(rec.history, train_error):
        row["train_error"] = err
    if n_parameters is not None:
        rec.info["n_parameters"] = n_parameters
    return spec, rec


def configs(pairs):
    return of.configs_for(runs_from(pairs), "toyset")


def test_measures_read_the_history():
    """restore_best tests the best epoch (first to reach it); otherwise the last; the gap is the
    tested epoch's training accuracy (1 - train_error) minus its valid accuracy."""
    spec, rec = acc_run("none", [0.3, 0.5, 0.5, 0.4], train_error=[0.6, 0.3, 0.2, 0.05], restore_best=False)
    m = of.measures(make_run(spec, rec))
    assert (m.best_epoch, m.tested_epoch, m.epochs_run) == (2, 4, 4)
    assert m.lost == pytest.approx(0.1) and m.gap == pytest.approx(0.95 - 0.4)
    spec, rec = acc_run("early-stop", [0.3, 0.5, 0.5, 0.4], train_error=[0.6, 0.3, 0.2, 0.05], restore_best=True)
    m = of.measures(make_run(spec, rec))
    assert (m.tested_epoch, m.tested_valid) == (2, 0.5) and m.gap == pytest.approx(0.7 - 0.5)
    spec, rec = run("none", valid=[0.3, 0.2, 0.25], restore_best=False)  # MAPE: lower is better, no train score
    m = of.measures(make_run(spec, rec))
    assert (m.best_epoch, m.gap) == (2, None) and m.lost == pytest.approx(0.05)


@pytest.mark.parametrize("valid, train, holds", [
    ([0.30, 0.45, 0.40, 0.36], [2.0, 1.5, 1.0, 0.5], True),  # peaks in epoch 2, then worse while train falls
    ([0.30, 0.40, 0.44, 0.45], [2.0, 1.5, 1.0, 0.5], False),  # still improving at the end
    ([0.30, 0.45, 0.40, 0.36], [2.0, 0.5, 1.0, 1.5], False),  # valid worse, but so is the training loss
])
def test_overfit_verdict(valid, train, holds):
    pairs = [run("none", seed=s, metric="accuracy", train=train, restore_best=False,
                 valid=[v + 0.002 * s for v in valid]) for s in SEEDS]
    v = of.overfits_verdict("toyset", configs(pairs))
    assert v.holds is holds
    assert "is best in epoch" in v.evidence


def test_overfit_verdict_needs_more_than_noise():
    """The last epoch is worse than the peak, but by less than the seeds' spread there."""
    ends = (0.30, 0.45, 0.38)
    pairs = [run("none", seed=s, metric="accuracy", train=[2.0, 1.0, 0.5], restore_best=False,
                 valid=[0.3, 0.40, ends[s]]) for s in SEEDS]
    assert statistics.fmean(ends) < 0.40 and statistics.stdev(ends) > 0.40 - statistics.fmean(ends)
    assert of.overfits_verdict("toyset", configs(pairs)).holds is False


def _cure_runs(cure_test: dict[str, float], cure_err: dict[str, float]):
    """none: train error 0 at the end (gap 0.6); each cure with its own final train error and test."""
    pairs = [acc_run("none", [0.3, 0.4], [0.5, 0.0], seed=s, test=0.40) for s in SEEDS]
    for label in of.CURES:
        pairs += [acc_run(label, [0.3, 0.4], [0.5, cure_err[label]], seed=s, test=cure_test[label] + 0.001 * s)
                  for s in SEEDS]
    return configs(pairs)


def test_cures_verdict_holds_when_every_cure_narrows_the_gap_and_improves_test():
    v = of.cures_verdict("toyset", _cure_runs(dict.fromkeys(of.CURES, 0.45), dict.fromkeys(of.CURES, 0.3)))
    assert v.holds is True
    assert "none 0.6000" in v.evidence and "l2 0.3000 (narrower), test 0.4510 (better)" in v.evidence


@pytest.mark.parametrize("what", ["test", "gap"])
def test_cures_verdict_fails_when_one_cure_does_not(what):
    tests, errs = dict.fromkeys(of.CURES, 0.45), dict.fromkeys(of.CURES, 0.3)
    if what == "test":
        tests["adamw"] = 0.35
    else:
        errs["dropout"] = 0.0  # as wide a gap as none's
    v = of.cures_verdict("toyset", _cure_runs(tests, errs))
    assert v.holds is False
    assert ("adamw 0.3000 (narrower), test 0.3510 (not better)" if what == "test"
            else "dropout 0.6000 (not narrower)") in v.evidence


def test_cures_verdict_falls_back_to_the_valid_score_lost_without_a_train_score():
    """MAPE runs (no training score in valid's units): the gap is the valid score lost after the best."""
    pairs = [run("none", seed=s, valid=[0.3, 0.2, 0.26], test=0.25, restore_best=False) for s in SEEDS]
    pairs += [run("l2", seed=s, valid=[0.3, 0.2, 0.21], test=0.22, restore_best=False) for s in SEEDS]
    cs = configs(pairs)
    assert of.gap_kind(cs) == "lost"
    v = of.cures_verdict("toyset", cs)
    assert v.holds is True and "valid score lost after the best epoch" in v.evidence


@pytest.mark.parametrize("early_test, holds", [(0.46, True), (0.30, False)])
def test_early_stopping_verdict_follows_the_test_score(early_test, holds):
    pairs = [acc_run("none", [0.3, 0.5, 0.45, 0.4, 0.38], seed=s, test=0.40, restore_best=False) for s in SEEDS]
    pairs += [acc_run("early-stop", [0.3, 0.5, 0.45, 0.4], seed=s, test=early_test + 0.001 * s, restore_best=True,
                      patience=2) for s in SEEDS]
    v = of.early_verdict("toyset", configs(pairs))
    assert v.holds is holds
    assert "4.0 vs 5.0 epochs" in v.evidence and "best epoch in 3 of 3 seeds" in v.evidence


def test_early_stopping_that_stops_before_the_best_epoch_does_not_recover_it():
    """Stopped (patience 1) on a first peak of 0.40 while training on reaches 0.60 later: the test
    score is as good, but the best valid epoch is not recovered."""
    pairs = [acc_run("none", [0.3, 0.4, 0.35, 0.5, 0.6, 0.55], seed=s, test=0.40, restore_best=False)
             for s in SEEDS]
    pairs += [acc_run("early-stop", [0.3, 0.4, 0.35], seed=s, test=0.40, restore_best=True, patience=1)
              for s in SEEDS]
    v = of.early_verdict("toyset", configs(pairs))
    assert v.holds is False and "not recovered" in v.evidence and "best epoch in 0 of 3 seeds" in v.evidence


@pytest.mark.parametrize("adamw_test, holds", [(0.30, True), (0.451, False)])
def test_l2_vs_adamw_verdict(adamw_test, holds):
    pairs = [acc_run("l2", [0.3, 0.4], seed=s, test=0.45 + 0.002 * s, weight_decay=0.01) for s in SEEDS]
    pairs += [acc_run("adamw", [0.3, 0.4], seed=s, test=adamw_test + 0.002 * s, weight_decay=0.01) for s in SEEDS]
    v = of.adam_l2_verdict("toyset", configs(pairs))
    assert v.holds is holds and "at weight decay 0.01" in v.evidence


def test_l2_vs_adamw_at_different_weight_decays_cannot_be_judged():
    pairs = [acc_run("l2", [0.3, 0.4], seed=s, weight_decay=0.01) for s in SEEDS]
    pairs += [acc_run("adamw", [0.3, 0.4], seed=s, weight_decay=0.1) for s in SEEDS]
    assert of.adam_l2_verdict("toyset", configs(pairs)).holds is None


def test_a_missing_run_leaves_its_claims_unjudged_and_the_table_says_so():
    pairs = [acc_run("none", [0.3, 0.4], seed=s) for s in SEEDS]
    runs = runs_from(pairs)
    spec, _ = acc_run("l2", [0.3, 0.4], seed=0)
    runs.append(make_run(spec, None))
    cs = of.configs_for(runs, "toyset")
    assert of.cures_verdict("toyset", cs).holds is None
    text = page.readme(runs)
    assert "| l2 |" in text and "missing" in text


def test_the_table_puts_the_parameter_count_next_to_the_training_size():
    cs = configs([acc_run("none", [0.3, 0.4], seed=s) for s in SEEDS])
    assert page.size_cell(cs["none"]) == "68,050 / 320 (213 per example)"
    cs = configs([acc_run("none", [0.3, 0.4], seed=s, n_parameters=None) for s in SEEDS])
    assert page.size_cell(cs["none"]).startswith("not recorded by the plugin")


def test_the_suite_plans_every_configuration_on_both_tasks(bench_cmd, tmp_path):
    result = bench_cmd(["run", "--suite", "practice-overfit", "--dry-run", "--results-dir", tmp_path])
    assert result.exit_code == 0, result.output
    assert "suite practice-overfit: 36 runs" in result.output


def test_the_suite_configurations_differ_only_in_their_settings():
    """Within a task every entry shares every parameter but the regularisation settings; none has
    none of them; L2 and AdamW share one weight decay; only early stopping restores the best weights."""
    suite = tomllib.loads((ROOT / "suites" / "practice-overfit.toml").read_text())
    assert suite["seeds"] == [0, 1, 2]
    own = {"optimizer", "weight_decay", "dropout", "emb_dropout", "restore_best", "patience"}
    for task in ("rossmann", "cifar10"):
        entries = {m["label"]: m for m in suite["methods"] if m["datasets"] == [task]}
        assert tuple(entries) == of.CONFIGS
        assert len({m["variant"] for m in entries.values()}) == 1
        shared = [{k: v for k, v in m["params"].items() if k not in own} for m in entries.values()]
        assert all(s == shared[0] for s in shared)
        p = {lb: m["params"] for lb, m in entries.items()}
        assert p["none"]["weight_decay"] == 0 and p["none"].get("dropout", 0) == 0 and not p["none"]["restore_best"]
        assert p["l2"]["optimizer"] == "adam" and p["adamw"]["optimizer"] == "adamw"
        assert p["l2"]["weight_decay"] == p["adamw"]["weight_decay"] == p["dropout+l2"]["weight_decay"] > 0
        assert p["dropout"]["dropout"] == p["dropout+l2"]["dropout"] > 0
        assert p["early-stop"]["restore_best"] and p["early-stop"]["patience"] >= 1
        assert [lb for lb in p if p[lb]["restore_best"]] == ["early-stop"]


def test_no_records_is_a_clear_error(bench_cmd, tmp_path):
    result = bench_cmd(["practice", "overfit", "--results-dir", tmp_path / "empty", "--out", tmp_path / "page"])
    assert result.exit_code == 1
    assert "no record of suite practice-overfit" in result.output and "bench run --suite" in result.output
    assert not (tmp_path / "page").exists()


@pytest.mark.slow
def test_the_suite_on_embedded_data_renders_its_page(tmp_path, bench_cmd):
    """The suite's entries on embedded data, two seeds, a few epochs: the page's table shows each
    configuration's test mean from the records, its figures are PNGs, summary.json reads back
    with the README's verdict words."""
    suite = embedded_twin("practice-overfit", tmp_path / "suites", seeds=(0, 1), epochs=4)
    results, out = tmp_path / "results", tmp_path / "page"
    ran = bench_cmd(["run", "--suite", suite, "--results-dir", results, "--executor", "inline", "--device", "cpu",
                     "--threads", "1", "--quiet", "--format", "none"])
    assert ran.exit_code == 0, ran.output
    shown = bench_cmd(["practice", "overfit", "--suite", suite, "--results-dir", results, "--out", out])
    assert shown.exit_code == 0, shown.output
    assert "24 of 24 runs recorded" in shown.output
    text = (out / "README.md").read_text()
    assert text.count("### Claim") == len(of.CLAIMS) and "missing" not in text
    for name in ("gap-rossmann-sim.png", "gap-digits.png", "curves-rossmann-sim.png", "curves-digits.png"):
        assert (out / name).read_bytes()[:4] == b"\x89PNG"
    tests: dict[tuple[str, str], list[float]] = {}
    params: dict[tuple[str, str], int] = {}
    for f in (results / "runs").glob("*.json"):
        rec = json.loads(f.read_text())
        metric = rec["dataset"]["metrics"][0]
        tests.setdefault((rec["spec"]["dataset"], rec["label"]), []).append(rec["metrics"][metric])
        params[(rec["spec"]["dataset"], rec["label"])] = rec["info"]["n_parameters"]
    assert len(tests) == 2 * len(of.CONFIGS)
    for (ds, label), vals in tests.items():
        section = text.split(f"## {ds}\n")[1]
        row = next(x for x in section.splitlines() if x.startswith(f"| {label} |"))
        assert f"| {statistics.fmean(vals):.4f} ± {statistics.stdev(vals):.4f} |" in row, (ds, label, row)
        assert f"| {params[(ds, label)]:,} / " in row
    doc = read_summary(out / "summary.json")
    assert doc["figures"][0] == "gap-rossmann-sim.png" and len(doc["claims"]) == len(of.CLAIMS)
    for i, c in enumerate(doc["claims"]):
        block = text.split(f"### Claim {i + 1}:")[1].split("###")[0]
        assert f"Verdict: **{c['verdict']}**" in block
        for e in c["evidence"]:
            assert f"**{e['task']}**: {e['verdict']} at this scale: {e['line']}" in block
