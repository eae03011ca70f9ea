"""bench.methods.TabularBaseline: the README's ExtraTrees example works as printed (through
`bench check`), and the shared plumbing (subsampling, labels, target, guard) does what it says."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from bench import FitContext, NotFittedError
from bench.cli.app import main
from bench.methods import TabularBaseline
from bench.plugins.checks import tiny_task
from bench.plugins.registry import load_file

ROOT = Path(__file__).resolve().parents[1]


def readme_example() -> str:
    """The python block of the README's "A scikit-learn model as a baseline" section."""
    text = (ROOT / "README.md").read_text()
    section = text.split("### A scikit-learn model as a baseline", 1)[1].split("\n## ", 1)[0]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


@pytest.fixture
def example_plugin(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("BENCH_DATA", str(tmp_path / "data"))
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "extra_trees.py").write_text(readme_example())
    return folder


def test_the_readme_example_is_short():
    lines = [line for line in readme_example().splitlines() if line.strip()]
    assert len(lines) <= 20, "\n".join(lines)
    assert "class ExtraTrees(TabularBaseline)" in readme_example()


@pytest.mark.parametrize("variant", ["extra-trees", "extra-trees-leaf5"])
def test_the_readme_example_passes_bench_check(example_plugin, variant):
    res = CliRunner().invoke(main, ["check", variant, "--plugins", str(example_plugin)],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    for kind in ("regression", "classification", "image-classification", "rating"):
        assert f"PASS {variant} [{kind}] determinism" in res.output
    assert f"{variant}: all checks passed" in res.output


def test_the_readme_example_fits_with_ee_and_subsampling(example_plugin):
    module = load_file(example_plugin / "extra_trees.py")
    task = tiny_task("regression")
    train, valid, test = (task.part(p) for p in ("train", "valid", "test"))
    ctx = FitContext(seed=0)
    rng = np.random.default_rng(0)
    ctx.embeddings = {c: rng.normal(size=(k, 2)) for c, k in train.schema.categorical.items()}
    model = module.ExtraTrees(encoding="ee", max_train_rows=50, n_estimators=5).fit(train, valid, ctx)
    assert model.encoder_.n_features_ == 2 * 3 + 1 and model.n_rows_ == 50
    assert ctx.info["train_rows"] == {"used": 50, "of": len(train)}
    assert model.log_target_ and np.all(model.predict(test) > 0)  # the task hints a log target


class _Codes(TabularBaseline):
    """Records what the estimator is given, and predicts the train target's first value."""
    name = "codes"

    def estimator(self, classify, ctx):
        from sklearn.dummy import DummyClassifier, DummyRegressor

        return DummyClassifier(strategy="most_frequent") if classify else DummyRegressor()


def test_labels_become_codes_and_come_back():
    task = tiny_task("classification")
    task.y = np.array(["cat", "dog", "emu"])[task.y]
    train, valid, test = (task.part(p) for p in ("train", "valid", "test"))
    model = _Codes().fit(train, valid, FitContext())
    assert list(model.classes_) == ["cat", "dog", "emu"]
    assert set(model.model_.classes_) == {0, 1, 2}  # the estimator saw codes
    pred = model.predict(test)
    assert pred.dtype == task.y.dtype and set(pred) <= {"cat", "dog", "emu"}
    np.testing.assert_array_equal(model.encode_target(["dog", "cat", "zebra"]), [1, 0, 2])


def test_regression_target_in_logs_and_back():
    train, _, test = (tiny_task("regression").part(p) for p in ("train", "valid", "test"))
    logged = _Codes().fit(train, None, FitContext())
    # DummyRegressor predicts the mean of what it was fitted on: the mean of log(y), then exp
    np.testing.assert_allclose(logged.predict(test), np.exp(np.mean(np.log(train.y))))
    plain = _Codes(target_transform="none").fit(train, None, FitContext())
    np.testing.assert_allclose(plain.predict(test), np.mean(train.y))


def test_guard_and_missing_estimator_are_clear():
    train, _, test = (tiny_task("regression").part(p) for p in ("train", "valid", "test"))
    with pytest.raises(NotFittedError, match="codes: predict called before fit"):
        _Codes().predict(test)

    class NoModel(TabularBaseline):
        name = "no-model"

    with pytest.raises(NotImplementedError, match="NoModel must define estimator"):
        NoModel().fit(train, None, FitContext())
