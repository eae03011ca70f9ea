"""Augmentation policies (bench.nn.augment_policy), mixup (bench.nn.mixup) and the cnn plugin's
`augment` / `mixup` parameters: shapes, dtype, seeded determinism, what each transform does to the
pixels, spec errors, labels mixed with the inputs, eval untouched, and the defaults giving bitwise
the predictions of the code path before policies existed."""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from bench import FitContext
from bench import nn as bnn
from bench.nn import augment_policy as ap
from bench.nn.augment import CropFlip
from bench.nn.mixup import Mixup
from bench.plugins.registry import load_file

ROOT = Path(__file__).resolve().parents[1]
CNN = load_file(ROOT / "plugins" / "cnn")
pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _batch(n=16, c=3, h=12, w=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(1, 256, (n, c, h, w), generator=g, dtype=torch.int64).to(torch.uint8)


def _gen(seed):
    return torch.Generator().manual_seed(seed)


SPECS = ["crop", "flip", "crop+flip", "cutout", "rotate", "zoom", "lighting", "rotate+zoom",
         "crop+flip+cutout+rotate+zoom+lighting", "crop=2+cutout=4+rotate=20+zoom=0.3+lighting=0.5"]


@pytest.mark.parametrize("spec", SPECS)
def test_every_policy_keeps_shape_and_dtype_is_seeded_and_changes_the_batch(spec):
    x = _batch()
    policy = ap.parse_policy(spec)
    a, b, c = policy(x, _gen(1)), policy(x, _gen(1)), policy(x, _gen(2))
    assert a.shape == x.shape and a.dtype == torch.uint8
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert not torch.equal(a, x) and torch.equal(x, _batch())  # changed, and the input left alone
    f = policy(x.float(), _gen(1))
    assert f.dtype == torch.float32 and f.shape == x.shape
    assert pickle.loads(pickle.dumps(policy)) == policy


def test_crop_flip_spec_draws_exactly_what_cropflip_draws():
    x = _batch(n=64)
    assert torch.equal(ap.parse_policy("crop+flip")(x, _gen(5)), CropFlip(4, True)(x, _gen(5)))
    assert ap.parse_policy("flip+crop") == ap.parse_policy("crop+flip") == ap.parse_policy(" Crop + FLIP ")
    assert ap.parse_policy("crop+flip").spec == "crop=4+flip"


def test_flip_twice_with_the_same_draws_is_the_identity():
    x = _batch(n=64)
    flip = ap.parse_policy("flip")
    once = flip(x, _gen(3))
    assert not torch.equal(once, x)
    assert torch.equal(flip(once, _gen(3)), x)


@pytest.mark.parametrize("size", [1, 4, 5])
def test_cutout_sets_one_square_of_the_given_side_clipped_at_the_border(size):
    x = _batch(n=200, h=9, w=9)
    out = ap.cutout(x, size, _gen(0), fill=0)
    cut = (out != x).any(1) | (out == 0).all(1)  # (n, h, w): the patch (x has no zero pixels)
    assert torch.equal(out[~cut[:, None].expand_as(x)], x[~cut[:, None].expand_as(x)])
    clipped = 0
    for i in range(len(x)):
        rows, cols = torch.nonzero(cut[i], as_tuple=True)
        assert len(rows), f"image {i} has no patch"
        hgt, wid = int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)
        assert len(rows) == hgt * wid  # one solid rectangle
        assert hgt <= size and wid <= size
        full = hgt == size and wid == size
        clipped += not full
        if not full:  # only a square that sticks out of the image is smaller
            assert rows.min() == 0 or rows.max() == 8 or cols.min() == 0 or cols.max() == 8
    assert (clipped > 0) == (size > 1)
    assert torch.equal((out == 0).all(1), cut)


def test_cutout_fills_with_the_batch_mean_by_default():
    x = _batch(n=32, c=3)
    out = ap.parse_policy("cutout=4")(x, _gen(0))
    mean = x.float().mean((0, 2, 3)).round().to(torch.uint8)
    changed = (out != x).any(1)
    assert changed.any()
    for ch in range(3):
        assert torch.all(out[:, ch][changed] == mean[ch])


def test_rotate_zoom_at_zero_angle_and_scale_one_is_the_identity_and_zoom_magnifies():
    x = _batch(n=8, h=16, w=16)
    assert torch.equal(ap.rotate_zoom(x, 1e-9, 1e-9, _gen(0)), x)
    ramp = torch.arange(16, dtype=torch.float32).repeat(1, 1, 16, 1) * 10  # brightness grows to the right
    zoomed = ap.rotate_zoom(ramp, 0.0, 1.0, _gen(0))  # scale in [1, 2]
    assert (zoomed[..., -1] - zoomed[..., 0]).mean() < (ramp[..., -1] - ramp[..., 0]).mean()


def test_lighting_keeps_pixels_in_range_and_moves_the_mean():
    x = _batch(n=64)
    out = ap.lighting(x, 0.5, _gen(0))
    assert out.dtype == torch.uint8
    shift = (out.float().mean((1, 2, 3)) - x.float().mean((1, 2, 3))).abs()
    assert shift.max() > 20


@pytest.mark.parametrize("spec, words", [
    ("crop+blur", ["'blur'", "crop, flip, cutout, rotate, zoom, lighting, none"]),
    ("crop+crop", ["'crop' appears twice"]),
    ("crop=-1", ["crop='-1'", "padding"]),
    ("cutout=2.5", ["cutout='2.5'"]),
    ("flip=1", ["'flip' takes no value"]),
    ("none+flip", ["'none' cannot be combined"]),
    ("crop++flip", ["'(empty)'"]),
])
def test_a_bad_spec_names_the_token_and_the_known_ones(spec, words):
    with pytest.raises(ValueError) as err:
        ap.parse_policy(spec)
    assert all(w in str(err.value) for w in words), str(err.value)
    assert repr(spec) in str(err.value)


def test_the_augment_parameter_values():
    assert ap.policy_from_param(True) == CropFlip(4, True)
    assert ap.policy_from_param(False) is None and ap.policy_from_param("none") is None
    assert ap.policy_from_param("") is None
    assert ap.policy_from_param("crop+cutout") == ap.Policy(pad=4, cutout=0)
    with pytest.raises(TypeError, match="augment must be"):
        ap.policy_from_param(1)


# -- mixup --------------------------------------------------------------------------------------

class _Probe(torch.nn.Module):
    """Returns its input flattened (so a test sees what the wrapped network saw)."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return x.flatten(1) + self.w


def test_mixup_mixes_inputs_and_labels_with_the_same_pairing_and_weight():
    state = Mixup(0.4, seed=7)
    net = state.wrap(_Probe()).train()
    x = _batch(n=10, c=1, h=2, w=2)
    seen = net(x)
    perm, lam = state.pairing
    assert 0.0 < lam < 1.0 and sorted(perm.tolist()) == list(range(10))
    assert torch.allclose(seen, (lam * x.float() + (1 - lam) * x.float()[perm]).flatten(1))
    target = torch.arange(10) % 3
    base = torch.nn.functional.cross_entropy
    logits = torch.randn(10, 3)
    got = state.loss(base)(logits, target)
    assert torch.isclose(got, lam * base(logits, target) + (1 - lam) * base(logits, target[perm]))
    assert state.pairing is None  # used once
    assert torch.equal(state.loss(base)(logits, target), base(logits, target))  # no pairing: the plain loss


def test_mixup_is_seeded_and_eval_mode_is_untouched():
    x = _batch(n=10, c=1, h=2, w=2)
    a, b, c = (Mixup(0.4, seed=s).wrap(_Probe()).train() for s in (1, 1, 2))
    assert torch.equal(a(x), b(x)) and not torch.equal(a(x), c(x))
    a.eval()
    assert torch.equal(a(x), x.float().flatten(1)) and a.state.pairing is None
    out = bnn.predict(b, (x,), 4)  # what valid scoring in bench.nn.fit calls
    assert torch.equal(out, x.float().flatten(1)) and b.training  # mode restored
    with pytest.raises(ValueError, match="alpha must be > 0"):
        Mixup(0.0)


# -- the cnn plugin --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def digits():
    D = load_file(ROOT / "datasets" / "digits.py")
    return D.Digits().load(None)


SMALL = {"depth": 8, "widths": (4, 8, 8), "epochs": 2, "batch_size": 64}


def _fit_predict(task, **params):
    est = CNN.CifarResNet(**{**SMALL, **params})
    est.fit(task.part("train"), task.part("valid"), FitContext(seed=1))
    return est, est.predict(task.part("test"))


def _old_policy(value):
    """The plugin's augmentation before policies: `CropFlip(4, True) if p["augment"] else None`."""
    return CropFlip(4, True) if value else None


@pytest.mark.parametrize("params", [{}, {"augment": False}, {"tta": True}])
def test_cnn_defaults_give_bitwise_the_predictions_of_the_old_code_path(digits, monkeypatch, params):
    _, new = _fit_predict(digits, **params)
    monkeypatch.setattr(ap, "policy_from_param", _old_policy)
    _, old = _fit_predict(digits, **params)
    assert np.array_equal(new, old)


def test_cnn_augment_spec_and_mixup(digits):
    assert CNN.CifarResNet.defaults["augment"] is True and CNN.CifarResNet.defaults["mixup"] == 0.0
    est, default = _fit_predict(digits)
    _, spec = _fit_predict(digits, augment="crop+flip")
    assert np.array_equal(default, spec)
    _, cut = _fit_predict(digits, augment="crop+flip+cutout")
    assert not np.array_equal(default, cut)
    mixed, with_mixup = _fit_predict(digits, mixup=0.4)
    assert not np.array_equal(default, with_mixup)
    assert type(mixed.members_[0]) is type(est.members_[0])  # the bare network is kept
    again = pickle.loads(pickle.dumps(mixed))
    assert np.array_equal(again.predict(digits.part("test")), with_mixup)
    with pytest.raises(ValueError, match="unknown token 'blur'"):
        _fit_predict(digits, augment="crop+blur")
