"""The practice-lr page: verdicts follow the numbers (annealing, one-cycle, discriminative rates,
lr-find's suggestion), a diverged schedule shows as such, the schedules' figure is lr_factors for
the runs' settings and agrees with the rate the records logged; the suite's structure, run on
embedded data, renders (slow)."""
from __future__ import annotations

import math
import tomllib

import pytest

from practice_helpers import ROOT, embedded_twin, run

from bench.practice import lr_page as lp
from bench.practice.suite_runs import DIVERGED, runs_from


def _group(scores: dict[str, float], std: float = 0.0, metric: str = "mape", **params):
    """Two seeds per label, test = score ± std."""
    pairs = [run(lb, seed=s, test=v + (std if s else -std), metric=metric, **params)
             for lb, v in scores.items() for s in (0, 1)]
    runs = runs_from(pairs)
    return runs, lp.rows(runs, "toyset", list(scores))


@pytest.mark.parametrize("step, holds", [(0.28, True), (0.31, False)])
def test_annealing_verdict_needs_every_annealed_schedule_to_beat_constant(step, holds):
    _, rows = _group({"constant": 0.30, "step": step, "cosine": 0.25, "one-cycle": 0.20})
    v = lp.annealing_verdict("toyset", rows)
    assert v.holds is holds
    assert f"step {step:.4f} ({'better' if holds else 'not better'}" in v.evidence


@pytest.mark.parametrize("metric, one_cycle, holds", [("mape", 0.10, True), ("mape", 0.50, False),
                                                      ("accuracy", 0.90, True), ("accuracy", 0.10, False)])
def test_one_cycle_verdict_is_direction_aware(metric, one_cycle, holds):
    _, rows = _group({"constant": 0.30, "step": 0.28, "cosine": 0.25, "one-cycle": one_cycle}, metric=metric)
    v = lp.one_cycle_verdict("toyset", rows)
    assert v.holds is holds
    assert v.evidence.startswith(f"test, best first: {'one-cycle' if holds else ''}")


@pytest.mark.parametrize("ten_x, holds", [(0.20, True), (0.40, False)])
def test_discriminative_verdict(ten_x, holds):
    _, rows = _group({"embeddings 1x": 0.30, "embeddings 3x": 0.25, "embeddings 10x": ten_x})
    assert lp.discriminative_verdict("toyset", rows).holds is holds


@pytest.mark.parametrize("found, std, holds", [(0.29, 0.0, True),  # better
                                                (0.32, 0.05, True),  # worse by 0.02, within std 0.05
                                                (0.32, 0.01, False)])  # worse by 0.02, std 0.01
def test_lr_find_verdict_allows_the_seeds_spread(found, std, holds):
    _, rows = _group({"lr-find rate": found, "own rate": 0.30}, std=std)
    v = lp.lr_find_verdict("toyset", rows)
    assert v.holds is holds, v.evidence


def test_a_diverged_schedule_is_shown_and_its_claims_wait(tmp_path):
    pairs = [run(lb, seed=s, test=0.3, schedule="constant") for lb in lp.SCHEDULES[:3] for s in (0, 1)]
    pairs += [run("one-cycle", seed=s, diverged_at=1, schedule="onecycle") for s in (0, 1)]
    runs = runs_from(pairs)
    rows = lp.rows(runs, "toyset", lp.SCHEDULES)
    assert rows[-1].stats.cell() == DIVERGED
    assert lp.annealing_verdict("toyset", rows).holds is None
    line = next(x for x in lp.table(rows, "schedule", "MAPE") if x.startswith("| one-cycle"))
    assert line.count(DIVERGED) == 2  # test and valid
    written = lp.write(runs, [], tmp_path / "page")
    text = written[0].read_text()
    assert "Verdict: **cannot be judged yet**" in text
    assert {p.name for p in written} >= {"README.md", "schedules.png", "curves-annealing.png"}


def test_the_schedule_line_is_lr_factors_and_matches_the_logged_rates():
    """A step schedule (x0.1 every epoch, 10 steps an epoch): the line drops at steps 11 and 21 and
    passes through the rate the record logged after each epoch."""
    spec, rec = run("step", lr=0.1, valid=[0.5, 0.4, 0.3], schedule="step", batch_size=32,
                    train_options={"step_every": 1})
    for row, lr in zip(rec.history, (0.1, 0.01, 0.001)):
        row["lr"] = lr
    [r] = lp.rows(runs_from([(spec, rec)]), "toyset", ["step"])
    line = lp.schedule_line(r)
    assert len(line.y) == 30 and line.y[0] == pytest.approx(0.1)
    assert line.y[10] == pytest.approx(0.01) and line.y[29] == pytest.approx(0.001)
    for x, y, _ in line.marks:
        assert line.y[int(x) - 1] == pytest.approx(y)


def test_the_suite_has_every_experiment_the_page_reads():
    suite = tomllib.loads((ROOT / "suites" / "practice-lr.toml").read_text())
    by = {}
    for m in suite["methods"]:
        for task in m["datasets"]:
            by.setdefault(task, {})[m["label"]] = m
    for task in ("rossmann", "cifar10"):
        assert set(lp.SCHEDULES) | set(lp.LR_FIND) <= set(by[task])
        epochs = {by[task][lb]["params"]["epochs"] for lb in lp.SCHEDULES}
        assert len(epochs) == 1  # the same budget
        assert [by[task][lb]["params"].get("schedule") for lb in lp.SCHEDULES] == \
            ["constant", "step", "cosine", "onecycle"]
    assert set(lp.DISCRIMINATIVE) <= set(by["rossmann"])
    assert [by["rossmann"][lb]["params"]["lr_mult"]["stem.embeds"] for lb in lp.DISCRIMINATIVE] == [1.0, 3.0, 10.0]
    assert by["rossmann"]["lr-find rate"]["params"]["lr"] == 0.0019 and by["rossmann"]["own rate"]["params"]["lr"] == 0.003
    assert by["cifar10"]["lr-find rate"]["params"]["lr"] == 0.0013 and by["cifar10"]["own rate"]["params"]["lr"] == 0.1


@pytest.mark.slow
def test_the_suite_on_embedded_data_renders_its_page(tmp_path, bench_cmd):
    from bench.cli.practice_pages import suite_runs

    suite = embedded_twin("practice-lr", tmp_path / "suites", epochs=3)
    results, out = tmp_path / "results", tmp_path / "page"
    ran = bench_cmd(["run", "--suite", suite, "--results-dir", results, "--executor", "inline", "--device", "cpu",
                     "--threads", "1", "--quiet", "--format", "none"])
    assert ran.exit_code == 0, ran.output
    shown = bench_cmd(["practice", "lr", "--suite", suite, "--results-dir", results, "--out", out])
    assert shown.exit_code == 0, shown.output
    text = (out / "README.md").read_text()
    assert text.count("### Claim") == len(lp.CLAIMS) and "missing" not in text
    assert "transfer-learning" in text
    for name in ("schedules.png", "curves-annealing.png", "curves-discriminative.png", "curves-lr-find.png"):
        assert (out / name).read_bytes()[:4] == b"\x89PNG"
    _, runs = suite_runs(str(suite), str(results), ())
    for task in ("rossmann-sim", "digits"):
        for row in lp.rows(runs, task, lp.SCHEDULES):
            line = lp.schedule_line(row)
            assert len(line.marks) == 3  # one logged rate per epoch, each on the computed line
            assert all(math.isclose(line.y[int(x) - 1], y, rel_tol=1e-6) for x, y, _ in line.marks), row.label
