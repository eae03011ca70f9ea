"""item-knn's similarity in blocks of rows (plugins/collab/similarity.py) against the dense
whole-matrix version it replaced: bitwise the same similarities and predictions, a bounded peak,
and a fit that refuses, with the figures, a similarity bigger than the memory it may use."""
from __future__ import annotations

import importlib
import tracemalloc

import numpy as np
import pytest

from bench import FitContext
from bench.perf.itemknn import dense_item_similarity
from bench.plugins.registry import discover

REG = discover()
similarity = importlib.import_module(f"{REG.method('item-knn').cls.__module__}.similarity")


# the similarity as item-knn computed it before the blocks (four float64 n_items^2 arrays), kept
# as bench perf item-knn's baseline
dense_reference = dense_item_similarity


def ratings(n_users=40, n_items=30, density=0.3, seed=0):
    rng = np.random.default_rng(seed)
    mask = rng.random((n_users, n_items)) < density
    mask[:, -1] = False  # an item nobody rated
    mask[0] = False      # a user who rated nothing
    mask[1:4, 2] = True  # an item with exactly one co-rater pair
    u, i = np.nonzero(mask)
    return u, i, rng.normal(size=len(u)) * rng.integers(0, 2, len(u))  # zeros: den = 0 pairs


@pytest.mark.parametrize("shrinkage", [0.0, 3.0, 100.0])
@pytest.mark.parametrize("block_bytes", [1, 8 * 30 * 7, 8 * 30 * 30, 2**30])  # 1 row, 7, all, one block
def test_blocks_give_bitwise_the_dense_similarity(shrinkage, block_bytes):
    u, i, v = ratings()
    expected = dense_reference(u, i, v, 40, 30, shrinkage)
    got = similarity.item_similarity(u, i, v, 40, 30, shrinkage, block_bytes=block_bytes)
    assert got.dtype == np.float32 and got.shape == (30, 30)
    assert np.array_equal(got.view(np.uint32), expected.view(np.uint32))  # bitwise, signs of zero too
    assert (got != 0).sum() > 100  # the data exercise real correlations, not only zeros
    # and before the cast to float32 (which hides most last-bit differences of the float64 sums)
    wide = similarity.item_similarity(u, i, v, 40, 30, shrinkage, block_bytes=block_bytes, dtype=np.float64)
    assert np.array_equal(wide.view(np.uint64), dense_reference(u, i, v, 40, 30, shrinkage, np.float64).view(np.uint64))


@pytest.fixture(scope="module")
def ml100k_sized():
    """movielens-sim shaped like ml-100k (943 users, 1,682 items, ~6 % dense)."""
    ds = REG.dataset("movielens-sim").build({"n_users": 943, "n_items": 1682, "density": 0.063})
    return ds.load("random")


@pytest.mark.parametrize("variant", ["item-knn", "item-knn-cosine"])
def test_item_knn_fits_and_predicts_bitwise_as_the_dense_version(ml100k_sized, variant, monkeypatch):
    entry = REG.method(variant)
    train, test = ml100k_sized.part("train"), ml100k_sized.part("test")
    ours = entry.cls(**entry.resolved_params({})).fit(train, None, FitContext(seed=0))
    with monkeypatch.context() as m:  # fit imports item_similarity from the module at call time
        m.setattr(similarity, "item_similarity", dense_reference)
        theirs = entry.cls(**entry.resolved_params({})).fit(train, None, FitContext(seed=0))
    n = train.schema.categorical["item"]
    assert ours.sim_.shape == (n, n) and n > 1600
    assert np.array_equal(ours.sim_.view(np.uint32), theirs.sim_.view(np.uint32))
    pred, ref = ours.predict(test), theirs.predict(test)
    assert np.array_equal(pred, ref) and np.isfinite(pred).all()
    assert (ours.sim_ != 0).mean() > 0.1  # real co-ratings: most pairs share raters


def test_float64_sums_are_bitwise_the_dense_ones_at_ml100k_size(ml100k_sized):
    """The float32 cast hides last-bit differences of the sums: compare before it, in many blocks."""
    train = ml100k_sized.part("train")
    u, i = train.X["user"].to_numpy(np.int64), train.X["item"].to_numpy(np.int64)
    nu, ni = train.schema.categorical["user"], train.schema.categorical["item"]
    r = np.asarray(train.y, np.float64) - np.mean(train.y)
    got = similarity.item_similarity(u, i, r, nu, ni, 100.0, block_bytes=2**20, dtype=np.float64)
    assert np.array_equal(got.view(np.uint64), dense_reference(u, i, r, nu, ni, 100.0, np.float64).view(np.uint64))


def _peak(fn, *args, **kw) -> int:
    tracemalloc.start()
    try:
        fn(*args, **kw)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_peak_memory_stays_within_the_estimate_and_far_below_the_dense_version():
    n_users, n_items = 300, 2000
    rng = np.random.default_rng(2)
    u, i = np.nonzero(rng.random((n_users, n_items)) < 0.05)
    v = rng.normal(size=len(u))
    block = 2**20  # 1 MB blocks: the result dominates, as at 10k items with the default blocks
    ours = _peak(similarity.item_similarity, u, i, v, n_users, n_items, 100.0, block_bytes=block)
    theirs = _peak(dense_reference, u, i, v, n_users, n_items, 100.0)
    inputs = 3 * 3 * 12 * len(u)  # V, V2, M and their transposes, index + data arrays, slack
    assert ours <= similarity.similarity_bytes(n_items, block) + inputs, (ours, similarity.similarity_bytes(n_items, block))
    assert ours >= 4 * n_items**2  # the float32 result itself is counted: the measure is real
    assert theirs > 5 * ours, (theirs, ours)


def test_the_estimate_is_the_float32_result_plus_bounded_blocks():
    assert similarity.block_rows(10_000, 32 * 2**20) == 419
    result = 4 * 10_000**2
    assert result < similarity.similarity_bytes(10_000) <= result + 6 * 32 * 2**20
    assert similarity.similarity_bytes(10) == 4 * 100 + 6 * 8 * 10 * 10  # one block: every row


def test_fit_refuses_a_similarity_bigger_than_the_memory_it_may_use(ml100k_sized):
    entry = REG.method("item-knn")
    train = ml100k_sized.part("train")
    n = train.schema.categorical["item"]
    need = similarity.similarity_bytes(n)
    small = entry.cls(**entry.resolved_params({"max_memory_gb": need / 2**30 / 2}))
    with pytest.raises(MemoryError) as err:
        small.fit(train, None, FitContext(seed=0))
    msg = str(err.value)
    assert f"{n:,} items" in msg and "max_memory_gb" in msg and f"{need / 2**30:.2f} GB" in msg
    enough = entry.cls(**entry.resolved_params({"max_memory_gb": need / 2**30 * 1.01}))
    assert enough.fit(train, None, FitContext(seed=0)).sim_.shape == (n, n)


def test_fit_says_what_is_available_when_no_limit_is_set(ml100k_sized, monkeypatch):
    import psutil

    entry = REG.method("item-knn")

    class Low:
        available = 10 * 2**20  # 10 MB free

    monkeypatch.setattr(psutil, "virtual_memory", lambda: Low())
    with pytest.raises(MemoryError, match=r"0\.01 GB available \(psutil\.virtual_memory\(\)\.available\)"):
        entry.cls(**entry.resolved_params({})).fit(ml100k_sized.part("train"), None, FitContext(seed=0))


def test_bench_perf_item_knn_measures_both_in_their_own_processes(tmp_path, bench_cmd):
    out = tmp_path / "item-knn-memory.md"
    res = bench_cmd(["perf", "item-knn", "--users", "60", "--items", "80", "--density", "0.2", "--out", out])
    assert res.exit_code == 0, res.output
    text = out.read_text()
    assert "- Command: `" in text and "- Versions: " in text and "users, " in text
    body = [line for line in text.splitlines() if line.startswith("| dense") or line.startswith("| plugin")]
    assert [line.split("|")[1].strip() for line in body] == ["dense", "plugin"]
    for line in body:
        cells = [c.strip() for c in line.split("|")[1:-1]]
        assert float(cells[1]) > 20 and cells[-1] == "True"  # a real peak (an interpreter); same predictions
