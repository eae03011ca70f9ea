"""The shared NN training core (bench.nn): schedules, parameter groups, early stopping, seeding,
history, time budget, device and precision handling. Tiny models on the CPU; seconds in all."""
from __future__ import annotations

import math
import pickle
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from bench import FitContext, NotFittedError
from bench import nn as bnn
from bench.methods.torch import TorchMethod, member_budget, member_seed, on_cpu


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _linear_data(n=256, d=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    w = torch.arange(1.0, d + 1)
    y = x @ w + 0.01 * torch.randn(n, generator=g)
    return x, y


class Lin(nn.Module):
    def __init__(self, d=4):
        super().__init__()
        self.a = nn.Linear(d, 8)
        self.b = nn.Linear(8, 1)

    def forward(self, x):
        return self.b(torch.relu(self.a(x))).squeeze(1)


def _cfg(**kw):
    return bnn.TrainConfig(**{"epochs": 3, "batch_size": 32, "lr": 1e-2, "device": "cpu", **kw})


# -- schedules --------------------------------------------------------------------------------

def test_constant_schedule_is_flat():
    assert bnn.lr_factors("constant", 3, 10) == [1.0] * 30


def test_step_schedule_drops_by_gamma_every_k_epochs():
    f = bnn.lr_factors("step", 6, 5, step_every=2, step_gamma=0.5)
    assert len(f) == 30
    per_epoch = [f[e * 5] for e in range(6)]
    assert per_epoch == pytest.approx([1, 1, 0.5, 0.5, 0.25, 0.25])
    assert all(f[e * 5:(e + 1) * 5] == [f[e * 5]] * 5 for e in range(6))  # flat within an epoch


def test_cosine_schedule_decays_monotonically_and_ends_low():
    f = bnn.lr_factors("cosine", 4, 25, min_factor=0.01)
    assert f[0] == pytest.approx(1.0)
    assert f[-1] == pytest.approx(0.01)
    assert all(a >= b for a, b in zip(f, f[1:]))
    assert f[len(f) // 2] == pytest.approx(0.5, abs=0.02)


def test_onecycle_rises_to_the_peak_then_decays_far_below_the_start():
    f = bnn.lr_factors("onecycle", 10, 20, pct_start=0.25, div_factor=25, final_div=1e4)
    peak = int(np.argmax(f))
    assert f[0] == pytest.approx(1 / 25)
    assert max(f) == pytest.approx(1.0)
    assert abs(peak - 50) <= 1
    assert all(a <= b for a, b in zip(f[:peak], f[1:peak + 1]))
    assert all(a >= b for a, b in zip(f[peak:], f[peak + 1:]))
    assert f[-1] == pytest.approx(1 / 25e4)
    mom = bnn.momentum_factors("onecycle", len(f), 0.25, (0.95, 0.85))
    assert mom[0] == pytest.approx(0.95) and mom[-1] == pytest.approx(0.95)
    assert min(mom) == pytest.approx(0.85)
    assert int(np.argmin(mom)) == peak
    assert bnn.momentum_factors("cosine", len(f)) is None


def test_warmup_ramps_linearly():
    f = bnn.lr_factors("constant", 2, 10, warmup_epochs=1)
    assert f[:10] == pytest.approx([(i + 1) / 10 for i in range(10)])
    assert f[10:] == [1.0] * 10


def test_unknown_schedule_and_optimizer_are_named():
    with pytest.raises(ValueError, match="onecycle"):
        bnn.lr_factors("linear", 1, 1)
    with pytest.raises(ValueError, match="adamw"):
        bnn.make_optimizer("lamb", bnn.param_groups(Lin()), 1e-3)


def test_fit_follows_the_schedule_in_history():
    x, y = _linear_data(128)
    res = bnn.fit(Lin(), ((x,), y), _cfg(epochs=4, schedule="step", step_every=1, step_gamma=0.1))
    assert [r["lr"] for r in res.history] == pytest.approx([1e-2, 1e-3, 1e-4, 1e-5])


def _hand_factors(schedule, epochs, spe, step_every=1, step_gamma=0.1, milestones=(), min_factor=0.0):
    """The closed forms bench computed by hand before it took these schedules from torch."""
    total = epochs * spe
    if schedule == "step":
        return [step_gamma ** ((s // spe) // step_every) for s in range(total)]
    if schedule == "multistep":
        return [step_gamma ** sum((s // spe) >= m for m in milestones) for s in range(total)]
    last = max(1, total - 1)
    return [min_factor + (1 - min_factor) * 0.5 * (1 + math.cos(math.pi * s / last)) for s in range(total)]


TORCH_SCHEDULES = [
    ("step", {"step_every": 2, "step_gamma": 0.3}),
    ("step", {"step_every": 1, "step_gamma": 0.1}),
    ("multistep", {"milestones": (0, 3, 3, 5), "step_gamma": 0.1}),
    ("multistep", {"milestones": (4, 6), "step_gamma": 0.1}),
    ("cosine", {"min_factor": 0.01}),
    ("cosine", {}),
]


@pytest.mark.parametrize("schedule,kw", [(s, kw) for s, kw in TORCH_SCHEDULES if "min_factor" not in kw])
def test_torch_schedulers_give_the_hand_written_lr_at_every_step_of_a_fit(schedule, kw, monkeypatch):
    """step, multistep and cosine come from torch's schedulers: the lr the optimizer has at each
    step of a fit is the hand-written closed form's, to 1e-12."""
    import bench.nn.train as train_module

    seen, real = [], train_module.make_optimizer

    def recording(*args, **kwargs):
        opt = real(*args, **kwargs)
        opt.register_step_pre_hook(lambda o, a, k: seen.append([g["lr"] for g in o.param_groups]))
        return opt

    monkeypatch.setattr(train_module, "make_optimizer", recording)
    x, y = _linear_data(96)
    bnn.fit(Lin(), ((x,), y), _cfg(epochs=8, batch_size=16, lr=1e-3, schedule=schedule, **kw))
    hand = _hand_factors(schedule, 8, 6, **kw)
    assert len(seen) == len(hand) == 48
    assert [lr / 1e-3 for lrs in seen for lr in lrs] == pytest.approx(hand, abs=1e-12, rel=0)


@pytest.mark.parametrize("epochs,spe", [(40, 391), (7, 13), (10, 1)])
@pytest.mark.parametrize("schedule,kw", TORCH_SCHEDULES)
def test_torch_schedules_match_the_closed_forms_over_long_runs(schedule, kw, epochs, spe):
    hand = _hand_factors(schedule, epochs, spe, **kw)
    assert bnn.lr_factors(schedule, epochs, spe, **kw) == pytest.approx(hand, abs=1e-12, rel=0)


def test_he_et_al_step_schedule_is_bitwise_the_hand_written_one():
    """Two drops by 10 (He et al.; the smoke suite's resnet-20): the same floats, so the same nets."""
    for epochs, spe in [(3, 57), (40, 391), (182, 391)]:
        marks = (epochs // 2, epochs * 3 // 4)
        f = bnn.lr_factors("multistep", epochs, spe, milestones=marks, step_gamma=0.1)
        assert f == _hand_factors("multistep", epochs, spe, milestones=marks, step_gamma=0.1)


# -- optimizers and parameter groups ------------------------------------------------------------

def test_param_groups_apply_lr_multipliers_by_longest_prefix_and_skip_decay_on_biases():
    m = Lin()
    groups = bnn.param_groups(m, {"a": 10.0, "a.bias": 0.5}, weight_decay=0.1)
    opt = bnn.make_optimizer("adamw", groups, 1e-3)
    by_param = {id(p): g for g in opt.param_groups for p in g["params"]}
    assert by_param[id(m.a.weight)]["lr"] == pytest.approx(1e-2)
    assert by_param[id(m.a.bias)]["lr"] == pytest.approx(5e-4)
    assert by_param[id(m.b.weight)]["lr"] == pytest.approx(1e-3)
    assert by_param[id(m.a.weight)]["weight_decay"] == 0.1
    assert by_param[id(m.b.bias)]["weight_decay"] == 0.0
    with pytest.raises(KeyError, match="match no parameter"):
        bnn.param_groups(m, {"embeds": 2.0})


def test_fit_scales_each_group_and_a_zero_multiplier_freezes_it():
    x, y = _linear_data(128)
    m = Lin()
    a0, b0 = m.a.weight.detach().clone(), m.b.weight.detach().clone()
    bnn.fit(m, ((x,), y), _cfg(epochs=2, schedule="onecycle", lr_mult={"a.": 0.0}))
    assert torch.equal(m.a.weight, a0)
    assert not torch.equal(m.b.weight, b0)


@pytest.mark.parametrize("name", bnn.OPTIMIZERS)
def test_every_optimizer_reduces_the_loss(name):
    x, y = _linear_data(256)
    lr = {"sgd": 1e-2, "rmsprop": 1e-3, "adam": 1e-2, "adamw": 1e-2}[name]
    with bnn.seeded(0):
        m = Lin()
    res = bnn.fit(m, ((x,), y), _cfg(epochs=8, optimizer=name, lr=lr, nesterov=True, weight_decay=1e-4))
    assert res.history[-1]["train_loss"] < 0.5 * res.history[0]["train_loss"]


@pytest.mark.parametrize("impl", ["loop", "foreach", "fused"])
def test_optimizer_kernels_agree(impl):
    x, y = _linear_data(128)
    outs = []
    for which in ("loop", impl):
        with bnn.seeded(0):
            m = Lin()
        bnn.fit(m, ((x,), y), _cfg(epochs=2, optimizer="adam", optimizer_impl=which))
        outs.append(bnn.predict(m, (x,)))
    torch.testing.assert_close(outs[0], outs[1], rtol=1e-4, atol=1e-5)


def test_kaiming_init():
    m = bnn.init_weights(nn.Linear(2000, 500), "kaiming")
    assert m.weight.std().item() == pytest.approx(math.sqrt(2 / 2000), rel=0.05)
    assert torch.all(m.bias == 0)
    d = nn.Linear(4, 4)
    before = d.weight.detach().clone()
    assert torch.equal(bnn.init_weights(d, "default").weight, before)


# -- validation, early stopping, history ------------------------------------------------------

def test_early_stopping_restores_the_best_weights():
    x, y = _linear_data(64)
    m = Lin()
    scores = iter([5.0, 1.0, 3.0, 4.0, 0.5, 0.1])  # best at epoch 2, then two worse ones
    snapshots = []

    def metric(out, target):
        snapshots.append({k: v.clone() for k, v in m.state_dict().items()})
        return next(scores)

    res = bnn.fit(m, ((x,), y), _cfg(epochs=6, patience=2), valid=((x,), y), metric=metric,
                  metric_name="valid_score")
    assert res.stop_reason == "early-stopped"
    assert res.epochs_run == 4 and res.best_epoch == 2 and res.best_score == 1.0
    for k, v in m.state_dict().items():
        assert torch.equal(v, snapshots[1][k]), k
    assert not torch.equal(m.a.weight, snapshots[-1]["a.weight"])
    notes = [r["note"] for r in res.history if "note" in r]
    assert any("early stop" in n for n in notes) and any("epoch 2" in n for n in notes)


def test_maximized_metric_and_no_restore():
    x, y = _linear_data(64)
    m = Lin()
    scores = iter([0.1, 0.9, 0.5])
    res = bnn.fit(m, ((x,), y), _cfg(epochs=3, restore_best=False), valid=((x,), y),
                  metric=lambda o, t: next(scores), metric_name="valid_acc", maximize=True)
    assert res.best_epoch == 2 and res.stop_reason == "completed"
    assert not any("note" in r for r in res.history)


def test_history_rows_go_to_the_fit_context():
    x, y = _linear_data(100)
    ctx = FitContext(seed=0)
    res = bnn.fit(Lin(), ((x,), y), _cfg(epochs=3), valid=((x[:20],), y[:20]), ctx=ctx,
                  log_extra={"member": 0})
    rows = [r for r in ctx.history if "note" not in r]
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    for r in rows:
        assert set(r) >= {"epoch", "train_loss", "valid_loss", "lr", "seconds", "member"}
        assert math.isfinite(r["train_loss"]) and r["seconds"] > 0
    assert res.steps == 3 * (100 // 32) and res.samples_per_s > 0


def test_last_partial_batch_and_tiny_data():
    x, y = _linear_data(10)
    assert bnn.fit(Lin(), ((x,), y), _cfg(epochs=2, batch_size=32)).steps == 2  # one full-data batch
    assert bnn.fit(Lin(), ((x,), y), _cfg(epochs=2, batch_size=4, drop_last=False)).steps == 6


def test_time_budget_stops_early_with_a_note():
    x, y = _linear_data(2048)
    ctx = FitContext(seed=0, time_budget=1e-6)
    res = bnn.fit(Lin(), ((x,), y), _cfg(epochs=50, batch_size=16), ctx=ctx)
    assert res.stop_reason == "time-budget"
    assert res.epochs_run == 1 and res.steps < 2048 // 16  # stopped inside the first epoch
    assert any("time budget" in r.get("note", "") for r in ctx.history)


def test_divergence_is_reported():
    x, y = _linear_data(64)
    res = bnn.fit(Lin(), ((x,), y), _cfg(epochs=5), loss_fn=lambda o, t: ((o - t) ** 2).mean() * float("nan"))
    assert res.stop_reason == "diverged" and res.epochs_run == 1


# -- determinism, device, precision -------------------------------------------------------------

def _seeded_fit(seed):
    x, y = _linear_data(200)
    with bnn.seeded(seed):
        m = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 1), nn.Flatten(0))
        bnn.fit(m, ((x,), y), _cfg(epochs=3, seed=seed))
    return bnn.predict(m, (x,))


def test_seeded_fits_are_bitwise_equal_on_cpu():
    a, b, c = _seeded_fit(1), _seeded_fit(1), _seeded_fit(2)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_seeded_leaves_the_callers_random_stream_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    with bnn.seeded(7):
        torch.rand(5)
    assert torch.equal(torch.rand(3), expected)


def test_resolve_device():
    assert bnn.resolve_device("cpu") == torch.device("cpu")
    auto = bnn.resolve_device("auto")
    assert auto.type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            bnn.resolve_device("cuda")
    else:
        assert bnn.resolve_device("cuda").index is not None


def test_autocast_is_a_no_op_on_cpu_unless_asked():
    a, b = torch.randn(4, 4), torch.randn(4, 4)
    cpu = torch.device("cpu")
    with bnn.autocast(cpu, enabled=True):
        assert (a @ b).dtype == torch.float32
    with bnn.autocast(cpu, enabled=True, cpu=True):
        assert (a @ b).dtype == torch.bfloat16
    with bnn.autocast(cpu, enabled=False, cpu=True):
        assert (a @ b).dtype == torch.float32


def test_fit_with_amp_on_cpu_trains_in_fp32():
    seen = []

    class Spy(Lin):
        def forward(self, x):
            h = self.a(x)
            seen.append(h.dtype)
            return self.b(torch.relu(h)).squeeze(1)

    x, y = _linear_data(64)
    bnn.fit(Spy(), ((x,), y), _cfg(epochs=1, amp=True))
    assert set(seen) == {torch.float32}


def test_predict_is_batched_in_eval_mode_without_grad_and_restores_mode():
    m = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 1))
    m.train()
    x = torch.randn(50, 4)
    a = bnn.predict(m, (x,), batch_size=7)
    b = bnn.predict(m, (x,), batch_size=64)
    torch.testing.assert_close(a, b)
    assert not a.requires_grad and a.dtype == torch.float32 and a.shape == (50, 1)
    assert m.training


def test_channels_last_and_several_inputs():
    class Conv(nn.Module):
        def __init__(self):
            super().__init__()
            self.c = nn.Conv2d(3, 4, 3, padding=1)
            self.e = nn.Embedding(5, 4)

        def forward(self, img, tag):
            return self.c(img).mean((2, 3)) + self.e(tag)

    img = torch.randn(40, 3, 8, 8)
    tag = torch.randint(0, 5, (40,))
    y = torch.randint(0, 4, (40,))
    m = Conv()
    res = bnn.fit(m, ((img, tag), y), _cfg(epochs=2, batch_size=8, channels_last=True),
                  loss_fn=nn.functional.cross_entropy, valid=((img, tag), y),
                  metric=lambda o, t: (o.argmax(1) == t).float().mean().item(), maximize=True)
    assert res.epochs_run == 2 and m.c.weight.is_contiguous(memory_format=torch.channels_last)


def test_mismatched_rows_are_an_error():
    with pytest.raises(ValueError, match="rows"):
        bnn.fit(Lin(), ((torch.randn(10, 4),), torch.randn(9)), _cfg())


# -- the TorchMethod base of the NN plugins ---------------------------------------------------

class TinyFamily(TorchMethod):
    """A family as small as can be: one Lin net per member, trained by the base."""

    name = "tiny"
    kinds = ("regression",)
    defaults = {"epochs": 3, "batch_size": 32, "lr": 1e-2, "restore_best": True, "ensemble": 1,
                "train_options": None, "width": 8}

    def fit(self, train, valid, ctx):
        self.check_kind(train)
        self.fit_members(Lin, ((train.X,), train.y), self.train_config("cpu"), ctx, torch.device("cpu"))
        return self

    def predict(self, data):
        self.check_fitted()
        return np.mean([bnn.predict(m, (data.X,)).numpy() for m in self.members_], 0)


def _part(seed=0):
    x, y = _linear_data(seed=seed)
    return SimpleNamespace(kind="regression", X=x, y=y)


def test_train_config_takes_the_params_named_like_its_fields_cast_to_their_types():
    cfg = TinyFamily(epochs=4.0, lr=1, restore_best=0, train_options={"grad_clip": 2.0}).train_config("cpu")
    assert (cfg.epochs, cfg.lr, cfg.restore_best, cfg.grad_clip, cfg.device) == (4, 1.0, False, 2.0, "cpu")
    assert type(cfg.epochs) is int and type(cfg.lr) is float
    assert cfg.batch_size == 32 and cfg.optimizer == "adam"  # a field without a param keeps its default
    assert TinyFamily().train_config("cpu", epochs=9, restore_best=False).epochs == 9  # the family's own win
    with pytest.raises(ValueError, match=r"train_options names \['gradclip'\].*grad_clip"):
        TinyFamily(train_options={"gradclip": 1.0}).train_config("cpu")


def test_member_seeds_and_budget_shares():
    assert member_seed(5, 0) == 5
    assert len({member_seed(5, i) for i in range(1, 6)} | {5}) == 6
    assert member_seed(5, 3) == member_seed(5, 3) != member_seed(6, 3)
    assert member_budget(None, 0.9, 3.0, 2) is None
    assert member_budget(100.0, 0.9, 10.0, 2) == pytest.approx(40.0)
    assert member_budget(100.0, 0.9, 95.0, 1) == 0.0


def test_a_seeded_ensemble_is_reproducible_and_its_first_member_is_the_single_net():
    def fit(k):
        ctx = FitContext(seed=3)
        return TinyFamily(ensemble=k).fit(_part(), None, ctx), ctx

    (a, ctx), (b, _), (single, _) = fit(3), fit(3), fit(1)
    assert len(a.members_) == 3 and {r["member"] for r in ctx.history} == {0, 1, 2}
    for m, n in zip(a.members_, b.members_):
        assert all(torch.equal(p, q) for p, q in zip(m.parameters(), n.parameters()))
    assert all(torch.equal(p, q) for p, q in zip(a.members_[0].parameters(), single.members_[0].parameters()))
    assert not torch.equal(a.members_[0].a.weight, a.members_[1].a.weight)
    with pytest.raises(ValueError, match="tiny: ensemble must be >= 1, not 0"):
        TinyFamily(ensemble=0).fit(_part(), None, FitContext())


def test_each_member_gets_its_seed_and_its_share_of_the_budget(monkeypatch):
    seen = []
    real_fit = bnn.fit

    def spy(net, data, cfg, **kw):
        seen.append((cfg.seed, cfg.time_budget))
        return real_fit(net, data, cfg, **kw)

    monkeypatch.setattr(bnn, "fit", spy)
    monkeypatch.setattr(TinyFamily, "budget_share", 0.5)
    TinyFamily(ensemble=2).fit(_part(), None, FitContext(seed=7, time_budget=100.0))
    assert [s for s, _ in seen] == [7, member_seed(7, 1)]
    assert seen[0][1] == pytest.approx(25.0, abs=0.5)  # half of 50 s for the first of two
    assert 25.0 < seen[1][1] <= 50.0  # what the first left of the 50 s


def test_torch_method_guards_predict_and_pickles_its_nets():
    model = TinyFamily()
    with pytest.raises(NotFittedError, match="tiny: call fit before predict"):
        model.predict(_part(1))
    model.fit(_part(), None, FitContext())
    clone = pickle.loads(pickle.dumps(model))
    assert np.array_equal(clone.predict(_part(1)), model.predict(_part(1)))
    assert on_cpu(model.members_[0]) is model.members_[0]  # no copy of a net already on the CPU
    assert model.n_parameters() == 4 * 8 + 8 + 8 + 1
    with pytest.raises(ValueError, match=r"tiny handles \('regression',\), not 'rating'"):
        TinyFamily().fit(SimpleNamespace(kind="rating"), None, FitContext())


def test_the_base_imports_without_torch():
    code = ("import sys, bench.methods.torch; "
            "assert 'torch' not in sys.modules, 'bench.methods.torch imported torch'")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


def test_the_code_identity_of_every_nn_family_covers_the_base_and_no_baseline_does():
    """Editing the base re-runs the runs of the NN plugin files, and of no baseline."""
    from bench.core import identity
    from bench.plugins.registry import discover

    reg = discover(entry_points=False)

    def files(variant):
        return {str(p) for p in identity.plugin_files(reg.method(variant).origin)}

    base = str(Path(bnn.__file__).resolve().parents[1] / "methods" / "torch.py")
    assert all(base in files(v) for v in ("mlp", "ee", "mf", "ncf", "resnet-20", "resnet-fast"))
    assert not any(base in files(v) for v in ("knn", "random-forest", "xgboost"))
