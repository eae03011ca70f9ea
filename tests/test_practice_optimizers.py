"""The practice-optimizers page: the grid's rate is chosen on valid (never test), a diverged run
shows as diverged and is never chosen, verdicts follow the numbers; and the suite's structure,
run on embedded data, renders (slow)."""
from __future__ import annotations

import json
import statistics
import tomllib
from pathlib import Path

import pytest

from practice_helpers import ROOT, embedded_twin, run

from bench.practice import optimizers_page as op
from bench.practice.suite_runs import DIVERGED, best_lr, make_run, runs_from, select, valid_score

METHODS = [{"label": lb, "params": {"lr": [0.01, 0.1]}} for lb in op.OPTIMIZERS]


def test_the_rate_is_chosen_on_valid_never_on_test():
    """lr 0.01 is better on valid, lr 0.1 on test: the chosen rate is 0.01, and the table shows
    0.01's test score. Picking on test would choose 0.1 and fail here."""
    pairs = [run("adam", lr=0.01, seed=s, valid=[0.30, 0.20], test=0.50) for s in (0, 1)]
    pairs += [run("adam", lr=0.1, seed=s, valid=[0.30, 0.25], test=0.10) for s in (0, 1)]
    runs = runs_from(pairs)
    lr, grid = best_lr(runs)
    assert lr == 0.01
    assert grid[0.1].mean("test") < grid[0.01].mean("test")  # the trap: test prefers the other rate
    [row] = op.rows_for(runs, "toyset", [{"label": "adam", "params": {"lr": [0.1, 0.01]}}])
    assert (row.usual_lr, row.chosen_lr) == (0.1, 0.01)
    line = next(x for x in op.table([row], "MAPE") if x.startswith("| adam"))
    assert "| 0.01 | 0.5000 ± 0.0000 |" in line and "**0.01: 0.2000**" in line


def test_higher_is_better_metrics_pick_the_highest_valid_score():
    pairs = [run("sgd", lr=lr, valid=[v], test=0.5, metric="accuracy") for lr, v in ((0.1, 0.4), (0.3, 0.7), (1.0, 0.6))]
    assert best_lr(runs_from(pairs))[0] == 0.3


def test_valid_score_is_the_tested_weights():
    """restore_best keeps the best epoch's weights (its score); without it the last epoch's."""
    _, kept = run("x", valid=[0.3, 0.2, 0.4])
    _, last = run("x", valid=[0.3, 0.2, 0.4], restore_best=False)
    assert valid_score(kept, lower_is_better=True) == 0.2
    assert valid_score(last, lower_is_better=True) == 0.4


@pytest.mark.parametrize("how", ["nan-history", "failed-nan-predictions"])
def test_a_diverged_rate_shows_as_diverged_and_is_never_chosen(how, tmp_path):
    """lr 1.0's surviving seed has the best valid score, but its other seed diverged: it is shown
    as diverged and 0.1 is chosen; the page and its figures still render."""
    good = [run("sgd", lr=0.1, seed=s, valid=[0.5, 0.4]) for s in (0, 1)]
    bad = [run("sgd", lr=1.0, seed=0, valid=[0.2, 0.1])]
    if how == "nan-history":
        bad.append(run("sgd", lr=1.0, seed=1, diverged_at=2))
    else:
        bad.append(run("sgd", lr=1.0, seed=1, status="failed",
                       error="ValueError: method toy-net: predict returned 80 non-finite values (NaN/inf)"))
    runs = runs_from(good + bad)
    assert [r.status for r in select(runs, lr=1.0)] == ["ok", DIVERGED]
    lr, grid = best_lr(runs)
    assert lr == 0.1
    assert grid[1.0].cell() == f"{DIVERGED} (1 of 2 seeds)"
    methods = [{"label": "sgd", "params": {"lr": [1.0, 0.1]}}]
    [row] = op.rows_for(runs, "toyset", methods)
    line = next(x for x in op.table([row], "MAPE") if x.startswith("| sgd"))
    assert f"| 1 | {DIVERGED} (1 of 2 seeds) |" in line and f"1: {DIVERGED} (1 of 2 seeds)" in line
    written = op.write(runs, methods, tmp_path / "page")
    assert all(p.stat().st_size > 0 for p in written)
    assert (tmp_path / "page" / "lr-grid.png").read_bytes()[:4] == b"\x89PNG"


def test_all_seeds_diverged_leaves_no_choice():
    runs = runs_from([run("sgd", lr=1.0, seed=s, diverged_at=1) for s in (0, 1)])
    lr, grid = best_lr(runs)
    assert lr is None and grid[1.0].cell() == DIVERGED
    [row] = op.rows_for(runs, "toyset", [{"label": "sgd", "params": {"lr": [1.0]}}])
    assert row.chosen.cell() == "missing"


def _optimizer_runs(train: dict[str, float], test: dict[str, float], usual_valid: dict[str, float]):
    """Each optimizer at lr 0.01 (usual) and 0.1 (its valid score 0.1: always chosen)."""
    pairs = []
    for lb in op.OPTIMIZERS:
        for s in (0, 1):
            pairs.append(run(lb, lr=0.01, seed=s, valid=[usual_valid[lb]], train=[train[lb]], test=test[lb]))
            pairs.append(run(lb, lr=0.1, seed=s, valid=[0.1], train=[train[lb]], test=test[lb]))
    return runs_from(pairs)


FLAT = {lb: 0.5 for lb in op.OPTIMIZERS}


@pytest.mark.parametrize("mom_loss, holds", [(0.3, True), (0.7, False)])
def test_momentum_verdict_follows_the_training_loss(mom_loss, holds):
    runs = _optimizer_runs({**FLAT, "sgd-momentum": mom_loss}, FLAT, FLAT)
    v = op.momentum_verdict("toyset", op.rows_for(runs, "toyset", METHODS))
    assert v.holds is holds
    assert f"{mom_loss:.4g} with momentum and 0.5 without" in v.evidence
    assert v.line().startswith(f"**toyset**: {'holds' if holds else 'does not hold'} at this scale")


@pytest.mark.parametrize("adaptive_gap, holds", [(0.02, True), (0.3, False)])
def test_tuning_verdict_compares_the_loss_from_keeping_the_usual_rate(adaptive_gap, holds):
    usual = {lb: (0.1 + adaptive_gap if lb in op.ADAPTIVE else 0.3) for lb in op.OPTIMIZERS}
    runs = _optimizer_runs(FLAT, FLAT, usual)
    assert op.tuning_verdict("toyset", op.rows_for(runs, "toyset", METHODS)).holds is holds


@pytest.mark.parametrize("adamw, holds", [(0.2, True), (0.4, False)])
def test_adamw_verdict_follows_the_test_scores(adamw, holds):
    runs = _optimizer_runs(FLAT, {**{lb: 0.3 for lb in op.OPTIMIZERS}, "adamw": adamw}, FLAT)
    assert op.adamw_verdict("toyset", op.rows_for(runs, "toyset", METHODS)).holds is holds


def test_a_missing_run_is_shown_and_its_claim_cannot_be_judged():
    """A seed not run yet at adam's usual rate: that cell says so, the rate is still chosen from
    the complete ones, and the claim that needs the usual rate's mean waits for it."""
    runs = _optimizer_runs(FLAT, FLAT, FLAT)
    spec, _ = run("adam", lr=0.01, seed=2)
    runs.append(make_run(spec, None))  # planned, never run
    rows = op.rows_for(runs, "toyset", METHODS)
    adam = next(r for r in rows if r.label == "adam")
    assert adam.chosen_lr == 0.1 and adam.usual.cell() == "missing (1 of 3 seeds)"
    assert op.tuning_verdict("toyset", rows).holds is None
    assert op.momentum_verdict("toyset", rows).holds is not None
    text = op.readme(runs, METHODS)
    claim2 = text.split("### Claim 2")[1].split("### Claim 3")[0]
    assert "Verdict: **cannot be judged yet**" in claim2 and "missing (1 of 3 seeds)" in text


def test_the_suite_lists_every_optimizer_on_both_tasks_with_its_usual_rate_first():
    """The page reads the usual rate as the first of a row's grid in the suite file."""
    suite = tomllib.loads((ROOT / "suites" / "practice-optimizers.toml").read_text())
    for task in ("rossmann", "cifar10"):
        entries = {m["label"]: m for m in suite["methods"] if task in m["datasets"]}
        assert set(entries) == set(op.OPTIMIZERS)
        for m in entries.values():
            grid = m["params"]["lr"]
            assert isinstance(grid, list) and len(grid) == len(set(grid)) >= 3
    assert suite["seeds"] == [0, 1, 2]


def test_the_suites_plan(bench_cmd, tmp_path):
    for name, n in (("practice-optimizers", 90), ("practice-lr", 45)):
        result = bench_cmd(["run", "--suite", name, "--dry-run", "--results-dir", tmp_path])
        assert result.exit_code == 0, result.output
        assert f"suite {name}: {n} runs" in result.output


def _chosen_from_records(results: Path) -> dict[tuple[str, str], float]:
    """Independently of bench.practice: each (dataset, label)'s lr with the best mean valid score."""
    scores: dict[tuple[str, str, float], list[float]] = {}
    for f in (results / "runs").glob("*.json"):
        rec = json.loads(f.read_text())
        metric = rec["dataset"]["metrics"][0]
        lower = rec["dataset"]["metric_info"][metric]["lower_is_better"]
        vals = [r[f"valid_{metric}"] for r in rec["history"] if f"valid_{metric}" in r and "note" not in r]
        best = (min if lower else max)(vals) if rec["spec"]["params"]["restore_best"] else vals[-1]
        scores.setdefault((rec["spec"]["dataset"], rec["label"], rec["spec"]["params"]["lr"]), []).append(best)
    out: dict[tuple[str, str], tuple[float, float]] = {}
    for (ds, label, lr), v in scores.items():
        sign = 1 if ds == "rossmann-sim" else -1  # MAPE lower, accuracy higher
        m = sign * statistics.fmean(v)
        if (ds, label) not in out or m < out[(ds, label)][0]:
            out[(ds, label)] = (m, lr)
    return {k: lr for k, (_, lr) in out.items()}


@pytest.mark.slow
def test_the_suite_on_embedded_data_renders_its_page(tmp_path, bench_cmd):
    suite = embedded_twin("practice-optimizers", tmp_path / "suites")
    results, out = tmp_path / "results", tmp_path / "page"
    ran = bench_cmd(["run", "--suite", suite, "--results-dir", results, "--executor", "inline", "--device", "cpu",
                     "--threads", "1", "--quiet", "--format", "none"])
    assert ran.exit_code == 0, ran.output
    shown = bench_cmd(["practice", "optimizers", "--suite", suite, "--results-dir", results, "--out", out])
    assert shown.exit_code == 0, shown.output
    assert "30 of 30 runs recorded" in shown.output
    text = (out / "README.md").read_text()
    assert text.count("### Claim") == len(op.CLAIMS) and "missing" not in text
    for name in ("curves-rossmann-sim.png", "curves-digits.png", "lr-grid.png"):
        assert (out / name).read_bytes()[:4] == b"\x89PNG"
    chosen = _chosen_from_records(results)
    for (ds, label), lr in chosen.items():
        section = text.split(f"## {ds}\n")[1]
        row = next(x for x in section.splitlines() if x.startswith(f"| {label} |"))
        assert row.split(" | ")[5] == f"{lr:g}", (ds, label, row)
    assert len(chosen) == 2 * len(op.OPTIMIZERS)


def test_stale_records_are_counted_on_the_page():
    spec, rec = run("adam", lr=0.01)
    text = op.readme(runs_from([(spec, rec, True)]), METHODS)
    assert "1 recorded by older code (stale" in text


def test_no_records_is_a_clear_error(bench_cmd, tmp_path):
    result = bench_cmd(["practice", "optimizers", "--results-dir", tmp_path / "empty", "--out", tmp_path / "page"])
    assert result.exit_code == 1
    assert "no record of suite practice-optimizers" in result.output and "bench run --suite" in result.output
    assert not (tmp_path / "page").exists()
