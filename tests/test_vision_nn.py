"""The image pieces of the NN core and the CNN plugins: batched augmentation, the fit hooks
(augment, train_metric), the multistep schedule, every CNN variant's forward and backward, and the
plugin's split (cards import no torch; a fitted net unpickles through the package's `nets`)."""
from __future__ import annotations

import pickle
import subprocess
import sys
import textwrap
from importlib import import_module
from pathlib import Path

import numpy as np
import pytest
import torch

from bench import FitContext
from bench import nn as bnn
from bench.nn.augment import CropFlip, random_crop, random_flip
from bench.plugins.checks import tiny_task
from bench.plugins.registry import load_file

ROOT = Path(__file__).resolve().parents[1]
CNN = load_file(ROOT / "plugins" / "cnn")  # the cards; the networks are in its `nets` module
NETS = import_module(f"{CNN.__name__}.nets")


def _batch(n=16, c=3, h=8, w=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(1, 256, (n, c, h, w), generator=g, dtype=torch.int64).to(torch.uint8)


def test_crop_flip_shapes_dtype_and_seeded_determinism():
    x = _batch()
    a = CropFlip(4, True)(x, torch.Generator().manual_seed(1))
    b = CropFlip(4, True)(x, torch.Generator().manual_seed(1))
    c = CropFlip(4, True)(x, torch.Generator().manual_seed(2))
    assert a.shape == x.shape and a.dtype == torch.uint8
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(x, _batch())  # the input is left alone


def test_crop_is_a_window_of_the_zero_padded_image():
    x = _batch(n=32)
    out = random_crop(x, 2, torch.Generator().manual_seed(0))
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    shifts = set()
    for i in range(len(x)):
        found = [(dy, dx) for dy in range(5) for dx in range(5)
                 if torch.equal(out[i], padded[i, :, dy:dy + 8, dx:dx + 8])]
        assert found, f"image {i} is not a window of its padded original"
        shifts.add(found[0])
    assert len(shifts) > 5  # offsets differ between images
    assert torch.equal(random_crop(x, 0), x)


def test_flip_mirrors_some_images_and_keeps_the_others():
    x = _batch(n=64)
    out = random_flip(x, torch.Generator().manual_seed(0))
    flipped = [torch.equal(out[i], x[i].flip(2)) for i in range(64)]
    kept = [torch.equal(out[i], x[i]) for i in range(64)]
    assert all(f or k for f, k in zip(flipped, kept))
    assert 10 < sum(flipped) < 54


def test_multistep_schedule_drops_at_the_milestones():
    f = bnn.lr_factors("multistep", 8, 2, milestones=(4, 6), step_gamma=0.1)
    assert f[:8] == [1.0] * 8 and f[8:12] == pytest.approx([0.1] * 4) and f[12:] == pytest.approx([0.01] * 4)


def test_fit_applies_augment_each_epoch_and_logs_the_train_metric():
    calls = []

    def aug(x, gen):
        calls.append(x.shape)
        return x.flip(3)

    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 2))
    x = torch.randn(20, 3, 2, 2)
    y = (x[:, 0, 0, 0] > 0).long()
    ctx = FitContext()
    res = bnn.fit(net, ((x,), y), bnn.TrainConfig(epochs=3, batch_size=10, device="cpu"),
                  loss_fn=torch.nn.functional.cross_entropy, ctx=ctx, augment=aug,
                  train_metric=lambda out, t: (out.argmax(1) != t).float().mean(), train_metric_name="train_error")
    assert calls == [torch.Size([20, 3, 2, 2])] * 3
    assert [0.0 <= r["train_error"] <= 1.0 for r in res.history] == [True] * 3
    assert [r["train_error"] for r in ctx.history] == [r["train_error"] for r in res.history]


VARIANTS = [(cls, v) for cls in (CNN.CifarResNet, CNN.FastResNetMethod) for v in cls.all_variants()]


@pytest.mark.parametrize("cls, variant", VARIANTS, ids=[v for _, v in VARIANTS])
def test_every_cnn_variant_runs_forward_and_backward(cls, variant):
    est = cls(**cls.all_variants()[variant])
    torch.manual_seed(0)
    net = bnn.init_weights(est._network(NETS.Normalize(np.full(3, 120.0), np.full(3, 60.0)), 10), "kaiming")
    est._after_init(net)
    x = _batch(n=2, h=16, w=16)
    out = net(x)
    assert out.shape == (2, 10) and torch.isfinite(out).all()
    torch.nn.functional.cross_entropy(out, torch.arange(2)).backward()
    first = next(m for m in net.modules() if isinstance(m, torch.nn.Conv2d))
    assert first.weight.grad is not None and torch.isfinite(first.weight.grad).all()
    assert first.weight.grad.abs().sum() > 0
    depth = sum(isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)) for m in net.modules())
    if variant.startswith(("plain-", "resnet-")) and variant != "resnet-fast":
        assert depth == int(variant.split("-")[1])  # 6n + 2 weighted layers
    has = {type(m) for m in net.modules()}
    assert (torch.nn.BatchNorm2d in has) == ("nobn" not in variant)
    assert (torch.nn.Dropout in has) == ("dropout" in variant)
    if variant != "resnet-fast":
        assert (NETS.ShortcutA in has) == variant.startswith("resnet-")


@pytest.mark.slow
def test_cnn_learns_digits_and_records_errors_per_epoch():
    D = load_file(ROOT / "datasets" / "digits.py")
    task = D.Digits().load(None)
    ctx = FitContext(seed=0)
    est = CNN.CifarResNet(depth=8, widths=(8, 16, 32), epochs=3, batch_size=32, augment=False).fit(task.part("train"), task.part("valid"), ctx)
    acc = float(np.mean(est.predict(task.part("test")) == task.part("test").y))
    assert acc > 0.8, acc
    rows = [r for r in ctx.history if "train_error" in r]
    assert len(rows) == 3 and all("valid_accuracy" in r for r in rows)
    assert rows[-1]["train_error"] < rows[0]["train_error"]
    assert ctx.info["images_per_s"] > 0 and ctx.info["channels_last"] is False


def _fresh_python(code: str, cwd: Path) -> str:
    res = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=cwd, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    return res.stdout


def test_cnn_cards_import_without_torch(tmp_path):
    """Listing plugins must not pay for torch: the cards load it in fit / predict only."""
    out = _fresh_python(f"""
        import sys
        from bench.plugins.registry import load_file
        cnn = load_file({str(ROOT / "plugins" / "cnn")!r})
        print(len(cnn.CifarResNet.all_variants()), sorted(m for m in ("torch", "pandas", "scipy") if m in sys.modules))
        """, tmp_path)
    n_variants, heavy = out.split(" ", 1)
    assert int(n_variants) == len(CNN.CifarResNet.all_variants()) > 1
    assert heavy.strip() == "[]", heavy


def test_a_fitted_cnn_unpickles_where_only_the_cards_were_loaded(tmp_path):
    """The nets live in the package's `nets` module: unpickling must import it on its own."""
    task = tiny_task("image-classification")
    est = CNN.CifarResNet(**{**CNN.CifarResNet.test_params, "epochs": 1, "tta": True})
    est.fit(task.part("train"), task.part("valid"), FitContext(seed=3))
    (tmp_path / "m.pkl").write_bytes(pickle.dumps(est))
    (tmp_path / "test.pkl").write_bytes(pickle.dumps(task.part("test")))
    out = _fresh_python(f"""
        import pickle, sys
        from bench.plugins.registry import load_file
        load_file({str(ROOT / "plugins" / "cnn")!r})
        assert not [k for k in sys.modules if k.endswith("cnn.nets")]
        est = pickle.loads(open("m.pkl", "rb").read())
        print(" ".join(map(str, est.predict(pickle.loads(open("test.pkl", "rb").read())).tolist())))
        """, tmp_path)
    assert out.split() == [str(v) for v in est.predict(task.part("test")).tolist()]
