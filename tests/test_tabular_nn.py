"""The tabular NN plugins (plugins/tabular_nn/): networks, embeddings, fitting on tiny tasks.

The conformance suite (tests/test_conformance.py) already runs every variant through the
contract checks; these tests cover what is particular to these networks."""
from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from bench import FitContext, NotFittedError, Part, Schema
from bench.plugins.checks import tiny_task
from bench.plugins.registry import load_file

PLUGIN_DIR = Path(__file__).resolve().parents[1] / "plugins" / "tabular_nn"
PLUGIN = load_file(PLUGIN_DIR)
MLP, EE = PLUGIN.MLP, PLUGIN.EntityEmbeddingNN
VARIANTS = [(cls, v, p) for cls in (MLP, EE) for v, p in cls.variants.items()]
FAST = {"epochs": 30, "batch_size": 32}


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _parts(kind="regression", seed=0):
    task = tiny_task(kind, seed)
    return task.part("train"), task.part("valid"), task.part("test")


def _mape(y, p):
    return float(np.mean(np.abs((y - p) / y)))


# -- the card imports light ------------------------------------------------------------------

def test_the_card_imports_no_torch_pandas_or_scipy_until_a_net_is_needed():
    """Listing plugins and rendering tables import the card only; the nets come with fit."""
    code = ("import sys; from bench.plugins.registry import load_file; "
            f"m = load_file({str(PLUGIN_DIR)!r}); heavy = ('torch', 'pandas', 'scipy'); "
            "print(sorted(h for h in heavy if h in sys.modules)); "
            "print(m.OneHotLinear.__module__, 'torch' in sys.modules)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split("\n")[:2] == ["[]", f"{PLUGIN.__name__}.nets True"]


# -- the one-hot layer -----------------------------------------------------------------------

def test_embedding_bag_one_hot_equals_the_dense_one_hot_matmul():
    cards = [20, 7, 2]
    layer = PLUGIN.OneHotLinear(cards, n_cont=2, out=16, impl="embedding")
    g = torch.Generator().manual_seed(0)
    x_cat = torch.stack([torch.randint(c, (50,), generator=g) for c in cards], 1)
    x_cont = torch.randn(50, 2, generator=g)
    a = layer(x_cat, x_cont)
    a.square().sum().backward()
    grad_a = layer.weight.grad.clone()
    layer.weight.grad = None
    layer.impl = "dense"
    b = layer(x_cat, x_cont)
    b.square().sum().backward()
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(grad_a, layer.weight.grad, rtol=1e-5, atol=1e-5)
    # and both equal an explicit one-hot matrix through nn.Linear with the same weights
    onehot = torch.cat([torch.nn.functional.one_hot(x_cat[:, i], c) for i, c in enumerate(cards)], 1).float()
    ref = onehot @ layer.weight + x_cont @ layer.cont.weight.T + layer.bias
    torch.testing.assert_close(a, ref, rtol=1e-5, atol=1e-5)


def test_onehot_impls_fit_the_same_model():
    train, valid, test = _parts()
    preds = [MLP(onehot_impl=impl, epochs=2).fit(train, valid, FitContext(seed=0)).predict(test)
             for impl in ("embedding", "dense")]
    np.testing.assert_allclose(preds[0], preds[1], rtol=1e-4)


# -- every variant ---------------------------------------------------------------------------

@pytest.mark.parametrize("cls, variant, params", VARIANTS, ids=[v for _, v, _ in VARIANTS])
def test_variant_forward_backward(cls, variant, params):
    train, valid, _ = _parts()
    model = cls(**{**params, "epochs": 1}).fit(train, valid, FitContext(seed=0))
    net = model.members_[0]
    net.train()
    x_cat, x_cont = model._tensors(train.X.iloc[:16])
    out = net(x_cat, x_cont)
    assert out.shape == (16,)
    out.sum().backward()
    grads = [p.grad for p in net.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)


@pytest.mark.parametrize("cls, variant, params", VARIANTS, ids=[v for _, v, _ in VARIANTS])
def test_variant_beats_the_mean_on_tiny_regression(cls, variant, params):
    train, valid, test = _parts()
    pred = cls(**{**params, **FAST}).fit(train, valid, FitContext(seed=0)).predict(test)
    assert _mape(test.y, pred) < 0.5 * _mape(test.y, np.full(len(test), train.y.mean()))


@pytest.mark.parametrize("kind", ["classification", "rating"])
def test_ee_learns_other_kinds(kind):
    train, valid, test = _parts(kind)
    pred = EE(**FAST).fit(train, valid, FitContext(seed=0)).predict(test)
    if kind == "classification":
        majority = np.bincount(train.y).argmax()
        assert np.mean(pred == test.y) > np.mean(test.y == majority) + 0.2
    else:
        rmse = np.sqrt(np.mean((pred - test.y) ** 2))
        assert rmse < np.sqrt(np.mean((train.y.mean() - test.y) ** 2))


def test_classification_labels_need_not_be_codes():
    train, valid, test = _parts("classification")
    names = np.array(["low", "mid", "high"])
    relabel = lambda part: Part(part.X, names[part.y], part.schema, part.kind)  # noqa: E731
    pred = EE(epochs=3).fit(relabel(train), relabel(valid), FitContext(seed=0)).predict(relabel(test))
    assert set(pred) <= set(names)


# -- embeddings ------------------------------------------------------------------------------

def test_ee_embeddings_have_one_row_per_level():
    train, valid, _ = _parts()
    model = EE(epochs=1).fit(train, valid, FitContext(seed=0))
    emb = model.embeddings()
    assert list(emb) == list(train.schema.categorical)
    for col, card in train.schema.categorical.items():
        assert emb[col].shape == (card, PLUGIN.fastai_emb_size(card))
        assert emb[col].dtype == np.float32
    emb["store"][:] = 0  # a copy: the model is untouched
    assert model.members_[0].stem.embeds[0].weight.abs().sum() > 0


def test_emb_sizes_paper_and_overrides():
    ee = EE(emb_sizes="paper")
    assert ee.emb_dims(["store", "day_of_week", "state", "other"], [1115, 7, 12, 100]) == \
        [10, 6, 6, PLUGIN.fastai_emb_size(100)]
    assert EE(emb_sizes={"store": 3}).emb_dims(["store", "promo"], [20, 2]) == [3, PLUGIN.fastai_emb_size(2)]
    with pytest.raises(ValueError, match="emb_sizes"):
        EE(emb_sizes="big").emb_dims(["a"], [3])
    train, valid, _ = _parts()
    emb = EE(emb_sizes={"store": 3}, epochs=1).fit(train, valid, FitContext(seed=0)).embeddings()
    assert emb["store"].shape == (20, 3)


def test_embeddings_before_fit_and_predict_before_fit_raise():
    _, _, test = _parts()
    with pytest.raises(NotFittedError):
        EE().embeddings()
    with pytest.raises(NotFittedError):
        MLP().predict(test)


# -- contract details ------------------------------------------------------------------------

def test_seeded_fits_predict_identically_and_pickle_round_trips():
    train, valid, test = _parts()
    a = EE(dropout=0.2, emb_dropout=0.1, epochs=3)
    b = EE(dropout=0.2, emb_dropout=0.1, epochs=3)
    pa = a.fit(train, valid, FitContext(seed=3)).predict(test)
    pb = b.fit(train, valid, FitContext(seed=3)).predict(test)
    np.testing.assert_array_equal(pa, pb)
    pc = EE(dropout=0.2, emb_dropout=0.1, epochs=3).fit(train, valid, FitContext(seed=4)).predict(test)
    assert not np.array_equal(pa, pc)
    clone = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(clone.predict(test), pa)
    for col, m in a.embeddings().items():
        np.testing.assert_array_equal(clone.embeddings()[col], m)


def test_history_is_logged_per_epoch_and_per_member():
    train, valid, test = _parts()
    ctx = FitContext(seed=0)
    model = EE(epochs=3, ensemble=2, restore_best=False).fit(train, valid, ctx)
    rows = [r for r in ctx.history if "note" not in r]
    assert [(r["member"], r["epoch"]) for r in rows] == [(0, 1), (0, 2), (0, 3), (1, 1), (1, 2), (1, 3)]
    assert all({"train_loss", "valid_mape", "lr", "seconds"} <= set(r) for r in rows)
    assert len(ctx.info["nn_fits"]) == 2 and ctx.info["device"] == "cpu"
    assert model.predict(test).shape == (len(test),)


def test_time_budget_cuts_training_short():
    train, valid, _ = _parts()
    ctx = FitContext(seed=0, time_budget=1e-6)
    EE(epochs=50, batch_size=8).fit(train, valid, ctx)
    rows = [r for r in ctx.history if "note" not in r]
    assert len(rows) == 1 and any("time budget" in r.get("note", "") for r in ctx.history)


def test_fit_leaves_inputs_and_params_alone():
    train, valid, _ = _parts()
    X, y = train.X.copy(), train.y.copy()
    model = EE(epochs=1)
    params = dict(model.get_params())
    model.fit(train, valid, FitContext(seed=0))
    pd.testing.assert_frame_equal(train.X, X)
    np.testing.assert_array_equal(train.y, y)
    assert model.get_params() == params


def test_bad_inputs_are_named():
    train, valid, _ = _parts()
    X = train.X.copy()
    X.loc[0, "store"] = 25  # cardinality 20
    with pytest.raises(ValueError, match="store"):
        EE(epochs=1).fit(Part(X, train.y, train.schema, train.kind, "log"), None, FitContext())
    with pytest.raises(ValueError, match="positive"):
        EE(epochs=1, target_transform="log").fit(
            Part(train.X, train.y - train.y.max(), train.schema, train.kind), None, FitContext())
    with pytest.raises(TypeError, match="did you mean 'epochs'"):
        EE(epoch=3)


def test_no_categorical_columns_and_no_valid_part():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    y = 3 * X["a"].to_numpy() - X["b"].to_numpy() + rng.normal(0, 0.1, 200)
    part = Part(X, y, Schema(continuous=("a", "b")), "regression")
    for cls in (MLP, EE):
        pred = cls(**FAST).fit(part, None, FitContext(seed=0)).predict(part)
        assert np.sqrt(np.mean((pred - y) ** 2)) < 0.5 * y.std()


@pytest.mark.parametrize("rows,epochs", [(200_000, 10), (8_645, 200), (20_000, 100), (500, 200), (5_000_000, 10)])
def test_auto_epochs_show_the_net_about_two_million_samples_within_10_to_200(rows, epochs):
    assert PLUGIN.auto_epochs("auto", rows) == epochs
    assert PLUGIN.auto_epochs(7, rows) == 7  # a number is kept


def test_default_epochs_on_a_small_table_train_past_ten_and_stop_early():
    """A few hundred rows: "auto" allows 200 epochs; patience ends the run once valid stalls."""
    train, valid, _ = _parts("regression")
    ctx = FitContext()
    EE(hidden=(32, 32), batch_size=32).fit(train, valid, ctx)
    fit = ctx.info["nn_fits"][0]
    assert fit["epochs_run"] > 10
    assert fit["stop_reason"] == "early-stopped" and fit["epochs_run"] == fit["best_epoch"] + 10
