"""The practice-augment page (`bench practice augment`): roles read from parameters, verdicts that
follow the numbers (both ways), the paired test-time-flip evidence, the overfitting gap, missing
rows, the batch picture drawn with the training policies, the command's errors, and the shipped
suite's structure run for real on embedded digits (slow)."""
from __future__ import annotations

import json
import tomllib
from pathlib import Path

import numpy as np
import pytest

from practice_helpers import ROOT, run, to_toml

from bench.core.spec import RunRecord
from bench.practice import augment_page as ap
from bench.practice.augment_batch import row_images
from bench.practice.suite_runs import make_run, runs_from
from bench.results.practice_summary import read_summary

CONFIGS = {  # label -> params (the shipped suite's rows)
    "none": {"augment": "none"}, "flip": {"augment": "flip"}, "crop": {"augment": "crop"},
    "crop+flip": {"augment": "crop+flip"}, "cutout": {"augment": "crop+flip+cutout"},
    "mixup": {"augment": "crop+flip", "mixup": 0.4}, "tta": {"augment": "crop+flip", "tta": True},
    "other": {"augment": "crop+flip+rotate+zoom+lighting"},
}


def _pair(label, test, seed, train_error=(0.5, 0.3), valid=(0.4, 0.5), task="cifar10"):
    """A run with per-epoch train error and valid accuracy, as the cnn plugin records them."""
    params = {"mixup": 0.0, "tta": False, **CONFIGS[label]}
    spec, rec = run(label, seed=seed, test=test, valid=list(valid), metric="accuracy", task=task, **params)
    history = [{**row, "train_error": e} for row, e in zip(rec.history, train_error)]
    return spec, RunRecord.from_dict({**rec.to_dict(), "history": history})


def _runs(tests: dict[str, float], spread=(0.0, 0.01, -0.01), **kw):
    return runs_from(_pair(lb, tests[lb] + d, s, **kw.get(lb, {})) for lb in tests for s, d in enumerate(spread))


HELPS = {"none": 0.40, "flip": 0.43, "crop": 0.45, "crop+flip": 0.48, "cutout": 0.50, "mixup": 0.49,
         "tta": 0.485, "other": 0.49}
HURTS = {"none": 0.48, "flip": 0.46, "crop": 0.47, "crop+flip": 0.46, "cutout": 0.44, "mixup": 0.45,
         "tta": 0.45, "other": 0.40}


@pytest.mark.parametrize("params, role", [
    ({"augment": True}, "both"), ({"augment": "flip+crop"}, "both"), ({"augment": "crop=2+flip"}, "both"),
    ({"augment": "none"}, "none"), ({"augment": False}, "none"), ({"augment": "crop+flip+cutout=8"}, "cutout"),
    ({"augment": True, "mixup": 0.2}, "mixup"), ({"augment": "crop+flip", "tta": True}, "tta"),
    ({"augment": "crop+flip+zoom"}, "other"), ({"augment": "flip+rotate"}, None),
    ({"augment": "crop+flip+cutout", "mixup": 0.2}, None), ({"augment": 3}, None)])
def test_a_rows_role_comes_from_its_parameters(params, role):
    assert ap.role(params) == role


@pytest.mark.parametrize("tests, holds", [(HELPS, True), (HURTS, False)])
def test_every_accuracy_verdict_follows_the_numbers(tests, holds):
    rows = ap.build(_runs(tests))["cifar10"]
    verdicts = [v for _, [v] in ap.claim_verdicts({"cifar10": rows})]
    assert [v.holds for v in verdicts[:6]] == [holds] * 6, [v.evidence for v in verdicts]
    first = verdicts[0].evidence
    assert f"test accuracy none {tests['none']:.4f} ± 0.0100" in first
    assert f"flip {tests['flip']:.4f} ± 0.0100 ({tests['flip'] - tests['none']:+.4f})" in first


def test_together_is_judged_against_the_better_single_transform():
    rows = ap.build(_runs({**HELPS, "flip": 0.47, "crop": 0.49, "crop+flip": 0.48}))["cifar10"]
    v = ap.together("cifar10", rows)
    assert v.holds is False and v.evidence.startswith("test accuracy crop 0.4900")


def test_test_time_flip_evidence_is_paired_by_seed():
    runs = _runs({"crop+flip": 0.48, "tta": 0.48}, spread=(0.0, 0.03, -0.03))
    runs = [r for r in runs if not (r.label == "tta" and r.seed == 1)]
    runs.append(make_run(*_pair("tta", 0.48 + 0.03 + 0.002, 1)))
    v = ap.paired_tta("cifar10", ap.build(runs)["cifar10"])
    assert v.holds is True and "per seed (tta - plain): seed 0 +0.0000, seed 1 +0.0020, seed 2 +0.0000" in v.evidence
    assert "within the seeds' std" in v.evidence  # +0.0007 against a spread of 0.03


@pytest.mark.parametrize("aug_train, aug_valid, holds", [((0.6, 0.4), (0.40, 0.50), True),
                                                       ((0.2, 0.01), (0.40, 0.42), False)])
def test_overfitting_verdict_compares_the_last_epochs_gap(aug_train, aug_valid, holds):
    kw = {"none": {"train_error": (0.3, 0.05), "valid": (0.40, 0.45)},
          "crop+flip": {"train_error": aug_train, "valid": aug_valid}}
    v = ap.overfitting("cifar10", ap.build(_runs({"none": 0.4, "crop+flip": 0.5}, **kw))["cifar10"])
    assert v.holds is holds
    assert "none: train error 0.0500, valid error 0.5500 (gap 0.5000)" in v.evidence


def test_no_overfitting_without_augmentation_leaves_nothing_to_fight():
    kw = {"none": {"train_error": (0.8, 0.7), "valid": (0.2, 0.35)}}
    v = ap.overfitting("cifar10", ap.build(_runs({"none": 0.4, "crop+flip": 0.5}, **kw))["cifar10"])
    assert v.holds is None and "training error is not below the valid error" in v.evidence


def test_rows_still_improving_at_the_last_epoch_are_named():
    kw = {"none": {"valid": (0.50, 0.45), "train_error": (0.2, 0.05)},
          "crop+flip": {"valid": (0.40, 0.48), "train_error": (0.6, 0.42)}}
    rows = ap.build(_runs({"none": 0.4, "crop+flip": 0.5}, **kw))["cifar10"]
    note = ap.still_improving(rows)
    assert "for: crop+flip (train error 0.42)." in note and "none" not in note
    assert ap.still_improving(rows[:1]) == ""


def test_a_missing_row_or_seed_cannot_be_judged_and_is_shown():
    runs = [r for r in _runs(HELPS) if r.label != "cutout" and not (r.label == "mixup" and r.seed == 2)]
    spec, _ = _pair("mixup", 0.5, 2)
    runs.append(make_run(spec, None))
    verdicts = [v for _, [v] in ap.claim_verdicts(ap.build(runs))]
    assert verdicts[2].holds is None and "no row for crop + flip + cutout" in verdicts[2].evidence
    assert verdicts[3].holds is None and "missing (1 of 3 seeds)" in verdicts[3].evidence
    assert verdicts[0].holds is True
    text = ap.page(runs)[0]
    assert text.count("### Claim") == len(ap.CLAIMS) and "cannot be judged yet" in text


def test_the_page_table_and_summary_on_hand_made_runs(tmp_path):
    runs = _runs(HELPS)
    written = ap.write(runs, tmp_path / "augmentation", "bench practice augment")
    text = (tmp_path / "augmentation" / "README.md").read_text()
    row = next(x for x in text.splitlines() if x.startswith("| mixup |"))
    assert row.split(" | ")[1:6] == ["`crop+flip`", "0.4", "no", "0.4900 ± 0.0100", "+0.0900"]
    assert (tmp_path / "augmentation" / "curves-cifar10.png").read_bytes()[:4] == b"\x89PNG"
    doc = read_summary(tmp_path / "augmentation" / "summary.json")
    assert [c["verdict"] for c in doc["claims"]][:6] == ["holds"] * 6
    assert doc["figures"] == ["curves-cifar10.png"] and written[-1].name == "summary.json"


def test_the_batch_rows_use_the_training_policies_seeded():
    images = np.random.default_rng(0).integers(1, 256, (8, 12, 12, 3), dtype=np.uint8)
    same, _ = row_images({"augment": "none"}, images, 0)
    assert np.array_equal(same, images)
    a, _ = row_images({"augment": "crop+flip+cutout"}, images, 3)
    b, _ = row_images({"augment": "crop+flip+cutout"}, images, 3)
    c, _ = row_images({"augment": "crop+flip+cutout"}, images, 4)
    assert a.shape == images.shape and a.dtype == np.uint8 and np.array_equal(a, b) and not np.array_equal(a, c)
    mixed, note = row_images({"augment": "none", "mixup": 0.4}, images, 0)
    assert "mixup λ = " in note and not np.array_equal(mixed, images)
    mirror, note = row_images({"augment": "crop+flip", "tta": True}, images, 0)
    assert np.array_equal(mirror, images[:, :, ::-1]) and "test time" in note


def test_the_shipped_suite_has_every_role_three_seeds_and_plans_24_runs(bench_cmd, tmp_path):
    suite = tomllib.loads((ROOT / "suites" / "practice-augment.toml").read_text())
    roles = [ap.role({"mixup": 0.0, "tta": False, **m["params"]}) for m in suite["methods"]]
    assert sorted(roles) == sorted([*ap.ROLES, ap.OTHER]) and suite["seeds"] == [0, 1, 2]
    assert len({m["variant"] for m in suite["methods"]}) == 1
    result = bench_cmd(["run", "--suite", "practice-augment", "--dry-run", "--results-dir", tmp_path])
    assert result.exit_code == 0 and "suite practice-augment: 24 runs" in result.output, result.output


def _hand_made_records(results: Path) -> None:
    """A record for every planned run of the shipped suite (cifar10), with the HELPS numbers."""
    from bench.results.store import Store
    from bench.run.suite import load_suite
    from bench.sdk import registry

    reg = registry()
    suite = load_suite(reg.suite_path("practice-augment"), name="practice-augment")
    store = Store(results)
    names = {"crop+flip+cutout": "cutout", "crop+flip+mixup": "mixup", "crop+flip+tta": "tta",
             "crop+flip+rotate+zoom+lighting": "other"}
    for s in suite.expand(reg):
        _, rec = _pair(names.get(s.label, s.label), HELPS[names.get(s.label, s.label)] + 0.01 * s.seed, s.seed)
        store.put(RunRecord.from_dict({**rec.to_dict(), "key": "k" + s.spec_id, "spec_id": s.spec_id,
                                       "spec": s.identity, "overrides": dict(s.overrides), "label": s.label,
                                       "suite": "practice-augment"}))


def test_the_command_needs_the_images_for_the_batch_or_no_batch(bench_cmd, tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_CIFAR10_DOWNLOAD", "0")
    _hand_made_records(tmp_path / "results")
    out = tmp_path / "page"
    args = ["practice", "augment", "--results-dir", tmp_path / "results", "--out", out]
    missing = bench_cmd([*args, "--data-dir", tmp_path / "no-data"])
    assert missing.exit_code == 1 and "--data-dir DATA" in missing.output and "--no-batch" in missing.output
    made = bench_cmd([*args, "--no-batch"])
    assert made.exit_code == 0, made.output
    assert "24 of 24 runs recorded" in made.output and "Verdict: **holds**" in made.output
    assert {p.name for p in out.iterdir()} == {"README.md", "curves-cifar10.png", "summary.json"}
    empty = bench_cmd(["practice", "augment", "--results-dir", tmp_path / "none", "--out", tmp_path / "p2"])
    assert empty.exit_code == 1 and "no record of suite practice-augment" in empty.output


def _digits_twin(folder: Path) -> Path:
    """The shipped suite on embedded digits: same rows and parameters, tiny net, 2 epochs, 1 seed."""
    suite = tomllib.loads((ROOT / "suites" / "practice-augment.toml").read_text())
    suite.update(seeds=[0], datasets=[{"name": "digits"}])
    suite.pop("timeout", None)
    for m in suite["methods"]:
        m["params"].update(widths=[[8, 8, 16, 16]] if m["variant"] == "resnet-fast" else [[4, 8, 8]], epochs=2,
                           batch_size=32)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "practice-augment.toml"
    path.write_text(to_toml(suite))
    return path


@pytest.mark.slow
def test_the_suite_on_digits_renders_its_page_with_the_batch_and_the_index_reads_it(tmp_path, bench_cmd):
    suite = _digits_twin(tmp_path / "suites")
    results, out = tmp_path / "results", tmp_path / "practice" / "augmentation"
    ran = bench_cmd(["run", "--suite", suite, "--results-dir", results, "--executor", "inline", "--device", "cpu",
                     "--threads", "1", "--quiet", "--format", "none"])
    assert ran.exit_code == 0, ran.output
    shown = bench_cmd(["practice", "augment", "--suite", suite, "--results-dir", results, "--out", out,
                       "--data-dir", tmp_path / "data"])
    assert shown.exit_code == 0, shown.output
    assert "8 of 8 runs recorded" in shown.output
    text = (out / "README.md").read_text()
    assert text.count("### Claim") == len(ap.CLAIMS) and "missing" not in text and "![one batch" in text
    assert (out / "batch.png").read_bytes()[:4] == b"\x89PNG"
    accuracies = {}
    for f in (results / "runs").glob("*.json"):
        rec = json.loads(f.read_text())
        accuracies[rec["label"]] = rec["metrics"]["accuracy"]
    for label, acc in accuracies.items():  # the table shows each record's own number
        row = next(x for x in text.splitlines() if x.startswith(f"| {label} |"))
        assert row.split(" | ")[4] == f"{acc:.4f} ± 0.0000", row
    doc = read_summary(out / "summary.json")
    assert doc["figures"] == ["curves-digits.png", "batch.png"]
    index = bench_cmd(["practice", "index", "--results-dir", tmp_path / "practice"])
    assert index.exit_code == 0, index.output
    assert "Data augmentation: " in index.output and "not made yet" in index.output
    page = (tmp_path / "practice" / "README.md").read_text()
    assert f"**Claim.** {ap.CLAIM}" in page
