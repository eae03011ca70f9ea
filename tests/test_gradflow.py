"""`bench practice init`: the per-layer measurement on networks whose answer is known, the
vanishing / flat gradient property on real digits, the cnn plugin's own nets, and the command's
files and errors."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from torch import nn

from bench.cli.app import main
from bench.practice.gradflow import (SETTINGS, DeepMLP, Outcome, Probe, Profile, Training, build_mlp, measure,
                                     mlp_probes, run_net)
from bench.practice.gradflow_report import healthy, verdict
from bench.practice.gradflow_run import cnn_builder, cnn_nets_module, flat_standardized, load_data, run_experiment
from bench.sdk import registry

pytestmark = pytest.mark.usefixtures("torch_one_thread")
BY_NAME = {s.name: s for s in SETTINGS}


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    """The digits training part: (Data, standardized flat inputs, labels, the measuring batch)."""
    folder = tmp_path_factory.mktemp("gradflow")
    data = load_data(registry(), "digits", {}, data_dir=folder / "data", cache_dir=folder / "cache", seed=0)
    x = torch.from_numpy(flat_standardized(data.images))
    y = torch.from_numpy(data.labels)
    rows = torch.from_numpy(data.measure_rows)
    return data, x, y, (x[rows], y[rows])


def test_a_scaled_permutation_chain_multiplies_the_signal_by_its_scale():
    """Linear layers with weights c * (a permutation): each output is the last one permuted and
    times c, so the signal std multiplies by c per layer, the backward signal by c per layer down,
    and every weight gradient g_l^T h_(l-1) has the same norm c^(L-1) ||g_L^T x||."""
    torch.manual_seed(0)
    c, depth, width, n = 1.7, 6, 10, 64
    layers = []
    for _ in range(depth):
        lin = nn.Linear(width, width, bias=False, dtype=torch.float64)
        with torch.no_grad():
            lin.weight.copy_(c * torch.eye(width, dtype=torch.float64)[torch.randperm(width)])
        layers.append(lin)
    net = nn.Sequential(*layers)
    x, y = torch.randn(n, width, dtype=torch.float64), torch.randint(0, width, (n,))
    p = measure(net, [Probe(f"l{i}", m, [m.weight]) for i, m in enumerate(layers)], x, y)
    np.testing.assert_allclose(p.act_std, [float(x.std()) * c ** (i + 1) for i in range(depth)], rtol=1e-10)
    np.testing.assert_allclose(np.array(p.grad_std[:-1]) / np.array(p.grad_std[1:]), c, rtol=1e-10)
    out = net(x).detach()
    g = (torch.softmax(out, 1) - torch.eye(width, dtype=torch.float64)[y]) / n  # d mean CE / d logits, by hand
    np.testing.assert_allclose(p.grad_norm, float(torch.linalg.norm(g.T @ x)) * c ** (depth - 1), rtol=1e-10)
    assert all(m.weight.grad is None for m in layers)  # measure steps nothing and leaves no gradient


def test_two_layer_net_matches_backprop_by_hand():
    torch.manual_seed(1)
    net = DeepMLP(5, 3, depth=2, width=4).double()
    x, y = torch.randn(7, 5, dtype=torch.float64), torch.tensor([0, 1, 2, 0, 1, 2, 2])
    p = measure(net, mlp_probes(net), x, y)
    w1, b1 = (t.detach().numpy() for t in (net.layers[0].linear.weight, net.layers[0].linear.bias))
    w2, b2 = (t.detach().numpy() for t in (net.layers[1].linear.weight, net.layers[1].linear.bias))
    w3, b3 = (t.detach().numpy() for t in (net.head.weight, net.head.bias))
    xs = x.numpy()
    z1 = xs @ w1.T + b1
    h1 = np.maximum(z1, 0)
    z2 = h1 @ w2.T + b2
    h2 = np.maximum(z2, 0)
    out = h2 @ w3.T + b3
    prob = np.exp(out - out.max(1, keepdims=True))
    prob /= prob.sum(1, keepdims=True)
    d_out = (prob - np.eye(3)[y.numpy()]) / len(xs)
    d_h2 = d_out @ w3
    d_z2 = d_h2 * (z2 > 0)
    d_h1 = d_z2 @ w2
    d_z1 = d_h1 * (z1 > 0)
    np.testing.assert_allclose(p.act_std, [h1.std(ddof=1), h2.std(ddof=1)], rtol=1e-10)
    np.testing.assert_allclose(p.grad_std, [d_h1.std(ddof=1), d_h2.std(ddof=1)], rtol=1e-10)
    np.testing.assert_allclose(p.grad_norm, [np.linalg.norm(d_z1.T @ xs), np.linalg.norm(d_z2.T @ h1)], rtol=1e-10)
    np.testing.assert_allclose(p.loss, -np.log(prob[np.arange(len(xs)), y.numpy()]).mean(), rtol=1e-10)


def _profile(name, digits, depth=12, width=16, seed=0):
    _, x, _, batch = digits
    torch.manual_seed(seed)
    net = build_mlp(BY_NAME[name], x.shape[1], 10, depth, width)
    return measure(net, mlp_probes(net), *batch)


@pytest.mark.parametrize("seed", [0, 1])
def test_bad_init_with_sigmoid_vanishes_while_kaiming_relu_stays_flat(digits, seed):
    bad, good = _profile("sigmoid-normal", digits, seed=seed), _profile("relu-kaiming", digits, seed=seed)
    assert bad.grad_norm[0] < 1e-2 * bad.grad_norm[-1]  # two orders of magnitude and more
    assert 0.2 < good.grad_norm[0] / good.grad_norm[-1] < 5
    assert 0.1 < good.act_std[-1] / good.act_std[0] < 10  # 16 units: the signal wanders a little


def test_zeroed_residual_branches_pass_the_signal_unchanged(digits):
    p = _profile("relu-kaiming0-res", digits, depth=6)
    assert p.act_std[1:] == [p.act_std[0]] * 5  # every residual layer is the identity at init
    assert all(g > 0 for g in p.grad_norm)  # yet each branch's weight gets a gradient
    grown = _profile("relu-kaiming-res", digits, depth=6)
    assert grown.act_std[-1] > 2 * grown.act_std[0]  # the same net with its branches at He init grows


def test_normal_init_relu_explodes_and_diverges(digits):
    _, x, y, batch = digits
    s = BY_NAME["relu-normal"]
    o = run_net("mlp", s.name, s.role, s.shows, {}, lambda: build_mlp(s, x.shape[1], 10, 8, 32), mlp_probes,
                (x, y), batch, steps=20, lr=0.01, seed=0, device=torch.device("cpu"))
    assert o.at_init.act_std[-1] > 1e3 * o.at_init.act_std[0]
    assert o.training.diverged_at is not None and o.after is None and o.training.final_loss() is None
    assert not healthy(o) and "diverges" in verdict(o) and "signal grows 10^" in verdict(o)


def _outcome(act, grads, losses, init_loss=2.3, diverged=None):
    prof = Profile([f"l{i}" for i in range(len(act))], act, grads, [1.0] * len(act), init_loss)
    return Outcome("mlp", "x", "cure", "", {}, prof, prof, Training(losses, diverged), len(losses))


def test_verdict_reads_the_numbers():
    v = verdict(_outcome([1.0, 0.5, 0.2], [1e-5, 1e-2, 1.0], [2.0] * 10))
    assert v.startswith("signal within 10x (10^-0.7) over 3 layers; gradient falls 10^5.0 from last layer to first")
    assert "does not fall" not in v  # 2.0 < 0.98 * 2.3
    flat = _outcome([1.0, 1.0, 2.0], [1.0, 2.0, 3.0], [2.29] * 10)
    assert "grows" not in verdict(flat) and "the loss does not fall" in verdict(flat) and not healthy(flat)
    assert healthy(_outcome([1.0, 1.0, 2.0], [1.0, 2.0, 3.0], [1.0] * 10))
    assert "signal grows 10^3.0" in verdict(_outcome([1.0, 1e3], [1.0, 1.0], [1.0]))


def test_cnn_nets_are_the_plugins_own(digits):
    """cnn_builder's net is, weight for weight, what the plugin's fit builds under the same seed."""
    from bench import nn as bnn

    data, *_ = digits
    reg = registry()
    for variant in ("resnet-20-nobn", "plain-20"):
        entry = reg.method(variant)
        nets = cnn_nets_module(entry)
        x = nets.images_nchw(data.images)
        make, probes, p = cnn_builder(entry, nets, x, 10, (4, 8, 8))
        method = entry.build({"widths": (4, 8, 8)})
        torch.manual_seed(3)
        ours = make()
        torch.manual_seed(3)
        theirs = bnn.init_weights(method._network(nets.Normalize(*nets.channel_stats(x)), 10), p["init"])
        method._after_init(theirs)
        assert ours.state_dict().keys() == theirs.state_dict().keys()
        assert all(torch.equal(a, theirs.state_dict()[k]) for k, a in ours.state_dict().items())
        assert len(probes(ours)) == 1 + 9  # the stem and 3 stages x 3 blocks


def test_cnn_experiment_on_tiny_nets(digits):
    data, *_ = digits
    lines = []
    exp = run_experiment(registry(), data, names=["plain-20", "resnet-20-nobn"], cnn_depth=20, cnn_widths=(4, 8, 8),
                         cnn_steps=3, cnn_batch_size=32, echo=lines.append)
    assert list(exp.outcomes) == ["cnn"]
    plain, res = exp.outcomes["cnn"]
    assert (plain.setting, res.setting) == ("plain-20", "resnet-20-nobn")
    assert plain.config["lr"] == 0.1 and res.config["lr"] == 0.01 and res.config["batch_size"] == 32
    assert len(plain.at_init.act_std) == 10 and len(plain.training.losses) == 3 and plain.after is not None
    # the residual net's branches start at zero: the first stage's blocks pass the stem's output on
    assert res.at_init.act_std[1:4] == [res.at_init.act_std[0]] * 3
    assert any("[cnn 2/2] resnet-20-nobn" in line for line in lines)


def invoke(*args):
    return CliRunner().invoke(main, ["practice", "init", *args], catch_exceptions=False)


def test_cli_writes_json_readme_and_plots(digits, tmp_path):
    data, *_ = digits
    out = tmp_path / "out"
    res = invoke("--dataset", "digits", "--depth", "6", "--width", "16", "--steps", "5", "--settings",
                 "relu-kaiming,sigmoid-default", "--settings", "plain-20", "--cnn-depth", "20", "--cnn-widths", "4,8,8",
                 "--cnn-steps", "2", "--cnn-batch-size", "32", "--out", str(out))
    assert res.exit_code == 0, res.output
    doc = json.loads((out / "init.json").read_text())
    assert doc["dataset"]["name"] == "digits" and doc["dataset"]["fingerprint"] == data.fingerprint
    assert doc["seed"] == 0 and doc["device"] == "cpu" and doc["command"] and doc["versions"]["torch"]
    mlp = doc["families"]["mlp"]["networks"]
    assert [n["setting"] for n in mlp] == ["sigmoid-default", "relu-kaiming"]  # the story's order
    assert all(len(n["at_init"]["act_std"]) == 6 and len(n["after"]["grad_norm"]) == 6 for n in mlp)
    assert [n["setting"] for n in doc["families"]["cnn"]["networks"]] == ["plain-20"]
    text = (out / "README.md").read_text()
    assert "**Claim.**" in text and "## Deep MLPs" in text and "## He et al." in text
    row = next(line for line in text.splitlines() if line.startswith("| sigmoid-default |"))
    first, last = mlp[0]["at_init"]["grad_norm"][0], mlp[0]["at_init"]["grad_norm"][-1]
    assert f"{first:.3g} / {last:.3g}" in row and f"10^{math.log10(first / last):+.1f}" in row
    assert mlp[0]["verdict"] in row
    for name in ("mlp.png", "cnn.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "[mlp 2/2] relu-kaiming" in res.output and "| relu-kaiming |" in res.output


def test_cli_bad_settings_name_is_a_usage_error(tmp_path):
    res = invoke("--dataset", "digits", "--settings", "relu-kaiming,no-such", "--out", str(tmp_path / "out"))
    assert res.exit_code == 2
    assert "'no-such'" in res.output and "relu-kaiming" in res.output and "resnet-56" in res.output
    assert not (tmp_path / "out").exists()


def test_cli_help_explains_the_experiment():
    res = invoke("--help")
    assert res.exit_code == 0 and "vanish or explode" in res.output and "--cnn-steps" in res.output
