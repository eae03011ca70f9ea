"""The classic baselines (plugins/knn.py, random_forest.py, xgboost.py) do what their cards say."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.data.artifacts import ArtifactCache
from bench import FitContext, Method, Schema, Split, Task
from bench.plugins.checks import tiny_task
from bench.core.metrics import accuracy, mape
from bench.plugins.registry import load_file

PLUGINS = Path(__file__).resolve().parents[1] / "plugins"


def plugin(stem: str) -> type[Method]:
    module = load_file(PLUGINS / f"{stem}.py")
    (cls,) = [c for c in vars(module).values()
              if isinstance(c, type) and issubclass(c, Method) and c.__module__ == module.__name__]
    return cls


KNN, RF, XGB = plugin("knn"), plugin("random_forest"), plugin("xgboost")
SMALL = {"knn": {}, "random-forest": {"n_estimators": 30}, "xgboost": {"n_rounds": 100, "learning_rate": 0.1}}
BASELINES = [KNN, RF, XGB]


def parts(task: Task):
    return task.part("train"), task.part("valid"), task.part("test")


def signal_task(n: int = 400) -> Task:
    """Positive sales that follow two continuous columns and a promo flag closely."""
    rng = np.random.default_rng(1)
    X = pd.DataFrame({"promo": rng.integers(0, 2, n), "x1": rng.uniform(-1, 1, n), "x2": rng.uniform(-1, 1, n)})
    y = np.exp(5 + X["x1"] + 0.5 * X["x2"] + 0.3 * X["promo"] + rng.normal(0, 0.03, n)).to_numpy()
    order = rng.permutation(n)
    return Task("signal", "regression", "y", ("mape",), Schema(categorical={"promo": 2}, continuous=("x1", "x2")),
                X, y, Split("s", order[:240], order[240:320], order[320:]), synthetic=True,
                target_transform="log")


@pytest.mark.parametrize("cls", BASELINES, ids=lambda c: c.name)
def test_beats_the_train_mean_on_a_clear_signal(cls):
    train, valid, test = parts(signal_task())
    model = cls(**SMALL[cls.name]).fit(train, valid, FitContext(seed=0))
    baseline = mape(test.y, np.full(len(test), train.y.mean()))
    assert mape(test.y, model.predict(test)) < 0.4 * baseline


@pytest.mark.parametrize("cls", BASELINES, ids=lambda c: c.name)
def test_target_transform_auto_uses_the_hint(cls):
    task = tiny_task("regression")
    train, valid, test = parts(task)
    params = SMALL[cls.name]
    assert cls(**params).fit(train, valid, FitContext()).log_target_ is True
    task.target_transform = None
    plain = task.part("train")
    assert cls(**params).fit(plain, None, FitContext()).log_target_ is False
    assert cls(**params, target_transform="log").fit(plain, None, FitContext()).log_target_ is True
    assert cls(**params, target_transform="none").fit(train, None, FitContext()).log_target_ is False
    assert np.all(cls(**params).fit(train, valid, FitContext()).predict(test) > 0)


@pytest.mark.parametrize("cls", BASELINES, ids=lambda c: c.name)
def test_the_former_log_target_name_says_the_new_one(cls):
    with pytest.raises(TypeError, match="'log_target' \\(did you mean 'target_transform'\\?\\)"):
        cls(log_target=True)


@pytest.mark.parametrize("cls", BASELINES, ids=lambda c: c.name)
@pytest.mark.parametrize("labels", [np.array([3, 5, 9]), np.array(["cat", "dog", "emu"])], ids=["int", "str"])
def test_classification_predicts_labels_of_the_target_dtype(cls, labels):
    task = tiny_task("classification")
    task.y = labels[task.y]
    train, valid, test = parts(task)
    pred = cls(**SMALL[cls.name]).fit(train, valid, FitContext()).predict(test)
    assert pred.dtype == task.y.dtype
    assert accuracy(test.y, pred) > 0.55  # 3 balanced classes: chance is 1/3


@pytest.mark.parametrize("cls", BASELINES, ids=lambda c: c.name)
def test_max_train_rows_caps_training_data(cls):
    train, valid, test = parts(tiny_task("image-classification"))
    model = cls(**SMALL[cls.name], max_train_rows=50).fit(train, valid, FitContext())
    assert model.predict(test).shape == (len(test),)


def store_task(n_stores: int = 300, per_store: int = 5) -> Task:
    """y is a random value per store: only a model that tells every store apart fits it."""
    rng = np.random.default_rng(0)
    store = np.repeat(np.arange(n_stores), per_store)
    X = pd.DataFrame({"store": store, "promo": rng.integers(0, 2, len(store))})
    y = rng.uniform(1, 2, n_stores)[store]
    n = len(y)
    return Task("stores", "regression", "y", ("mape",), Schema(categorical={"store": n_stores, "promo": 2}),
                X, y, Split("all", np.arange(n), np.arange(0), np.arange(n)))


def test_xgboost_max_bin_auto_gives_every_store_a_bin():
    task = store_task()
    train, test = task.part("train"), task.part("test")
    fast = {"n_rounds": 60, "learning_rate": 1.0, "max_depth": 10, "subsample": 1.0, "colsample_bytree": 1.0}
    ctx = FitContext()
    auto = XGB(**fast).fit(train, None, ctx)
    assert auto.max_bin_ == 301 and ctx.info["max_bin"] == 301
    coarse = XGB(**fast, max_bin=256).fit(train, None, FitContext())
    assert coarse.max_bin_ == 256
    # 256 bins for 300 stores merge some of them; one bin per store fits every store
    assert mape(test.y, auto.predict(test)) < 1e-3 < mape(test.y, coarse.predict(test))
    assert XGB(n_rounds=2).fit(tiny_task("regression").part("train"), None, FitContext()).max_bin_ == 256
    assert XGB(n_rounds=2, encoding="onehot").fit(train, None, FitContext()).max_bin_ == 256


@pytest.mark.slow
def test_xgboost_exact_trees_and_early_stopping():
    train, valid, test = parts(tiny_task("regression"))
    exact = XGB(n_rounds=30, tree_method="exact").fit(train, valid, FitContext())
    assert np.isfinite(exact.predict(test)).all()
    ctx = FitContext()
    stopped = XGB(n_rounds=2000, learning_rate=0.3, early_stopping_rounds=5).fit(train, valid, ctx)
    assert stopped.n_rounds_ < 2000 and ctx.info["n_rounds"] == stopped.n_rounds_
    assert XGB(n_rounds=30).fit(train, valid, FitContext()).n_rounds_ == 30  # None: fixed rounds


@pytest.mark.parametrize("cls", BASELINES, ids=lambda c: c.name)
def test_onehot_and_ee_encodings(cls):
    train, valid, test = parts(tiny_task("regression"))
    onehot = cls(**SMALL[cls.name], encoding="onehot").fit(train, valid, FitContext())
    assert onehot.predict(test).shape == (len(test),)
    with pytest.raises(ValueError, match="no registry attached to fit it"):
        cls(encoding="ee").fit(train, valid, FitContext())
    ctx = FitContext()
    rng = np.random.default_rng(0)
    ctx.embeddings = {c: rng.normal(size=(k, 3)) for c, k in train.schema.categorical.items()}
    ee = cls(**SMALL[cls.name], encoding="ee").fit(train, valid, ctx)
    assert ee.encoder_.n_features_ == 3 * 3 + 1
    assert np.isfinite(ee.predict(test)).all()


class _FakeEE(Method):
    """Stands in for the ee network: 'learns' one random 2-d vector per level."""
    name = "fake-ee"
    kinds = ("regression",)
    defaults = {}
    fits = 0

    def fit(self, train, valid, ctx):
        type(self).fits += 1
        rng = np.random.default_rng(ctx.seed)
        self.emb_ = {c: rng.normal(size=(k, 2)) for c, k in train.schema.categorical.items()}
        return self

    def embeddings(self):
        return self.emb_


def test_ee_encoding_fits_the_embedding_network_through_the_context(tmp_path):
    train, valid, test = parts(tiny_task("regression"))
    ctx = FitContext(seed=0, artifacts=ArtifactCache(tmp_path), task_key="tiny")
    ctx.resolve_method = lambda variant, overrides: (_FakeEE, {}, "src") if variant == "fake-ee" else None
    models = [cls(**SMALL[cls.name], encoding="ee", ee_variant="fake-ee").fit(train, valid, ctx)
              for cls in BASELINES]
    assert _FakeEE.fits == 1  # trained once, shared by the three baselines
    emb = _FakeEE().fit(train, valid, FitContext(seed=0)).embeddings()
    M = models[0].encoder_.transform(test.X)
    np.testing.assert_allclose(M[:, :2], emb["store"][test.X["store"]], rtol=1e-6)
    assert all(np.isfinite(m.predict(test)).all() for m in models)


def test_rating_is_plain_regression_on_codes():
    train, valid, test = parts(tiny_task("rating"))
    for cls in (RF, XGB):
        assert "rating" in cls.kinds
        pred = cls(**SMALL[cls.name]).fit(train, valid, FitContext()).predict(test)
        assert pred.shape == (len(test),) and pred.dtype == np.float64
    assert "rating" not in KNN.kinds  # neighbours in code order mean nothing


def test_kinds_and_parts_are_untouched_by_a_fit():
    train, valid, test = parts(tiny_task("regression"))
    before = train.X.copy(), train.y.copy()
    XGB(n_rounds=5).fit(train, valid, FitContext())
    pd.testing.assert_frame_equal(train.X, before[0])
    np.testing.assert_array_equal(train.y, before[1])
