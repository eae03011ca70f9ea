"""`bench practice bn`: divergence read from records (failed over NaN predictions, or a non-finite
history), time to a target read from the per-epoch history, verdicts that follow the numbers both
ways, and the page and its command on hand-built records of the practice-bn suite."""
from __future__ import annotations

import math
from pathlib import Path

import pytest

from bench.core.spec import RunRecord, RunSpec
from bench.practice.bn import Grid, grid_verdicts, reached
from bench.practice.bn_ranges import Ranges, range_verdicts
from bench.practice.bn_report import build, readme, write_files
from bench.practice.suite_runs import divergence, runs_from as collect

NAN_ERROR = "ValueError: method ee-bn: predict returned 64343 non-finite values (NaN/inf)"


def history(scores, key="valid_accuracy", loss=None, seconds=2.0):
    """Epoch rows as bench.nn logs them: one per epoch, a "diverged" note after a non-finite one."""
    rows = []
    for i, s in enumerate(scores):
        train_loss = loss[i] if loss is not None else 1.0 / (i + 1)
        rows.append({"epoch": i + 1, "train_loss": train_loss, key: s, "lr": 0.1, "seconds": seconds})
        if not (math.isfinite(train_loss) and math.isfinite(s)):
            rows.append({"epoch": i + 1, "note": f"diverged at epoch {i + 1} (non-finite loss or metric)"})
            break
    return rows


def spec(method="plain-20", bn=True, lr=0.1, seed=0, dataset="cifar10", extra=()):
    params = tuple(sorted({"batchnorm": bn, "lr": lr, "epochs": 3, **dict(extra)}.items()))
    overrides = tuple(sorted({"lr": lr, "epochs": 3, **dict(extra)}.items()))
    return RunSpec(suite="practice-bn", dataset=dataset, dataset_params=(), split="s", method=method, params=params,
                   seed=seed, overrides=overrides, label=method)


def record(s: RunSpec, status="ok", rows=(), metrics=None, error=None, metric="accuracy") -> RunRecord:
    ident = s.identity
    return RunRecord(key="k" + s.spec_id, spec_id=s.spec_id, spec=ident, status=status, metrics=metrics or {},
                     error=error, history=list(rows), dataset={"metrics": [metric]},
                     split={"name": s.split, "fingerprint": "f" * 16, "sizes": {"train": 10, "valid": 5, "test": 5}},
                     threads=1, hardware="test box", device="cpu", versions={"torch": "x"}, suite=s.suite,
                     command="bench run --suite practice-bn --threads 1", finished_at="2026-01-01T00:00:00+00:00",
                     overrides=dict(s.overrides))


def run(bn, lr, seed, scores, test, method=None, **kw):
    """A (spec, record) pair of a CIFAR-like run; ``scores`` None: the run diverged in epoch 1 and
    its NaN predictions failed it; a NaN in ``scores``: its history went non-finite."""
    s = spec(method or ("plain-20" if bn else "plain-20-nobn"), bn, lr, seed, **kw)
    if scores is None:
        return s, record(s, "failed", history([math.nan], loss=[math.nan]), error=NAN_ERROR)
    return s, record(s, "ok", history(scores), {"accuracy": test})


def grid_pairs(good: dict[bool, list[float]], fast: bool):
    """Both arms on rates 0.01, 0.1, 1; an arm trains (score 0.5 by epoch 3) at the rates in
    ``good[arm]`` and diverges at the others; ``fast`` makes batchnorm reach 0.4 by epoch 1
    (the other arm by epoch 3), else the other way round."""
    pairs = []
    for bn in (True, False):
        quick = bn == fast
        for lr in (0.01, 0.1, 1.0):
            for seed in (0, 1, 2):
                if lr not in good[bn]:
                    pairs.append(run(bn, lr, seed, None if seed else [0.1, math.nan], 0.1))
                    continue
                scores = [0.48, 0.49, 0.5] if quick else [0.2, 0.3, 0.5]
                pairs.append(run(bn, lr, seed, scores, 0.5 + 0.01 * seed))
    return pairs


def make_grid(pairs) -> Grid:
    [g] = build(collect(pairs))
    assert isinstance(g, Grid)
    return g


def test_divergence_comes_from_nan_predictions_or_a_non_finite_history():
    assert divergence("failed", NAN_ERROR, history([0.2])) == "failed: " + NAN_ERROR
    assert divergence("failed", NAN_ERROR, history([math.nan], loss=[math.nan])) \
        == "non-finite train_loss in epoch 1; failed: " + NAN_ERROR
    assert divergence("ok", None, history([0.2, math.nan])) == "non-finite valid_accuracy in epoch 2"
    assert divergence("ok", None, history([0.2, 0.3], loss=[1.0, math.inf])) == "non-finite train_loss in epoch 2"
    assert divergence("ok", None, [{"epoch": 4, "note": "diverged at epoch 4 (non-finite loss or metric)"}]) \
        == "diverged at epoch 4 (non-finite loss or metric)"
    assert divergence("ok", None, history([0.2, 0.3])) is None
    assert divergence("failed", "RuntimeError: boom in fit", history([0.2])) is None  # failed, not diverged
    assert divergence("timeout", "passed its time limit", []) is None


def test_divergence_also_reads_what_the_optimizers_page_read():
    """The shared rule is the union of both pages' old ones: an ok run with a non-finite test metric,
    an unfinished run of any status over NaN outputs, a "diverged" note anywhere in its text."""
    assert divergence("ok", None, history([0.2]), {"accuracy": math.nan}) == "non-finite test accuracy"
    assert divergence("ok", None, history([0.2]), {"accuracy": 0.5}) is None
    assert divergence("crashed", "worker died\nloss became NaNs", []) == "crashed: loss became NaNs"
    assert divergence("ok", None, [{"epoch": 2, "note": "stopped: diverged"}]) == "stopped: diverged"
    s = spec()
    [r] = collect([(s, record(s, "ok", history([0.2]), {"accuracy": math.inf}))])
    assert (r.status, r.why, r.ok) == ("diverged", "non-finite test accuracy", False)


def test_time_to_target_is_the_first_epoch_that_reaches_it_with_the_seconds_so_far():
    [r] = collect([run(True, 0.1, 0, [0.1, 0.3, 0.25, 0.5], 0.5)])
    assert reached(r, "valid_accuracy", 0.25, lower=False) == (2, 4.0)
    assert reached(r, "valid_accuracy", 0.5, lower=False) == (4, 8.0)
    assert reached(r, "valid_accuracy", 0.6, lower=False) is None
    s = spec("ee", False, 0.1, 0, dataset="rossmann")
    [m] = collect([(s, record(s, "ok", history([0.5, 0.3, 0.2], key="valid_mape", seconds=1.5), {"mape": 0.2},
                              metric="mape"))])
    assert reached(m, "valid_mape", 0.35, lower=True) == (2, 3.0)  # an error: lower reaches it
    [d] = collect([run(True, 0.1, 0, [0.9, math.nan], 0.1)])
    assert reached(d, "valid_accuracy", 0.5, lower=False) is None  # a diverged run never counts


def test_verdicts_hold_when_batchnorm_trains_at_higher_rates_and_sooner():
    g = make_grid(grid_pairs({True: [0.01, 0.1, 1.0], False: [0.01]}, fast=True))
    assert g.target == pytest.approx(0.5 * 0.95)  # both arms' best final valid score is 0.5
    assert (g.max_lr(True), g.max_lr(False)) == (1.0, 0.01)
    assert g.time_to_target(True, 0.1) == (3, 3, 1.0, 2.0)
    assert g.time_to_target(False, 0.01) == (3, 3, 3.0, 6.0)
    higher, faster, best = grid_verdicts(g)
    assert "higher learning rates: holds" in higher and "is 1 with batchnorm and 0.01 without" in higher
    assert "trains faster: holds" in faster
    assert "not better" in best  # the same test accuracy at the best rate of each arm


def test_verdicts_do_not_hold_when_batchnorm_does_not_help():
    g = make_grid(grid_pairs({True: [0.01], False: [0.01, 0.1, 1.0]}, fast=False))
    higher, faster, _ = grid_verdicts(g)
    assert "higher learning rates: does not hold" in higher and "is 0.01 with batchnorm and 1 without" in higher
    assert "trains faster: does not hold" in faster
    same = make_grid(grid_pairs({True: [0.01, 0.1], False: [0.01, 0.1]}, fast=True))
    assert "higher learning rates: does not hold" in grid_verdicts(same)[0]  # equal is not higher


def test_a_target_given_for_the_history_key_replaces_the_default():
    [g] = build(collect(grid_pairs({True: [0.01, 0.1, 1.0], False: [0.01]}, fast=True)), {"valid_accuracy": 0.49})
    assert g.target == 0.49
    assert g.time_to_target(True, 0.01)[2] == 2.0 and g.time_to_target(False, 0.01)[2] == 3.0
    assert g.max_lr(True) == 1.0


def range_pairs(with_range: float, without: float, bn_without: float):
    """ncf and ncf-bn on "auto" and (-50, 50); test RMSE per setting (seeds 0..2 add +-0.001)."""
    pairs = []
    for method, bn in (("ncf", False), ("ncf-bn", True)):
        for yr, rmse in (("auto", with_range), ([-50.0, 50.0], bn_without if bn else without)):
            for seed in (0, 1, 2):
                s = spec(method, bn, 0.01, seed, dataset="movielens", extra={"y_range": yr})
                v = rmse + 0.001 * (seed - 1)
                pairs.append((s, record(s, "ok", history([v + 0.1, v], key="valid_rmse"), {"rmse": v, "mae": v / 1.3},
                                        metric="rmse")))
    return pairs


def test_range_verdicts_follow_the_numbers():
    [rg] = build(collect(range_pairs(0.93, 0.99, 0.95)))
    assert isinstance(rg, Ranges) and [t for _, t in rg.settings] == ["auto", "(-50, 50)"] * 2
    helps, stands_in, *_ = range_verdicts(rg)
    assert "range: holds" in helps and "missing range: holds" in stands_in
    [worse] = build(collect(range_pairs(0.99, 0.93, 1.05)))
    helps, stands_in, *_ = range_verdicts(worse)
    assert "range: does not hold" in helps and "missing range: does not hold" in stands_in
    [noise] = build(collect(range_pairs(0.93, 0.9305, 0.93)))  # within the seeds' spread
    assert "range: does not hold" in range_verdicts(noise)[0]


def test_the_page_shows_diverged_failed_and_missing_runs_and_draws_what_it_can(tmp_path: Path):
    pairs = grid_pairs({True: [0.01, 0.1], False: [0.01]}, fast=True)
    s = spec("plain-20-nobn", False, 0.1, 1)
    pairs = [p for p in pairs if p[0] != s] + [(s, None)]  # one run not made yet
    s2 = spec("plain-20-nobn", False, 0.1, 2)
    pairs = [p for p in pairs if p[0] != s2] + [(s2, record(s2, "timeout", error="passed its time limit"))]
    runs = collect(pairs)
    parts = build(runs)
    text = readme(parts, "practice-bn", runs, "bench practice bn --out x")
    assert "diverged 3/3" in text  # every seed of plain-20 at lr 1 (failed over NaN predictions or NaN history)
    assert "plain-20-nobn, lr 1, seed 1: non-finite train_loss in epoch 1; failed: ValueError" in text
    assert "plain-20-nobn, lr 1, seed 0: non-finite valid_accuracy in epoch 2" in text
    assert "diverged 1/3, not run 1/3, timeout 1/3" in text
    assert "bench run --suite practice-bn --threads 1" in text and "bench practice bn --out x" in text
    written = write_files(parts, "practice-bn", runs, tmp_path / "page", "bench practice bn")
    names = sorted(p.name for p in written)
    assert names == ["README.md", "cifar10-curves.png", "cifar10-heatmap.png", "summary.json"]
    assert all(p.stat().st_size > 1000 for p in written if p.suffix == ".png")
    assert "lr 0.01, the highest rate both" not in text  # the caption is in the figure; the page links it
    assert "learning curves at lr 0.01" in text


def test_no_curves_when_no_rate_survives_in_both_arms():
    pairs = [run(True, lr, 0, [0.3, 0.4], 0.4) for lr in (0.01, 0.1)] + \
            [run(False, lr, 0, None, 0.1) for lr in (0.01, 0.1)]
    runs = collect(pairs)
    text = readme(build(runs), "practice-bn", runs)
    assert "no learning curves" in text and "Not testable" in text


def test_command_reads_the_suites_ok_and_failed_records(tmp_path: Path, bench_cmd):
    """`bench practice bn` on hand-made records of the shipped suite: its plan, the records it chose."""
    from bench.results.store import Store
    from bench.run.suite import load_suite
    from bench.sdk import registry

    reg = registry()
    suite = load_suite(reg.suite_path("practice-bn"), name="practice-bn")
    store = Store(tmp_path / "results")
    for s in suite.expand(reg, datasets=["cifar10"]):
        lr = dict(s.params)["lr"]
        if lr not in (0.01, 1.0):
            continue
        bn = dict(s.params)["batchnorm"]
        _, rec = run(bn, lr, s.seed, None if (lr == 1.0 and not bn) else [0.2, 0.3, 0.4], 0.4)
        store.put(RunRecord.from_dict({**rec.to_dict(), "key": "k" + s.spec_id, "spec_id": s.spec_id,
                                       "spec": s.identity, "overrides": dict(s.overrides)}))
    out = tmp_path / "page"
    result = bench_cmd(["practice", "bn", "--results-dir", tmp_path / "results", "--out", out])
    assert result.exit_code == 0, result.output
    text = (out / "README.md").read_text()
    assert "## cifar10[test_per_class=100,train_per_class=100,valid_size=500]/official: plain-20 vs plain-20-nobn" in text
    assert "higher learning rates: holds" in text  # 1.0 trains with batchnorm, diverges without
    assert "plain-20-nobn, lr 1, seed 2: non-finite train_loss in epoch 1; failed: ValueError" in text
    assert "not run 3/3" in text  # the other rates
    assert (out / "cifar10-heatmap.png").is_file() and (out / "cifar10-curves.png").is_file()
    empty = bench_cmd(["practice", "bn", "--results-dir", tmp_path / "none", "--out", out])
    assert empty.exit_code != 0 and "no records of suite practice-bn" in empty.output
    bad = bench_cmd(["practice", "bn", "--results-dir", tmp_path / "results", "--target", "valid_accuracy"])
    assert bad.exit_code != 0 and "KEY=NUMBER" in bad.output


TINY_SUITE = """
seeds = [0]
[[datasets]]
name = "digits"
[[methods]]
variant = "resnet-20"
datasets = ["digits"]
params = { widths = [[4, 8, 8]], epochs = 1, batch_size = 32, augment = false, schedule = "constant", lr = [0.03, 30.0] }
[[methods]]
variant = "resnet-20-nobn"
datasets = ["digits"]
params = { widths = [[4, 8, 8]], epochs = 1, batch_size = 32, augment = false, schedule = "constant", lr = [0.03, 30.0] }
"""


@pytest.mark.slow
def test_real_runs_on_embedded_data_give_a_page(tmp_path: Path, bench_cmd):
    """Real fits on digits: a rate of 30 makes the net without batchnorm diverge, and the page reads it from the
    records the runner wrote (the y-range section is covered on hand-made records above)."""
    suite = tmp_path / "bn-tiny.toml"
    suite.write_text(TINY_SUITE)
    folders = ["--results-dir", tmp_path / "results"]
    ran = bench_cmd(["run", "--suite", suite, *folders, "--data-dir", tmp_path / "data", "--cache-dir",
                     tmp_path / "cache", "--device", "cpu", "--threads", "1", "--executor", "inline", "--quiet",
                     "--format", "none"])
    assert ran.exit_code in (0, 1), ran.output  # 1: a diverged run failed over NaN predictions
    made = bench_cmd(["practice", "bn", "--suite", suite, *folders, "--out", tmp_path / "page"])
    assert made.exit_code == 0, made.output
    text = (tmp_path / "page" / "README.md").read_text()
    assert "## digits/random: resnet-20 vs resnet-20-nobn" in text
    assert "resnet-20-nobn, lr 30, seed 0: non-finite" in text
    assert "| resnet-20 (with batchnorm) |" in text
    assert {p.name for p in (tmp_path / "page").iterdir()} == {"README.md", "digits-heatmap.png", "digits-curves.png",
                                                          "summary.json"}
