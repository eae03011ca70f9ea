"""`bench lr-find`: the range test on problems whose answer is known, the method's own training
reached through a swapped bench.nn.fit (always restored), and the command's files and errors."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from torch import nn

import bench.nn as bnn
from bench.cli.app import main
from bench.core.method import FitContext
from bench.methods.torch import TorchMethod
from bench.nn.train import fit as real_fit
from bench.practice.lr_find import (Curve, NotANetwork, find_lr, fit_replaced, range_test, rates,
                                    suggest)
from bench.practice.lr_find_run import run_lr_find
from bench.sdk import registry

pytestmark = pytest.mark.usefixtures("torch_one_thread")

SIM = "rossmann-sim[n_stores=8,n_days=120,train_rows=600,valid_rows=100]"
SIM_PARAMS = {"n_stores": 8, "n_days": 120, "train_rows": 600, "valid_rows": 100}


class Linear(nn.Module):
    def __init__(self, d: int):
        super().__init__()
        self.lin = nn.Linear(d, 1, bias=False)

    def forward(self, x):
        return self.lin(x).squeeze(1)


def regression(n: int = 256, d: int = 4, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)) * np.array([1.0, 2.0, 0.5, 3.0])
    x = (x - x.mean(0)) / x.std(0)  # standardized features
    y = x @ rng.normal(size=d) + 0.1 * rng.normal(size=n)
    return torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.float32)


def test_full_batch_gd_on_linear_regression_stops_past_two_over_l():
    """Gradient descent on a quadratic falls for rates below 2/L and blows up above; L is the
    largest eigenvalue of the MSE's Hessian 2 X'X / n."""
    x, y = regression()
    L = float(np.linalg.eigvalsh(2 * (x.T @ x).numpy() / len(x)).max())
    torch.manual_seed(0)
    net = Linear(x.shape[1])
    cfg = bnn.TrainConfig(batch_size=len(x), optimizer="sgd", momentum=0.0, device="cpu", amp=False)
    curve = range_test(net, ((x,), y), cfg, start_lr=1e-4, end_lr=100.0, steps=100)
    assert np.all(np.diff(curve.lrs) > 0)
    np.testing.assert_allclose(curve.lrs, rates(1e-4, 100.0, 100)[:len(curve.lrs)])
    assert curve.steps_per_pass == 1 and curve.steps_planned == 100  # one batch a pass, passed over again
    assert curve.stop_reason in ("diverged", "non-finite") and len(curve.lrs) < 100
    assert curve.stopped_at_lr > 2 / L  # never before the rate where GD becomes unstable
    assert curve.stopped_at_lr < 2 / L * 10  # and soon after it
    s = suggest(curve)
    assert 1e-4 < s.steepest < 2 / L
    assert s.min_over_10 < 2 / L
    assert min(curve.losses) < 0.1 * curve.losses[0]  # it did learn before it blew up


def test_same_seed_same_curve():
    x, y = regression()
    curves = []
    for _ in range(2):
        torch.manual_seed(0)
        cfg = bnn.TrainConfig(batch_size=32, optimizer="sgd", device="cpu", seed=3)
        curves.append(range_test(Linear(4), ((x,), y), cfg, start_lr=1e-3, end_lr=1.0, steps=20).losses)
    assert curves[0] == curves[1]


class TwoScalars(nn.Module):
    """Output a + b: the loss's gradient is 1 for each, so each moves by minus its summed rates."""

    def __init__(self):
        super().__init__()
        self.a = nn.Parameter(torch.zeros(()))
        self.b = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        return (self.a + self.b).expand(len(x))


def test_groups_get_the_rate_times_their_lr_mult_and_passes_are_augmented_once_each():
    calls = []

    def augment(x, gen):
        assert isinstance(gen, torch.Generator)
        calls.append(len(x))
        return x

    net = TwoScalars()
    cfg = bnn.TrainConfig(batch_size=16, optimizer="sgd", momentum=0.0, lr_mult={"b": 10.0}, device="cpu")
    curve = range_test(net, ((torch.zeros(64, 1),), torch.zeros(64)), cfg,
                       loss_fn=lambda out, _y: out.mean() + 1000.0, augment=augment,
                       start_lr=1e-3, end_lr=1e-1, steps=10)
    assert curve.stop_reason == "completed" and len(curve.lrs) == 10
    assert sorted(curve.group_mults) == [1.0, 10.0]
    total = sum(curve.lrs)
    assert net.a.item() == pytest.approx(-total, rel=1e-5)
    assert net.b.item() == pytest.approx(-10 * total, rel=1e-5)  # 10x: the multiplier is applied
    assert curve.steps_per_pass == 4 and calls == [64, 64, 64]  # 10 steps: three passes, one draw each


def test_suggestions_on_a_known_curve():
    lrs = rates(1e-6, 1.0, 121)  # 20 points per decade
    x = np.log10(lrs)
    smoothed = 2 - np.tanh(x + 3) + np.where(x > -1, 30 * (x + 1) ** 2, 0)  # falls fastest at 1e-3, min near 0.1
    s = suggest(Curve(lrs=list(lrs), losses=list(smoothed), smoothed=list(smoothed), steps_planned=121))
    assert s.steepest == pytest.approx(1e-3, rel=0.13)
    k = int(np.argmin(smoothed))
    assert s.min_loss_lr == pytest.approx(lrs[k]) and s.min_over_10 == pytest.approx(lrs[k] / 10)
    rising = Curve(lrs=list(lrs), losses=list(x + 10), smoothed=list(x + 10), steps_planned=121)
    assert suggest(rising).steepest is None  # the loss never fell


def test_fit_replaced_restores_bench_nn_fit_after_an_error():
    with pytest.raises(RuntimeError, match="inside"):
        with fit_replaced(lambda *a, **k: None):
            assert bnn.fit is not real_fit
            raise RuntimeError("inside")
    assert bnn.fit is real_fit


class Failing(TorchMethod):
    """A network method whose loss raises, to see the swap undone after a failed range test."""

    name = "toy-failing-net"
    kinds = ("regression",)

    def fit(self, train, valid, ctx):
        def loss_fn(out, y):
            raise ValueError("a broken loss")

        cfg = self.train_config("cpu", batch_size=4)
        self.fit_members(lambda: Linear(1), ((torch.zeros(8, 1),), torch.zeros(8)), cfg, ctx, "cpu", loss_fn=loss_fn)
        return self

    def predict(self, data):
        return np.zeros(len(data))


def test_find_lr_restores_bench_nn_fit_when_the_training_fails():
    with pytest.raises(ValueError, match="a broken loss"):
        find_lr(Failing(), None, None, FitContext(device="cpu"), steps=5)
    assert bnn.fit is real_fit


def test_find_lr_refuses_a_method_without_a_network():
    with pytest.raises(NotANetwork, match="lr-find needs a network method"):
        find_lr(registry().method("knn").build(), None, None, FitContext(device="cpu"))


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    base = tmp_path_factory.mktemp("lrfind")
    (base / "data").mkdir()
    return base / "data", base / "cache"


@pytest.mark.parametrize("variant, dataset, dataset_params, params", [
    ("ee", "rossmann-sim", SIM_PARAMS, {"hidden": (16, 16)}),
    ("resnet-20", "digits", {}, {"widths": (4, 8, 8), "batch_size": 64}),
])
def test_finder_trains_the_methods_own_net_and_writes_both_files(folders, tmp_path, variant, dataset,
                                                                  dataset_params, params):
    from bench.practice.lr_find_run import write_files

    data_dir, cache_dir = folders
    f = run_lr_find(registry(), variant, dataset, dataset_params=dataset_params, params=params, seed=0,
                    device="cpu", data_dir=data_dir, cache_dir=cache_dir, start_lr=1e-5, end_lr=10.0, steps=25)
    assert bnn.fit is real_fit
    assert 0 < len(f.curve.lrs) <= 25 and all(np.isfinite(f.curve.smoothed))
    assert f.training["batch_size"] == params.get("batch_size", f.params["batch_size"])
    assert f.training["optimizer"] == f.params["optimizer"] and f.training["lr"] == f.params["lr"]
    png, js = write_files(f, tmp_path / "out", command="test")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    doc = json.loads(js.read_text())
    assert doc["dataset"]["name"] == dataset and len(doc["dataset"]["fingerprint"]) > 8
    assert doc["method"]["variant"] == variant and doc["seed"] == 0 and doc["device"] == "cpu"
    assert doc["curve"]["lr"] == f.curve.lrs and doc["suggestions"]["min_over_10"] == f.suggestions.min_over_10
    assert doc["bench_version"] and doc["command"] == "test"


def invoke(*args):
    return CliRunner().invoke(main, ["lr-find", *args], catch_exceptions=False)


def test_cli_prints_the_suggestions_and_writes_the_png(folders, tmp_path):
    data_dir, cache_dir = folders
    out = tmp_path / "out"
    res = invoke("ee", "--dataset", SIM, "--params", "hidden=[16,16]", "--steps", "20", "--start-lr", "1e-5",
                 "--device", "cpu", "--data-dir", str(data_dir), "--cache-dir", str(cache_dir), "--out", str(out))
    assert res.exit_code == 0, res.output
    assert "steepest descent: " in res.output and "minimum / 10: " in res.output
    assert (out / "lr-find.png").read_bytes()[:4] == b"\x89PNG"
    doc = json.loads((out / "lr-find.json").read_text())
    assert doc["dataset"]["params"] == SIM_PARAMS and doc["method"]["params"]["hidden"] == [16, 16]
    assert bnn.fit is real_fit


def test_cli_help_says_what_the_suggestions_mean():
    res = invoke("--help")
    assert res.exit_code == 0
    assert "steepest descent" in res.output and "minimum / 10" in res.output and "range test" in res.output


@pytest.mark.parametrize("args, message", [
    (["knn", "--dataset", "digits"], "lr-find needs a network method; knn is a knn method"),
    (["no-such-net", "--dataset", "digits"], "no-such-net"),
    (["resnet-20", "--dataset", "no-such-data"], "no-such-data"),
    (["resnet-20", "--dataset", "digits", "--params", "no_such_param=1"], "no_such_param"),
    (["resnet-20", "--dataset", "digits", "--start-lr", "1", "--end-lr", "0.1"], "--start-lr"),
])
def test_cli_usage_errors(tmp_path, args, message):
    res = invoke(*args, "--device", "cpu", "--out", str(tmp_path / "out"))
    assert res.exit_code == 2, res.output
    assert message in res.output
    assert not (tmp_path / "out").exists()
