"""``autorec`` and ``svdpp`` (plugins/collab/implicit.py): AutoRec's loss sees observed ratings
only, SVD++'s user vector follows the user's implicit item set, both predict within the train
range (unseen users and items through the baseline), and AutoRec's memory guard names its knob."""
from __future__ import annotations

import importlib

import numpy as np
import pandas as pd
import pytest
import torch

from bench import FitContext, Part, Schema
from bench.core.metrics import rmse
from bench.plugins.registry import discover

REG = discover()
nets = importlib.import_module(f"{REG.method('autorec').cls.__module__.rpartition('.')[0]}.nets")


@pytest.fixture(scope="module")
def sim_task():
    return REG.dataset("movielens-sim").build({}).load("random")


def fitted(variant, task, **over):
    entry = REG.method(variant)
    ctx = FitContext(seed=0)
    model = entry.cls(**entry.resolved_params(over)).fit(task.part("train"), task.part("valid"), ctx)
    return model, ctx


# -- AutoRec ---------------------------------------------------------------------------------

def test_autorec_loss_counts_observed_entries_only():
    rng = np.random.default_rng(0)
    target = torch.tensor(rng.integers(1, 6, (4, 7)).astype(np.float32))
    target[rng.random((4, 7)) < 0.6] = float("nan")
    seen = ~torch.isnan(target)
    assert 0 < seen.sum() < seen.numel()
    out = torch.tensor(rng.normal(3, 1, (4, 7)).astype(np.float32), requires_grad=True)
    loss = nets.observed_sse(out, target)
    expected = ((out.detach() - target)[seen] ** 2).sum() / 4  # per row, averaged over the batch
    assert torch.allclose(loss, expected)
    loss.backward()
    assert (out.grad[~seen] == 0).all() and (out.grad[seen] != 0).all()
    # an unobserved entry's output (or a value hidden under its NaN) changes nothing ...
    moved = out.detach().clone()
    moved[~seen] += 100.0
    assert torch.equal(nets.observed_sse(moved, target), loss.detach())
    # ... an observed one does
    moved[seen.nonzero()[0].tolist()] += 1.0
    assert not torch.equal(nets.observed_sse(moved, target), loss.detach())


def test_autorec_inputs_are_the_train_ratings_by_item(sim_task):
    model, _ = fitted("autorec", sim_task, epochs=1, hidden=4)
    train = sim_task.part("train")
    u, i = train.X["user"].to_numpy(), train.X["item"].to_numpy()
    dense = model.ratings_.toarray()
    assert dense.shape == (train.schema.categorical["item"], train.schema.categorical["user"])
    np.testing.assert_array_equal(dense[i, u], np.asarray(train.y, np.float32))
    assert np.count_nonzero(dense) == len(train)  # zeros everywhere else


def test_autorec_records_the_valid_rmse_its_predictions_give(sim_task):
    """The loop's metric (all items reconstructed, read at (i, u), fallback, clip) is predict's."""
    model, ctx = fitted("autorec", sim_task, epochs=3, hidden=16)
    last = [h["valid_rmse"] for h in ctx.history if "valid_rmse" in h][-1]
    valid = sim_task.part("valid")
    assert last == pytest.approx(rmse(valid.y, model.predict(valid)), rel=1e-5)


def test_autorec_memory_guard_names_the_parameter(sim_task):
    entry = REG.method("autorec")
    model = entry.cls(**entry.resolved_params({"max_memory_gb": 1e-6}))
    with pytest.raises(MemoryError, match="max_memory_gb") as err:
        model.fit(sim_task.part("train"), None, FitContext(seed=0))
    n_items = sim_task.part("train").schema.categorical["item"]
    assert f"{n_items:,} items" in str(err.value)


# -- SVD++ -----------------------------------------------------------------------------------

def implicit_net(user_items: list[list[int]], n_items=6, k=3):
    indptr = np.concatenate([[0], np.cumsum([len(s) for s in user_items])])
    indices = np.concatenate([np.asarray(s, np.int64) for s in user_items])
    torch.manual_seed(0)
    return nets.ImplicitDotBias(len(user_items), n_items, k, (0.0, 5.5), indptr, indices)


def test_svdpp_user_vector_is_p_plus_the_normalised_implicit_sum():
    sets = [[0, 2, 5], [], [1], [3, 4, 0, 2]]
    net = implicit_net(sets)
    users = torch.tensor([3, 0, 1, 3, 2])
    y = net.implicit.weight.detach()
    expected = torch.stack([net.user.weight[u].detach() + (y[sets[u]].sum(0) / np.sqrt(len(sets[u]))
                                                            if sets[u] else 0) for u in users.tolist()])
    assert torch.allclose(net.user_vectors(users).detach(), expected, atol=1e-6)


def test_svdpp_prediction_follows_the_implicit_item_set_with_p_fixed():
    before, after = implicit_net([[0, 2], [1, 3]]), implicit_net([[0, 4], [1, 3]])
    after.load_state_dict({k: v for k, v in before.state_dict().items() if k not in ("indices",)}, strict=False)
    assert torch.equal(before.user.weight, after.user.weight)  # same p_u, q_i, biases and y_j
    x = torch.tensor([[0, 1], [0, 5], [1, 1], [1, 2]])
    with torch.no_grad():
        a, b = before(x), after(x)
    assert (a[:2] != b[:2]).all()  # user 0's set changed: its predictions moved
    assert torch.equal(a[2:], b[2:])  # user 1's did not


def test_svdpp_trains_only_the_implicit_vectors_of_the_batch_users_items():
    net = implicit_net([[0, 2], [1], [3, 4]])
    net(torch.tensor([[0, 5], [1, 5]])).sum().backward()
    touched = (net.implicit.weight.grad.abs().sum(1) > 0).nonzero().flatten().tolist()
    assert touched == [0, 1, 2]


# -- both ------------------------------------------------------------------------------------

@pytest.mark.parametrize("variant", ["autorec", "svdpp"])
def test_beats_the_global_mean_on_movielens_sim(sim_task, variant):
    model, _ = fitted(variant, sim_task)
    train, test = sim_task.part("train"), sim_task.part("test")
    pred = model.predict(test)
    assert pred.shape == (len(test),) and np.isfinite(pred).all()
    assert rmse(test.y, pred) < 0.95 * rmse(test.y, np.full(len(test), np.mean(train.y)))


@pytest.mark.parametrize("variant", ["autorec", "svdpp"])
def test_predictions_stay_in_the_train_range_and_unseen_ids_get_the_baseline(variant):
    rng = np.random.default_rng(1)
    n_users, n_items = 12, 9  # user 11 and item 8 never rated
    u, i = np.meshgrid(np.arange(11), np.arange(8), indexing="ij")
    keep = rng.random(u.shape) < 0.7
    X = pd.DataFrame({"user": u[keep], "item": i[keep]})
    y = np.clip(np.round(rng.normal(3.5, 1.2, len(X))), 1, 5)
    schema = Schema(categorical={"user": n_users, "item": n_items})
    train = Part(X=X, y=y, schema=schema, kind="rating")
    entry = REG.method(variant)
    model = entry.cls(**{**entry.resolved_params({}), "epochs": 30, "lr": 0.05}).fit(train, None, FitContext(seed=0))
    grid_u, grid_i = (g.ravel() for g in np.meshgrid(np.arange(n_users), np.arange(n_items), indexing="ij"))
    test = Part(X=pd.DataFrame({"user": grid_u, "item": grid_i}), y=np.zeros(len(grid_u)), schema=schema,
                kind="rating")
    pred = model.predict(test)
    assert np.isfinite(pred).all() and pred.min() >= y.min() and pred.max() <= y.max()
    assert len(np.unique(np.round(pred, 6))) > 10  # real predictions, not one constant
    if variant == "autorec":
        unseen = (grid_u == 11) | (grid_i == 8)
        np.testing.assert_allclose(pred[unseen], np.clip(model.baseline(grid_u[unseen], grid_i[unseen]), 1, 5))


def test_blend_takes_autorec_and_svdpp_as_members():
    members = REG.method("blend").cls.__module__
    M = importlib.import_module(members)
    assert {"autorec", "svdpp"} <= set(M.MEMBERS)
