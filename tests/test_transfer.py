"""Transfer learning without downloading weights: cifar10's transfer split, the cnn-transfer
methods (shots drawn per class, one pretrained network built once and reused, its identity in the
runs', a frozen body that stays frozen, discriminative rates per stage) and the practice-transfer
page, on tiny test-made images."""
from __future__ import annotations

import json
import tomllib
from pathlib import Path

import numpy as np
import pytest

from bench import FitContext, LoadContext, Part, Schema
from bench.plugins.registry import load_file

ROOT = Path(__file__).resolve().parents[1]
C = load_file(ROOT / "datasets" / "cifar10")
CNN = load_file(ROOT / "plugins" / "cnn")
T = CNN.transfer
pytestmark = pytest.mark.usefixtures("torch_one_thread")

TINY = {"widths": (4, 8, 8), "depth": 8, "epochs": 1, "min_steps": 3, "batch_size": 8, "augment": False,
        "pretrain_params": {"epochs": 2, "batch_size": 16}, "pretrain_valid_per_class": 3}


# -- the split ----------------------------------------------------------------------------------

def _labels():
    return np.random.default_rng(5).integers(0, 10, 3000), np.random.default_rng(6).integers(0, 10, 600)


def test_official_split_is_unchanged():
    train_y, test_y = _labels()
    # fingerprints made by the code before the transfer split existed (commit 6e3544d)
    assert C.make_split(train_y, test_y, valid_size=500).fingerprint == "fb85699448b41bb5"
    assert C.make_split(train_y, test_y, valid_size=200, train_per_class=50, test_per_class=20,
                        split_seed=3).fingerprint == "21a5dd3826725f62"


def test_transfer_split_holds_target_classes_only_in_valid_and_test():
    train_y, test_y = _labels()
    targets = C.target_indices(("cat", "dog", "horse"))
    assert targets == (3, 5, 7)
    s = C.make_transfer_split(train_y, test_y, targets, valid_per_class=20, source_per_class=30, test_per_class=15)
    assert s.name == "transfer"
    assert set(train_y[s.valid]) == {3, 5, 7}
    assert np.bincount(train_y[s.valid], minlength=10)[[3, 5, 7]].tolist() == [20] * 3
    test = s.test - len(train_y)
    assert test.min() >= 0 and set(test_y[test]) == {3, 5, 7}
    assert np.bincount(test_y[test], minlength=10)[[3, 5, 7]].tolist() == [15] * 3
    assert not set(s.train) & set(s.valid)
    counts = np.bincount(train_y[s.train], minlength=10)
    assert [counts[c] for c in range(10) if c not in targets] == [30] * 7  # the source subset
    for c in targets:  # every target train image that is not in valid stays in train (shots are drawn there)
        assert counts[c] == np.sum(train_y == c) - 20
    again = C.make_transfer_split(train_y, test_y, targets, valid_per_class=20, source_per_class=30,
                                  test_per_class=15)
    assert again.fingerprint == s.fingerprint
    others = [C.make_transfer_split(train_y, test_y, (0, 1, 2), 20, 30, 15),
              C.make_transfer_split(train_y, test_y, targets, 20, 31, 15),
              C.make_transfer_split(train_y, test_y, targets, 21, 30, 15),
              C.make_transfer_split(train_y, test_y, targets, 20, 30, 15, split_seed=1)]
    assert len({s.fingerprint} | {o.fingerprint for o in others}) == 5


def test_target_classes_by_name_index_or_text_and_clear_errors():
    assert C.target_indices("dog+cat") == C.target_indices([3, 5]) == C.target_indices("cat, dog") == (3, 5)
    with pytest.raises(ValueError, match="'kangaroo'.*classes: airplane"):
        C.target_indices(["cat", "kangaroo"])
    with pytest.raises(ValueError, match="at most 9"):
        C.target_indices(C.CLASSES)
    with pytest.raises(ValueError, match="distinct"):
        C.target_indices(["cat", "cat"])


def write_folder(root: Path, n_train: int, n_test: int) -> None:
    """The image-folder layout: class k's images are noise around a grey level of its own."""
    from PIL import Image

    rng = np.random.default_rng(7)
    for part, n in (("train", n_train), ("test", n_test)):
        for k, cls in enumerate(C.CLASSES):
            (root / part / cls).mkdir(parents=True)
            for i in range(n):
                img = np.clip(rng.normal(20 + 22 * k, 25, (32, 32, 3)), 0, 255).astype(np.uint8)
                Image.fromarray(img).save(root / part / cls / f"{cls}_{i:04d}.png")


def test_the_dataset_loads_its_transfer_split(tmp_path):
    write_folder(tmp_path / "data" / "cifar10", 12, 4)
    ctx = LoadContext(tmp_path / "data", tmp_path / "cache")
    task = C.Cifar10(target_valid_per_class=2, source_per_class=5).load("transfer", ctx)
    assert task.split.sizes() == {"train": 7 * 5 + 3 * 10, "valid": 6, "test": 12}
    assert set(task.part("valid").y) == set(task.part("test").y) == {3, 5, 7}
    assert "target classes cat, dog, horse" in task.description
    official = C.Cifar10(valid_size=10).load("official", ctx)
    assert official.split.sizes() == {"train": 110, "valid": 10, "test": 40}
    assert C.Cifar10(target_valid_per_class=2, source_per_class=5, target_classes="airplane").load(
        "transfer", ctx).split.fingerprint != task.split.fingerprint


# -- the method ---------------------------------------------------------------------------------

def tiny_parts(n_per_class: int = 24, seed: int = 0):
    """5 classes of 16x16 images (a bright square at a class's own place); 0-2 the source classes,
    3 and 4 the target ones: train holds all five, valid and test only 3 and 4."""
    rng = np.random.default_rng(seed)

    def images(classes, n):
        y = np.repeat(classes, n)
        x = rng.normal(60, 20, (len(y), 16, 16, 3))
        for i, c in enumerate(y):
            r, q = divmod(int(c), 3)
            x[i, 5 * r:5 * r + 5, 5 * q:5 * q + 5] += 150
        return np.clip(x, 0, 255).astype(np.uint8), y.astype(np.int64)

    schema = Schema(image_shape=(16, 16, 3), n_classes=5)
    parts = [images(list(range(5)), n_per_class), images([3, 4], 6), images([3, 4], 10)]
    return [Part(X=x, y=y, schema=schema, kind="image-classification") for x, y in parts]


def _ctx(seed: int, cache=None, reg=None) -> FitContext:
    from bench.data.artifacts import ArtifactCache
    from bench.run.execute import resolve_method

    ctx = FitContext(seed=seed, artifacts=ArtifactCache(cache) if cache else None, task_key="tiny-transfer")
    if reg is not None:
        ctx.resolve_method = lambda v, o: resolve_method(reg, v, o)
    return ctx


@pytest.fixture
def pretrain_builds(monkeypatch):
    """Every TransferPretrain fit made in this test (the nets it trained)."""
    from bench.sdk import registry

    reg = registry()
    cls = reg.method("transfer-pretrain").cls
    built, fit = [], cls.fit

    def counting(self, train, valid, ctx):
        built.append(self)
        return fit(self, train, valid, ctx)

    monkeypatch.setattr(cls, "fit", counting)
    return reg, built


def _fit(reg, variant: str, seed: int, cache, **params):
    entry = reg.method(variant)
    train, valid, test = tiny_parts()
    ctx = _ctx(seed, cache, reg)
    model = entry.cls(**entry.resolved_params({**TINY, **params})).fit(train, valid, ctx)
    return model, ctx, test


def test_shots_are_drawn_per_class_seeded_and_nested():
    y = np.repeat([0, 1, 2, 3], 30)
    a = T.draw_shots(y, np.array([2, 3]), 5, seed=1)
    assert np.bincount(y[a], minlength=4).tolist() == [0, 0, 5, 5]
    assert np.array_equal(a, T.draw_shots(y, np.array([2, 3]), 5, seed=1))
    assert not np.array_equal(a, T.draw_shots(y, np.array([2, 3]), 5, seed=2))
    assert set(a) <= set(T.draw_shots(y, np.array([2, 3]), 12, seed=1))  # 5 of a class are the first 5 of 12
    with pytest.raises(ValueError, match="shots=31"):
        T.draw_shots(y, np.array([2]), 31, seed=0)


def test_one_pretrained_net_is_built_once_and_reused(pretrain_builds, tmp_path):
    reg, built = pretrain_builds
    records = []
    for variant, seed, shots in [("transfer-frozen", 0, 4), ("transfer-finetune", 1, 8),
                                 ("transfer-discriminative", 2, 4), ("transfer-finetune", 0, 8)]:
        model, ctx, test = _fit(reg, variant, seed, tmp_path / "cache", shots=shots)
        info = ctx.info["transfer"]
        assert info["images_per_class"] == [shots, shots] and info["target_classes"] == [3, 4]
        assert set(np.unique(model.predict(test))) <= {3, 4}
        records.append(ctx.info)
    assert len(built) == 1  # four runs, three modes, three seeds: one pretraining
    assert [("helper_fits" in r) for r in records] == [True, False, False, False]
    pre = [r["transfer"]["pretrained"] for r in records]
    assert [p["built_in_this_run"] for p in pre] == [True, False, False, False]
    assert len({p["valid_accuracy"] for p in pre}) == 1 and pre[0]["classes"] == [0, 1, 2]
    assert pre[0]["n_valid"] == 9 and pre[0]["n_train"] == 3 * 24 - 9 and pre[0]["history"]
    # the same seed draws the same images whatever the mode
    assert records[1]["transfer"]["rows_hash"] != records[3]["transfer"]["rows_hash"]
    _fit(reg, "transfer-finetune", 0, tmp_path / "cache", shots=4, pretrain_seed=1)
    assert len(built) == 2  # another pretraining seed is another network
    _, scratch, _ = _fit(reg, "transfer-scratch", 0, tmp_path / "cache", shots=4)
    assert len(built) == 2 and "pretrained" not in scratch.info["transfer"]


def test_the_same_seed_draws_the_same_images_in_every_mode(pretrain_builds, tmp_path):
    reg, _ = pretrain_builds
    hashes = {v: _fit(reg, v, 3, tmp_path / "cache", shots=4)[1].info["transfer"]["rows_hash"]
              for v in ("transfer-scratch", "transfer-frozen", "transfer-discriminative")}
    assert len(set(hashes.values())) == 1


def test_the_run_identity_covers_the_pretraining():
    from bench.core.identity import method_identity
    from bench.sdk import registry

    reg = registry()

    def ident(variant, **over):
        return method_identity(reg, variant, reg.method(variant).resolved_params(over))

    assert ident("transfer-finetune") != ident("transfer-finetune", pretrain_params={"epochs": 3})
    assert ident("transfer-frozen", widths=(8, 8, 8)) != ident("transfer-frozen")  # the body's architecture
    assert ident("transfer-scratch") == ident("transfer-scratch", pretrain_params={"epochs": 3})  # nothing pretrained
    assert T.CnnTransfer.depends_on(reg.method("transfer-discriminative").resolved_params({})) == [
        ("transfer-pretrain", {"depth": 20, "widths": (8, 16, 32), "residual": True, "batchnorm": True})]


def _body(net) -> dict:
    return {k: v for k, v in net.state_dict().items() if not k.startswith("head.")}


def test_frozen_mode_changes_no_body_number_and_finetune_does(pretrain_builds, tmp_path):
    import torch

    reg, built = pretrain_builds
    frozen, ctx, _ = _fit(reg, "transfer-frozen", 0, tmp_path / "cache", shots=8, min_steps=6)
    source = _body(built[0].members_[0])
    after = _body(frozen.members_[0])
    assert set(after) == set(source) - {k for k in source if k.endswith("num_batches_tracked")}
    assert all(torch.equal(after[k], source[k]) for k in after)
    assert ctx.info["transfer"]["trainable_parameters"] == sum(p.numel() for p in frozen.members_[0].head.parameters())
    tuned, _, _ = _fit(reg, "transfer-finetune", 0, tmp_path / "cache", shots=8, min_steps=6)
    changed = _body(tuned.members_[0])
    assert any(not torch.equal(changed[k], source[k]) for k in source if k.endswith("weight"))
    assert torch.equal(changed["norm.mean"], source["norm.mean"])  # the pretrained body's input statistics


def test_discriminative_rates_fall_by_lr_decay_per_stage():
    from bench.nn.optim import param_groups

    from bench import nn as bnn

    m = T.CnnTransfer(mode="discriminative", depth=14, widths=(4, 8, 8), lr_decay=3.0)
    m.n_images_ = 64
    cfg = m.train_config(bnn.resolve_device("cpu"))
    net = m._network(CNN.nets.Normalize(np.zeros(3), np.ones(3)), 2)
    mult = {id(p): g["lr_mult"] for g in param_groups(net, cfg.lr_mult) for p in g["params"]}
    by_name = {name: mult[id(p)] for name, p in net.named_parameters()}
    stage = {"stem": 3.0 ** -4, "blocks.0": 3.0 ** -3, "blocks.1": 3.0 ** -3, "blocks.2": 3.0 ** -2,
             "blocks.3": 3.0 ** -2, "blocks.4": 3.0 ** -1, "blocks.5": 3.0 ** -1, "head": 1.0}
    for name, value in by_name.items():
        prefix = next(k for k in stage if name.startswith(k + "."))
        assert value == pytest.approx(stage[prefix]), name
    one = T.CnnTransfer(mode="finetune", depth=14, widths=(4, 8, 8))
    one.n_images_ = 64
    assert one.train_config(bnn.resolve_device("cpu")).lr_mult is None


def test_few_images_train_at_least_min_steps():
    from bench import nn as bnn

    m = T.CnnTransfer(batch_size=32, epochs=10, min_steps=200)
    for n, epochs in ((150, 50), (300, 23), (1500, 10)):
        m.n_images_ = n
        assert m.train_config(bnn.resolve_device("cpu")).epochs == epochs


def test_a_task_with_nothing_to_pretrain_on_is_a_clear_error():
    train, _, _ = tiny_parts()
    every = Part(X=train.X, y=train.y, schema=train.schema, kind=train.kind)
    with pytest.raises(ValueError, match="nothing is left to pretrain on.*transfer split"):
        T.CnnTransfer(**TINY).fit(train, every, FitContext())
    with pytest.raises(ValueError, match="shots=99"):
        T.CnnTransfer(**{**TINY, "shots": 99}).fit(*tiny_parts()[:2], FitContext())


# -- the suite and the page ---------------------------------------------------------------------

def test_the_suite_plans_four_modes_three_sizes_three_seeds(bench_cmd, tmp_path):
    suite = tomllib.loads((ROOT / "suites" / "practice-transfer.toml").read_text())
    assert suite["seeds"] == [0, 1, 2] and suite["datasets"][0]["split"] == "transfer"
    assert {m["variant"] for m in suite["methods"]} == {f"transfer-{m}" for m in T.MODES}
    assert all(m["params"]["shots"] == [50, 100, 500] for m in suite["methods"])
    result = bench_cmd(["run", "--suite", "practice-transfer", "--dry-run", "--results-dir", tmp_path])
    assert result.exit_code == 0, result.output
    assert "suite practice-transfer: 36 runs" in result.output


def tiny_suite(folder: Path) -> Path:
    """practice-transfer's entries on the test-made image folder, tiny nets, 2 and 4 images per class."""
    suite = tomllib.loads((ROOT / "suites" / "practice-transfer.toml").read_text())
    lines = ['description = "tiny practice-transfer"', "seeds = [0, 1]", "",
             "[[datasets]]", 'name = "cifar10"', 'split = "transfer"',
             "params = { target_valid_per_class = 2, source_per_class = 8 }"]
    for m in suite["methods"]:
        lines += ["", "[[methods]]", f'variant = "{m["variant"]}"',
                  "params = { shots = [2, 4], widths = [[4, 8, 8]], depth = 8, epochs = 1, min_steps = 2, "
                  "batch_size = 4, augment = false, pretrain_valid_per_class = 2, "
                  "pretrain_params = { epochs = 2, batch_size = 16 } }"]
    path = folder / "practice-transfer.toml"
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.slow
def test_the_tiny_suite_under_two_workers_pretrains_once_and_renders_its_page(tmp_path, bench_cmd):
    write_folder(tmp_path / "data" / "cifar10", 12, 3)
    suite, results, out = tiny_suite(tmp_path / "suites"), tmp_path / "results", tmp_path / "page"
    ran = bench_cmd(["run", "--suite", suite, "--data-dir", tmp_path / "data", "--cache-dir", tmp_path / "cache",
                     "--results-dir", results, "--jobs", "2", "--threads", "1", "--device", "cpu", "--quiet",
                     "--format", "none"])
    assert ran.exit_code == 0, ran.output
    recs = [json.loads(f.read_text()) for f in (results / "runs").glob("*.json")]
    assert len(recs) == 16 and all(r["status"] == "ok" for r in recs)
    users = [r for r in recs if r["spec"]["params"]["mode"] != "scratch"]
    assert sum("helper_fits" in r["info"] for r in recs) == 1  # two workers, one pretraining
    assert sum(r["info"]["transfer"]["pretrained"]["built_in_this_run"] for r in users) == 1
    shown = bench_cmd(["practice", "transfer", "--suite", suite, "--results-dir", results, "--out", out])
    assert shown.exit_code == 0, shown.output
    assert "16 of 16 runs recorded" in shown.output
    text = (out / "README.md").read_text()
    assert text.count("### Claim") == 4 and "missing" not in text
    assert "trained in 1 of the 12 recorded runs that start from it" in text
    acc = users[0]["info"]["transfer"]["pretrained"]["valid_accuracy"]
    assert f"**{acc:.4f}**" in text
    # the table's cells are the records' test accuracies, mean over the two seeds
    by = {}
    for r in recs:
        by.setdefault((r["spec"]["params"]["mode"], r["spec"]["params"]["shots"]), []).append(r["metrics"]["accuracy"])
    row = next(x for x in text.splitlines() if x.startswith("| from scratch |"))
    assert row.split(" | ")[1].startswith(f"{np.mean(by[('scratch', 2)]):.4f} ± ")
    for name in ("accuracy-vs-images.png", "pretraining.png"):
        assert (out / name).read_bytes()[:4] == b"\x89PNG"
    summary = json.loads((out / "summary.json").read_text())
    assert [c["claim"] for c in summary["claims"]] == list(CNN_PAGE().CLAIMS)
    assert summary["figures"][0] == "accuracy-vs-images.png" and summary["measured"]["runs"] == 16


def CNN_PAGE():  # noqa: N802 - the page module, imported late (it needs no torch)
    from bench.practice import transfer_page

    return transfer_page


# -- the page's verdicts, on hand-made records ---------------------------------------------------

def _runs(scores: dict[tuple[str, int], list[float | None]]):
    """Runs of the page from {(mode, shots): test accuracy per seed} (None: that seed failed)."""
    from practice_helpers import run

    from bench.practice.suite_runs import runs_from

    pairs = []
    for (mode, shots), values in scores.items():
        for seed, acc in enumerate(values):
            spec, rec = run(f"transfer-{mode}", seed=seed, test=acc, task="cifar10", metric="accuracy",
                            status="ok" if acc is not None else "failed", error=None if acc is not None else "boom",
                            mode=mode, shots=shots)
            if mode != "scratch":
                first = seed == 0 and mode == "frozen" and shots == 50
                rec.info = {"transfer": {"pretrained": {"valid_accuracy": 0.71, "built_in_this_run": first,
                                                        "classes": list(range(7))}}}
            pairs.append((spec, rec))
    return runs_from(pairs)


GOOD = {("scratch", 50): [0.40, 0.42, 0.44], ("scratch", 500): [0.60, 0.62, 0.61],
        ("frozen", 50): [0.52, 0.53, 0.54], ("frozen", 500): [0.55, 0.56, 0.57],
        ("finetune", 50): [0.52, 0.55, 0.53], ("finetune", 500): [0.66, 0.67, 0.65],
        ("discriminative", 50): [0.54, 0.56, 0.55], ("discriminative", 500): [0.65, 0.66, 0.64]}


def test_the_verdicts_follow_the_numbers():
    from bench.practice import transfer_page as tp

    verdicts = dict(tp.claim_verdicts(tp.build(_runs(GOOD))))
    words = {c: [v.holds for v in vs] for c, vs in verdicts.items()}
    assert words[tp.CLAIMS[0]] == [True] and "+0.1133" in verdicts[tp.CLAIMS[0]][0].evidence
    assert "better on 3 of 3 seeds" in verdicts[tp.CLAIMS[0]][0].evidence
    assert words[tp.CLAIMS[1]] == [True] and "50: +0.1133, 500: +0.0500" in verdicts[tp.CLAIMS[1]][0].evidence
    assert words[tp.CLAIMS[2]] == [True, False]  # better at 50, worse at 500
    assert words[tp.CLAIMS[3]] == [True]  # frozen 0.5300 vs 0.5333: within the larger std (0.0153)
    worse = {**GOOD, ("scratch", 50): [0.60, 0.61, 0.62], ("frozen", 50): [0.30, 0.31, 0.32]}
    v2 = dict(tp.claim_verdicts(tp.build(_runs(worse))))
    assert [v.holds for v in v2[tp.CLAIMS[0]]] == [False] and [v.holds for v in v2[tp.CLAIMS[3]]] == [False]


def test_a_failed_seed_leaves_its_claim_unjudged_and_the_page_says_so(tmp_path):
    from bench.practice import transfer_page as tp

    runs = _runs({**GOOD, ("finetune", 50): [0.52, None, 0.53]})
    verdicts = dict(tp.claim_verdicts(tp.build(runs)))
    assert verdicts[tp.CLAIMS[0]][0].holds is None and "failed (1 of 3 seeds)" in verdicts[tp.CLAIMS[0]][0].evidence
    text = tp.page(runs)[0]
    assert "| fine-tune all (one rate) | failed (1 of 3 seeds) | 0.6600 ± 0.0100 |" in text
    assert "**0.7100**" in text and "trained in 1 of the 18 recorded runs" in text
