"""bench.methods.features: the feature encodings the classic baselines share."""
import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from bench import Part, Schema
from bench.methods.features import TabularEncoder, encoder_for, train_rows, use_log_target

SCHEMA = Schema(categorical={"a": 4, "b": 3}, continuous=("x",))


def frame(a, b, x):
    return pd.DataFrame({"a": np.asarray(a, np.int64), "b": np.asarray(b, np.int64),
                         "x": np.asarray(x, np.float32)})


TRAIN = frame([0, 1, 1, 0, 2], [0, 1, 2, 0, 1], [1.0, 2.0, 3.0, 4.0, 5.0])  # level a=3 never seen
TEST = frame([3, 0], [2, 1], [10.0, -1.0])


def test_ordinal_passes_codes_and_continuous_through():
    enc = TabularEncoder("ordinal", SCHEMA).fit(TRAIN)
    M = enc.transform(TEST)
    assert M.dtype == np.float32
    np.testing.assert_array_equal(M, [[3, 2, 10.0], [0, 1, -1.0]])
    assert enc.feature_names_ == ["a", "b", "x"]


def test_onehot_columns_come_from_the_schema_cardinalities():
    enc = TabularEncoder("onehot", SCHEMA).fit(TRAIN)
    train, test = enc.transform(TRAIN), enc.transform(TEST)
    assert train.shape == (5, 4 + 3 + 1) and test.shape == (2, 8)
    assert enc.feature_names_[:4] == ["a=0", "a=1", "a=2", "a=3"]
    assert not sparse.issparse(test)  # narrow: dense
    np.testing.assert_array_equal(test, [[0, 0, 0, 1, 0, 0, 1, 10.0], [1, 0, 0, 0, 0, 1, 0, -1.0]])
    assert train[:, 3].sum() == 0  # the unseen level still has its column


def test_onehot_is_sparse_when_wide_and_equal_to_dense():
    schema = Schema(categorical={"store": 1115, "b": 3}, continuous=("x",))
    X = frame([0, 1114, 7], [0, 1, 2], [0.5, 1.5, 2.5]).rename(columns={"a": "store"})
    wide = TabularEncoder("onehot", schema).fit(X).transform(X)
    assert sparse.isspmatrix_csr(wide) and wide.dtype == np.float32 and wide.shape == (3, 1119)
    assert wide.nnz == 3 * 2 + 3
    dense = TabularEncoder("onehot", schema, sparse=False).fit(X).transform(X)
    np.testing.assert_array_equal(wide.toarray(), dense)


def test_scaling_uses_fit_data_only():
    enc = TabularEncoder("ordinal", SCHEMA, scale=True).fit(TRAIN)
    raw = TRAIN[["a", "b", "x"]].to_numpy(np.float64)
    mean, std = raw.mean(axis=0), raw.std(axis=0)
    np.testing.assert_allclose(enc.transform(TEST),
                               (TEST[["a", "b", "x"]].to_numpy(np.float64) - mean) / std, rtol=1e-5)
    train = enc.transform(TRAIN)
    np.testing.assert_allclose(train.mean(axis=0), 0, atol=1e-6)
    np.testing.assert_allclose(train.std(axis=0), 1, atol=1e-5)


def test_constant_columns_are_left_unscaled():
    X = frame([1, 1, 1], [0, 1, 2], [2.0, 2.0, 2.0])
    M = TabularEncoder("ordinal", SCHEMA, scale=True).fit(X).transform(X)
    assert np.isfinite(M).all()
    np.testing.assert_array_equal(M[:, 0], 0)


def test_scaled_sparse_onehot_is_not_centred():
    dense_enc = TabularEncoder("onehot", SCHEMA, scale=True, sparse=False).fit(TRAIN)
    sparse_enc = TabularEncoder("onehot", SCHEMA, scale=True, sparse=True).fit(TRAIN)
    d, s = dense_enc.transform(TEST), sparse_enc.transform(TEST)
    assert sparse.issparse(s)
    np.testing.assert_allclose(s.toarray(), d, rtol=1e-6)
    onehot = TabularEncoder("onehot", SCHEMA, sparse=False).fit(TRAIN).transform(TEST)
    assert np.array_equal(d[:, :7] == 0, onehot[:, :7] == 0)  # zeros stay zeros
    x = TRAIN["x"].to_numpy(np.float64)
    np.testing.assert_allclose(d[:, 7], (TEST["x"] - x.mean()) / x.std(), rtol=1e-5)  # continuous: centred


def test_ee_replaces_each_categorical_by_its_embedding_row():
    rng = np.random.default_rng(0)
    emb = {"a": rng.normal(size=(4, 2)), "b": rng.normal(size=(3, 5))}
    enc = TabularEncoder("ee", SCHEMA, embeddings=emb).fit(TRAIN)
    M = enc.transform(TEST)
    assert M.shape == (2, 2 + 5 + 1) and M.dtype == np.float32
    np.testing.assert_allclose(M[0], np.r_[emb["a"][3], emb["b"][2], 10.0], rtol=1e-6)
    np.testing.assert_allclose(M[1], np.r_[emb["a"][0], emb["b"][1], -1.0], rtol=1e-6)
    assert enc.feature_names_[:2] == ["a:ee0", "a:ee1"]


def test_ee_checks_its_embeddings():
    with pytest.raises(ValueError, match="no embedding matrix"):
        TabularEncoder("ee", SCHEMA, embeddings={"a": np.zeros((4, 2))})
    with pytest.raises(ValueError, match="levels"):
        TabularEncoder("ee", SCHEMA, embeddings={"a": np.zeros((3, 2)), "b": np.zeros((3, 2))})
    with pytest.raises(ValueError, match="no registry attached to fit it"):
        encoder_for("ee", Part(TRAIN, np.ones(5), SCHEMA, "regression"), ctx=None)


def test_images_become_pixels_in_unit_range():
    X = np.random.default_rng(0).integers(0, 256, (5, 4, 4, 3)).astype(np.uint8)
    enc = TabularEncoder("ordinal", Schema(image_shape=(4, 4, 3))).fit(X)
    M = enc.transform(X)
    assert M.shape == (5, 48) and M.dtype == np.float32
    np.testing.assert_allclose(M, X.reshape(5, -1) / 255.0, rtol=1e-6)
    with pytest.raises(ValueError, match="images"):
        TabularEncoder("onehot", Schema(image_shape=(4, 4, 3))).fit(X)


def test_bad_codes_and_inputs_are_refused_without_mutation():
    enc = TabularEncoder("onehot", SCHEMA).fit(TRAIN)
    with pytest.raises(ValueError, match="outside 0..3"):
        enc.transform(frame([4], [0], [0.0]))
    before = TRAIN.copy()
    TabularEncoder("ordinal", SCHEMA, scale=True).fit(TRAIN).transform(TRAIN)
    pd.testing.assert_frame_equal(TRAIN, before)
    with pytest.raises(ValueError, match="unknown encoding"):
        TabularEncoder("binary", SCHEMA)


def test_target_transform_follows_the_hint():
    y = np.array([1.0, 2.0])
    hinted = Part(TRAIN.iloc[:2], y, SCHEMA, "regression", target_transform="log")
    plain = Part(TRAIN.iloc[:2], y, SCHEMA, "regression")
    assert use_log_target("auto", hinted) and not use_log_target("auto", plain)
    assert use_log_target("log", plain) and not use_log_target("none", hinted)
    assert not use_log_target("log", Part(TRAIN.iloc[:2], y, SCHEMA, "classification"))
    with pytest.raises(ValueError, match="positive"):
        use_log_target("log", Part(TRAIN.iloc[:2], np.array([0.0, 1.0]), SCHEMA, "regression"))
    with pytest.raises(ValueError, match="target_transform='log'/'none'"):
        use_log_target(True, plain)  # the former log_target's values
    with pytest.raises(ValueError, match="'auto', 'log' or 'none'"):
        use_log_target("exp", plain)


def test_train_rows_is_a_seeded_subset():
    assert train_rows(10, None, 0) is None and train_rows(10, 20, 0) is None
    a, b = train_rows(100, 10, 3), train_rows(100, 10, 3)
    np.testing.assert_array_equal(a, b)
    assert len(np.unique(a)) == 10 and np.all(np.diff(a) > 0)
