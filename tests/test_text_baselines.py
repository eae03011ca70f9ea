"""Text baselines: TF-IDF fitted on train texts only, NB-SVM by the paper's formulas, the
classic baselines (KNN, random forest, XGBoost) on TF-IDF or averaged word vectors."""
from __future__ import annotations

import numpy as np
import pytest

from bench import FitContext, Part, Schema
from bench.methods.features import encoder_for
from bench.methods.text_features import AveragedEmbeddings, TfidfText
from bench.plugins.checks import tiny_task
import bench

TEXT = "text-classification"


def part(texts, y=None):
    y = np.zeros(len(texts), dtype=np.int64) if y is None else np.asarray(y)
    return Part(np.array(texts, dtype=object), y, Schema(n_classes=2), TEXT)


def test_tfidf_vocabulary_comes_from_train_texts_only():
    train = part(["good film", "bad film", "good acting"])
    enc = TfidfText(min_df=1)
    M = enc.fit_transform(train.X)
    vocab = set(enc.vectorizer_.vocabulary_)
    assert {"good", "film", "good film"} <= vocab
    assert "superb" not in vocab and "superb plot" not in vocab
    test = enc.transform(np.array(["superb plot", "good plot"], dtype=object))
    assert test[0].nnz == 0  # words never seen in train carry no weight
    assert test[1].nnz == 1 and M.shape[1] == test.shape[1]


def test_tfidf_keeps_ngrams_of_two_train_texts_and_falls_back_on_tiny_parts():
    enc = TfidfText()
    enc.fit_transform(np.array(["good film", "bad film", "good acting"], dtype=object))
    assert set(enc.vectorizer_.vocabulary_) == {"good", "film"}
    enc.fit_transform(np.array(["good film", "bad acting"], dtype=object))  # nothing twice
    assert "good film" in enc.vectorizer_.vocabulary_


def test_tfidf_svd_gives_dense_columns_fitted_on_train():
    t = tiny_task(TEXT)
    enc = encoder_for("ordinal", t.part("train"), pca=4, seed=0)
    M = enc.fit_transform(t.part("train").X)
    assert isinstance(M, np.ndarray) and M.shape == (len(t.part("train")), 4)
    assert enc.transform(t.part("test").X).shape == (len(t.part("test")), 4)


def test_text_encodings_other_than_tfidf_and_ee_are_refused():
    t = tiny_task(TEXT)
    with pytest.raises(ValueError, match="not for text"):
        encoder_for("onehot", t.part("train"))


class _FakeNetwork:
    """Two-dimensional word vectors: a text's vector is the mean of its words'."""

    table = {"good": (1.0, 0.0), "bad": (0.0, 1.0)}

    def text_vectors(self, texts):
        return np.array([np.mean([self.table.get(w, (0.0, 0.0)) for w in t.split()], axis=0) for t in texts])


def test_averaged_embeddings_ask_the_network_and_scale_on_train_statistics():
    enc = AveragedEmbeddings(_FakeNetwork(), scale=True)
    M = enc.fit_transform(np.array(["good good", "bad", "good bad"], dtype=object))
    assert np.allclose(M.mean(axis=0), 0, atol=1e-6)
    out = enc.transform(np.array(["good"], dtype=object))
    expected = (np.array([1.0, 0.0]) - enc.scaler_.mean_) / enc.scaler_.std_
    assert np.allclose(out[0], expected, atol=1e-6)


def test_ee_on_text_needs_a_network_with_text_vectors():
    t = tiny_task(TEXT)
    ctx = FitContext()
    with pytest.raises(ValueError, match="resolve_method"):
        encoder_for("ee", t.part("train"), ctx)


def test_nbsvm_log_count_ratio_and_interpolation_follow_the_paper():
    train = part(["good good fun", "good plot", "bad plot", "bad bad dull"], [1, 1, 0, 0])
    m = bench.create_method("nbsvm", ngram_max=1, alpha=1.0, beta=0.25).fit(train, None, FitContext())
    words = m.vectorizer_.get_feature_names_out().tolist()
    # binarized counts per class, +alpha, normalised by their L1 norm (Wang & Manning eq. 2)
    pos = {"good": 2, "fun": 1, "plot": 1}
    neg = {"bad": 2, "plot": 1, "dull": 1}
    p = np.array([1.0 + pos.get(w, 0) for w in words])
    q = np.array([1.0 + neg.get(w, 0) for w in words])
    r = np.log(p / p.sum()) - np.log(q / q.sum())
    assert np.allclose(m.r_, r, atol=1e-6)
    assert m.r_[words.index("good")] > 0 > m.r_[words.index("bad")]
    assert np.isclose(m.r_[words.index("plot")], np.log(q.sum() / p.sum()))
    # w' = (1 - beta) * mean|w| + beta * w: the weights' spread shrinks to a quarter
    assert np.allclose(m.w_, 0.75 * np.abs(m.coef_).mean() + 0.25 * m.coef_)
    assert list(m.predict(part(["good fun", "bad dull"]))) == [1, 0]


def test_nbsvm_refuses_more_than_two_classes():
    with pytest.raises(ValueError, match="two-class"):
        bench.create_method("nbsvm").fit(part(["a", "b", "c"], [0, 1, 2]), None, FitContext())


def test_tfidf_logreg_chooses_C_on_the_valid_part():
    t = tiny_task(TEXT)
    ctx = FitContext()
    m = bench.create_method("tfidf-logreg")
    LR = type(m)
    m.fit(t.part("train"), t.part("valid"), ctx)
    scores = ctx.info["valid_accuracy_by_C"]
    assert set(scores) == set(LR.C_GRID)
    assert scores[ctx.info["C"]] == max(scores.values())
    assert np.mean(m.predict(t.part("test")) == t.part("test").y) > 0.8


@pytest.mark.parametrize("variant", ["knn", "random-forest", "xgboost", "tfidf-logreg", "nbsvm", "mnb"])
def test_text_baselines_learn_the_tiny_task(variant):
    t = tiny_task(TEXT)
    params = {"n_rounds": 50} if variant == "xgboost" else {}
    m = bench.create_method(variant, **params).fit(t.part("train"), t.part("valid"), FitContext())
    assert np.mean(m.predict(t.part("test")) == t.part("test").y) > 0.7


@pytest.mark.parametrize("variant", ["nbsvm", "mnb"])
def test_nb_baselines_train_on_valid_too_unless_told_not_to(variant):
    train = part(["good film", "bad film"], [1, 0])
    valid = part(["superb acting", "dull acting"], [1, 0])
    with_valid = bench.create_method(variant).fit(train, valid, FitContext())
    assert "superb" in with_valid.vectorizer_.vocabulary_
    without = bench.create_method(variant, fit_valid=False).fit(train, valid, FitContext())
    assert "superb" not in without.vectorizer_.vocabulary_
