"""Collaborative-filtering plugins (plugins/collab/) on embedded movielens-sim, and their maths
against brute force on tiny data."""
from __future__ import annotations

import importlib

import numpy as np
import pandas as pd
import pytest

from bench import FitContext, Part, Schema
from bench.core.metrics import rmse
from bench.plugins.registry import discover

REG = discover()
collab = REG.method("item-knn").cls  # the plugin package, through the registry
C = __import__(collab.__module__, fromlist=["x"])
similarity = importlib.import_module(f"{collab.__module__}.similarity")  # its scipy helpers


@pytest.fixture(scope="module")
def sim_task():
    return REG.dataset("movielens-sim").build({}).load("random")


@pytest.fixture(scope="module")
def global_mean_rmse(sim_task):
    test = sim_task.part("test")
    return rmse(test.y, np.full(len(test), np.mean(sim_task.part("train").y)))


@pytest.mark.parametrize("variant", ["bias", "item-knn", "item-knn-cosine", "mf", "mf-fastai", "ncf",
                                     "ncf-dropout", "ncf-bn", "blend"])
def test_cf_methods_beat_the_global_mean_on_movielens_sim(sim_task, global_mean_rmse, variant):
    entry = REG.method(variant)
    model = entry.cls(**entry.resolved_params({}))
    train, valid, test = sim_task.part("train"), sim_task.part("valid"), sim_task.part("test")
    model.fit(train, valid, FitContext(seed=0))
    pred = model.predict(test)
    assert pred.shape == (len(test),) and np.isfinite(pred).all()
    # model-based methods by a margin; neighbours have few co-raters at this size and only must beat it
    margin = 1.0 if variant.startswith("item-knn") else 0.95
    assert rmse(test.y, pred) < margin * global_mean_rmse, (variant, rmse(test.y, pred), global_mean_rmse)


def test_global_mean_is_the_train_mean(sim_task):
    m = REG.method("global-mean").cls().fit(sim_task.part("train"), None, FitContext())
    np.testing.assert_allclose(m.predict(sim_task.part("test")), np.mean(sim_task.part("train").y))


def test_als_biases_converge_to_the_ridge_solution():
    """ALS on the biases minimises sum (r - mu - bu - bi)^2 + reg_u |bu|^2 + reg_i |bi|^2."""
    rng = np.random.default_rng(0)
    u, i = rng.integers(0, 6, 80), rng.integers(0, 5, 80)
    r = rng.integers(1, 6, 80).astype(float)
    mu, bu, bi = C.fit_biases(u, i, r, 6, 5, 2.0, 3.0, epochs=500)
    A = np.zeros((80, 11))
    A[np.arange(80), u] = 1
    A[np.arange(80), 6 + i] = 1
    P = np.diag([2.0] * 6 + [3.0] * 5)
    exact = np.linalg.solve(A.T @ A + P, A.T @ (r - r.mean()))
    np.testing.assert_allclose(np.concatenate([bu, bi]), exact, atol=1e-8)
    assert mu == pytest.approx(r.mean())


def test_item_similarity_matches_brute_force_over_co_raters():
    rng = np.random.default_rng(1)
    n_users, n_items = 12, 6
    mask = rng.random((n_users, n_items)) < 0.6
    u, i = np.nonzero(mask)
    v = rng.normal(size=len(u))
    sim = similarity.item_similarity(u, i, v, n_users, n_items, shrinkage=3.0)
    V = np.zeros((n_users, n_items))
    V[u, i] = v
    for a in range(n_items):
        for b in range(n_items):
            both = mask[:, a] & mask[:, b]
            if a == b or not both.any():
                expected = 0.0
            else:
                num = (V[both, a] * V[both, b]).sum()
                den = np.sqrt((V[both, a] ** 2).sum() * (V[both, b] ** 2).sum())
                n = both.sum()
                expected = num / den * (n - 1) / (n - 1 + 3.0) if den > 0 else 0.0
            assert sim[a, b] == pytest.approx(expected, abs=1e-6), (a, b)


def test_item_knn_predicts_from_the_most_similar_items_the_user_rated():
    """Two items always rated alike: a user's rating of one predicts the other (cosine, no baseline)."""
    users = np.repeat(np.arange(20), 2)
    items = np.tile([0, 1], 20)
    ratings = np.repeat(np.tile([1.0, 5.0], 10), 2)  # each user gives both items the same rating
    X = pd.DataFrame({"user": np.r_[users, [20]], "item": np.r_[items, [0]]})
    y = np.r_[ratings, [5.0]]
    schema = Schema(categorical={"user": 21, "item": 2})
    train = Part(X=X, y=y, schema=schema, kind="rating")
    test = Part(X=pd.DataFrame({"user": [20], "item": [1]}), y=np.array([5.0]), schema=schema, kind="rating")
    model = REG.method("item-knn-cosine").cls(similarity="cosine", shrinkage=0.0, baseline=False, damping=0.0)
    model.fit(train, None, FitContext())
    # cos(item 0, item 1) = 1; item 1's mean is 3; the user rated item 0 (mean 65/21) with 5
    assert model.predict(test)[0] == pytest.approx(3.0 + 5.0 - 65 / 21, abs=1e-6)
    damped = REG.method("item-knn-cosine").cls(similarity="cosine", shrinkage=0.0, baseline=False, damping=1.0)
    assert damped.fit(train, None, FitContext()).predict(test)[0] == pytest.approx(3.0 + (5.0 - 65 / 21) / 2)


@pytest.mark.parametrize("variant", ["mf", "ncf"])
def test_embedding_models_hand_their_vectors_to_the_trees(sim_task, variant):
    entry = REG.method(variant)
    model = entry.cls(**entry.resolved_params({"epochs": 1})).fit(sim_task.part("train"), None, FitContext())
    emb = model.embeddings()
    cards = sim_task.schema.categorical
    assert set(emb) == {"user", "item"}
    assert emb["user"].shape[0] == cards["user"] and emb["item"].shape[0] == cards["item"]
    assert emb["user"].shape[1] == emb["item"].shape[1] and np.isfinite(emb["user"]).all()


def test_blend_refuses_a_split_without_valid_rows(sim_task):
    model = REG.method("blend").cls()
    with pytest.raises(ValueError, match="valid"):
        model.fit(sim_task.part("train"), None, FitContext())


@pytest.mark.slow
def test_a_suite_pools_folds_like_seeds_in_one_table_section(tmp_path, bench_cmd):
    """`folds = [...]`: one run per fold, one section, cells = mean ± std over the folds."""
    from bench.results.store import Store

    suite = tmp_path / "folds.toml"
    suite.write_text('[[datasets]]\nname = "movielens-sim"\nfolds = ["random", "temporal"]\n\n'
                     '[[methods]]\nvariant = "bias"\n\n[[methods]]\nvariant = "global-mean"\n\n'
                     '[table]\nmetrics = ["rmse"]\n')
    results = tmp_path / "results"
    out = bench_cmd(["run", "--suite", str(suite), "--results-dir", str(results),
                     "--cache-dir", str(tmp_path / "cache")])
    assert out.exit_code == 0, out.output
    recs = [r for r in Store(results).records() if r.spec["method"] == "bias"]
    assert sorted(r.split["name"] for r in recs) == ["random", "temporal"]
    table = bench_cmd(["table", "--suite", str(suite), "--results-dir", str(results)])
    assert table.exit_code == 0, table.output
    assert table.output.count("### ") == 1 and "folds random, temporal" in table.output
    values = [r.metrics["rmse"] for r in recs]
    line = next(x for x in table.output.splitlines() if x.startswith("| bias"))
    assert f"{np.mean(values):.4f} ± {np.std(values, ddof=1):.4f}" in line
    assert "mean ± std over 2 folds × 1 model seed (folds: several fixed splits)" in table.output


def test_folds_and_split_together_are_refused(tmp_path):
    from bench.run.suite import SuiteError, load_suite

    bad = tmp_path / "bad.toml"
    bad.write_text('[[datasets]]\nname = "movielens-sim"\nsplit = "random"\nfolds = ["random"]\n\n'
                   '[[methods]]\nvariant = "bias"\n')
    with pytest.raises(SuiteError, match="folds"):
        load_suite(bad)


@pytest.mark.slow
def test_item_embedding_plot_labels_the_most_rated_items(tmp_path, bench_cmd):
    out = tmp_path / "items.png"
    res = bench_cmd(["plot", "embeddings", "--dataset", "movielens-sim", "--split", "random",
                     "--variant", "mf", "--columns", "item", "--label-top", "5",
                     "--cache-dir", str(tmp_path / "cache"), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_perf_collab_rows_and_skipped_peers(sim_task, monkeypatch):
    from bench.perf import collab as perf_collab

    monkeypatch.setattr(perf_collab.importlib.util, "find_spec", lambda name: None)  # no peers installed
    said = []
    rows = perf_collab.run_collab(REG, {"random": sim_task}, ["global-mean", "bias"],
                                  ["surprise-svd", "fastai-collab"], echo=said.append)
    assert [r["method"] for r in rows] == ["global-mean", "bias"]
    assert rows[1]["rmse"] < rows[0]["rmse"] and rows[0]["rmse_random"] == pytest.approx(rows[0]["rmse"], abs=1e-4)
    assert any("skipping surprise-svd" in s and "pip install scikit-surprise" in s for s in said)
    assert any("skipping fastai-collab" in s for s in said)
    assert perf_collab.time_ratio(rows) is None  # neither mf nor surprise-svd ran


def test_perf_collab_keeps_going_when_a_contender_fails(sim_task, monkeypatch):
    from bench.perf import collab as perf_collab

    def broken(train, valid, seed):
        raise RuntimeError("peer crashed")

    monkeypatch.setattr(perf_collab, "_surprise", lambda name: broken)
    monkeypatch.setattr(perf_collab, "peer_available", lambda name: None)
    rows = perf_collab.run_collab(REG, {"random": sim_task}, ["bias"], ["surprise-svd"], echo=lambda s: None)
    assert rows[0]["method"] == "bias" and np.isfinite(rows[0]["rmse"])
    assert rows[1]["method"] == "surprise-svd" and "peer crashed" in rows[1]["error"]


def test_weight_decay_scales_down_with_the_train_size_only():
    """mf's decay is the tuned one up to its reference size, then sqrt(reference / rows) of it."""
    assert C.wd_for_size(0.4, 76_000, 2_880) == 0.4          # smaller data: never scaled up
    assert C.wd_for_size(0.4, 76_000, 76_000) == 0.4
    assert C.wd_for_size(0.4, 76_000, 4 * 76_000) == pytest.approx(0.2)
    assert C.wd_for_size(0.4, None, 10**7) == 0.4            # mf-fastai: the recipe as is


def test_mf_records_the_scaled_decay_it_trained_with(sim_task):
    train = sim_task.part("train")
    entry = REG.method("mf")
    ctx = FitContext()
    entry.cls(**entry.resolved_params({"epochs": 1, "wd_reference_rows": len(train) // 4})).fit(train, None, ctx)
    assert ctx.info["weight_decay"] == pytest.approx(0.4 / 2)
