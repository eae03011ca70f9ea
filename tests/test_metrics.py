"""Metrics against values worked out by hand on small arrays."""
import math

import numpy as np
import pytest

from bench.core.metrics import METRICS, accuracy, get_metric, mae, mape, register_metric, rmse, rmspe, score
from conftest import run_records

Y = [100.0, 200.0, 400.0]
P = [110.0, 150.0, 400.0]
# errors: -10, +50, 0; relative errors: 0.1, 0.25, 0


def test_mape_two_points():
    # |100-110|/100 = 0.1, |200-180|/200 = 0.1
    assert mape([100, 200], [110, 180]) == pytest.approx((0.1 + 0.1) / 2)


def test_mape_three_points():
    assert mape(Y, P) == pytest.approx((0.1 + 0.25 + 0.0) / 3)


def test_rmspe():
    assert rmspe(Y, P) == pytest.approx(math.sqrt((0.1**2 + 0.25**2 + 0.0**2) / 3))
    assert rmspe([100, 200], [110, 180]) == pytest.approx(0.1)


def test_rmse():
    assert rmse(Y, P) == pytest.approx(math.sqrt((10**2 + 50**2 + 0**2) / 3))
    assert rmse([100, 200], [110, 180]) == pytest.approx(math.sqrt((100 + 400) / 2))


def test_mae():
    assert mae(Y, P) == pytest.approx((10 + 50 + 0) / 3)
    assert mae([100, 200], [110, 180]) == pytest.approx(15.0)


def test_perfect_predictions_score_zero():
    for fn in (mape, rmspe, rmse, mae):
        assert fn(Y, Y) == 0.0


def test_accuracy():
    assert accuracy([0, 1, 1, 2], [0, 1, 2, 2]) == pytest.approx(3 / 4)
    assert accuracy(np.array(["cat", "dog"]), np.array(["cat", "cat"])) == pytest.approx(1 / 2)
    assert accuracy([1, 1], [0, 0]) == 0.0


def test_metrics_accept_column_vectors_of_the_same_length():
    assert mae(np.array(Y).reshape(-1, 1), np.array(P)) == pytest.approx(20.0)


@pytest.mark.parametrize("fn", [mape, rmspe, rmse, mae, accuracy])
def test_length_mismatch_is_an_error(fn):
    with pytest.raises(ValueError, match="2 predictions for 3 targets"):
        fn([1, 2, 3], [1, 2])


def test_registry_of_metrics():
    assert [n for n, m in METRICS.items() if not m.lower_is_better] == ["accuracy"]
    assert get_metric("mape").label == "MAPE"
    assert get_metric("rmse").lower_is_better
    with pytest.raises(KeyError, match="unknown metric 'mpae'"):
        get_metric("mpae")


def test_score_by_name():
    out = score(["mape", "mae"], [100, 200], [110, 180])
    assert out == {"mape": pytest.approx(0.1), "mae": pytest.approx(15.0)}
    assert all(isinstance(v, float) for v in out.values())


def test_library_metrics_equal_the_hand_formulas_on_random_data():
    """rmse, mae and accuracy are scikit-learn's: on random data they equal the formulas they
    replaced (here to float tolerance; on this numpy they are bitwise equal)."""
    rng = np.random.default_rng(0)
    for n in (1, 2, 7, 1000, 100_003):
        t = rng.normal(size=n) * rng.uniform(0.1, 1e4)
        p = t + rng.normal(size=n) * rng.uniform(1e-3, 1e2)
        assert rmse(t, p) == pytest.approx(float(np.sqrt(np.mean((t - p) ** 2))), rel=1e-12, abs=0)
        assert mae(t, p) == pytest.approx(float(np.mean(np.abs(t - p))), rel=1e-12, abs=0)
        a, b = rng.integers(0, 5, n), rng.integers(0, 5, n)
        assert accuracy(a, b) == pytest.approx(float(np.mean(a == b)), rel=1e-12, abs=0)


def test_mape_keeps_the_papers_definition_at_a_zero_target():
    """scikit-learn's MAPE clips |target| to machine epsilon (a silent ~1e15); the paper's is inf."""
    with np.errstate(divide="ignore"):
        assert mape([0.0, 1.0], [1.0, 1.0]) == math.inf

# -- metrics that plugins register -------------------------------------------------------------

@pytest.fixture
def restore_metrics():
    """Registering changes the process-wide table; every test here leaves it as it found it."""
    saved = dict(METRICS)
    yield
    METRICS.clear()
    METRICS.update(saved)


def _max_abs(y_true, y_pred):
    return float(np.max(np.abs(np.asarray(y_true, float) - np.asarray(y_pred, float))))


def test_register_metric_by_call_and_as_decorator(restore_metrics):
    register_metric("max_abs", _max_abs, lower_is_better=True, label="max |error|")

    @register_metric("hit_rate", lower_is_better=False)
    def hit_rate(y_true, y_pred):
        return float(np.mean(np.asarray(y_true) == np.asarray(y_pred)))

    assert hit_rate([1, 2], [1, 3]) == 0.5  # the decorator hands the function back
    assert get_metric("max_abs").label == "max |error|" and get_metric("max_abs").lower_is_better
    assert get_metric("hit_rate").label == "hit_rate" and not get_metric("hit_rate").lower_is_better
    assert score(["max_abs", "hit_rate", "mae"], Y, P) == {
        "max_abs": 50.0, "hit_rate": pytest.approx(1 / 3), "mae": pytest.approx(20.0)}


def test_a_taken_name_is_refused_but_the_same_function_may_register_again(restore_metrics):
    with pytest.raises(ValueError, match="'mape' is already defined by bench.core.metrics.mape"):
        register_metric("mape", _max_abs, lower_is_better=True)
    assert get_metric("mape").fn is mape
    register_metric("max_abs", _max_abs, lower_is_better=True)
    register_metric("max_abs", _max_abs, lower_is_better=True, label="again")  # a plugin imported twice
    assert get_metric("max_abs").label == "again"
    with pytest.raises(ValueError, match="already defined by .*_max_abs"):
        register_metric("max_abs", lambda t, p: 0.0, lower_is_better=True)


@pytest.mark.parametrize("name", ["", "2x", "max abs", None])
def test_metric_names_are_checked(restore_metrics, name):
    with pytest.raises(ValueError, match="metric name"):
        register_metric(name, _max_abs, lower_is_better=True)
    with pytest.raises(TypeError, match="not a function"):
        register_metric("fine", 3.0, lower_is_better=True)


METRICS_FILE = '''
"""A plugin file that only adds a metric (no method, no dataset)."""
import numpy as np

from bench.core.metrics import register_metric


@register_metric("max_abs_error", lower_is_better=True, label="max |error|")
def max_abs_error(y_true, y_pred):
    return float(np.max(np.abs(np.asarray(y_true, float) - np.asarray(y_pred, float))))
'''

DATASET_FILE = '''
"""A dataset that names a metric of its own file and one of another plugin file."""
import numpy as np
import pandas as pd

from bench import Dataset, Schema, Split, Task
from bench.core.metrics import register_metric


def within_25(y_true, y_pred):
    return float(np.mean(np.abs(np.asarray(y_true, float) - np.asarray(y_pred, float)) <= 25))


register_metric("within_25", within_25, lower_is_better=False, label="share within 25")


class Scored(Dataset):
    name = "toy-scored"
    kind = "regression"
    target = "y"
    metrics = ("max_abs_error", "within_25", "mae")
    embedded = True
    synthetic = True

    def load(self, split, ctx):
        X = pd.DataFrame({"a": np.arange(40, dtype=np.float64)})
        y = 100.0 + np.arange(40, dtype=np.float64)
        return Task(dataset=self.name, kind=self.kind, target=self.target, metrics=self.metrics,
                    schema=Schema(continuous=("a",)), X=X, y=y,
                    split=Split("default", np.arange(0, 24), np.arange(24, 32), np.arange(32, 40)),
                    synthetic=True)
'''

SUITE = '''
seeds = [0]

[[datasets]]
name = "toy-scored"

[[methods]]
variant = "toy-mean"

[[methods]]
variant = "toy-mean-shifted"
'''


@pytest.mark.slow
def test_a_metric_registered_by_plugin_files_reaches_records_and_table(cli, plugin_dir, restore_metrics):
    # the run's worker loads only toy_methods.py and scored_dataset.py: max_abs_error, from a file
    # with neither, must still be known where the run is scored
    (plugin_dir / "extra_metrics.py").write_text(METRICS_FILE)
    (plugin_dir / "scored_dataset.py").write_text(DATASET_FILE)
    (plugin_dir / "scored.toml").write_text(SUITE)
    invoke, results = cli
    res = invoke("run", "--suite", "scored")
    assert res.exit_code == 0, res.output
    recs = run_records(results)
    # train y = 100..123 (mean 111.5), test y = 132..139; shifted predicts 121.5
    assert recs["toy-mean/toy-scored"]["status"] == "ok"
    assert recs["toy-mean/toy-scored"]["metrics"] == {
        "max_abs_error": 27.5, "within_25": 5 / 8, "mae": pytest.approx(24.0)}
    assert recs["toy-mean-shifted/toy-scored"]["metrics"]["max_abs_error"] == 17.5
    assert recs["toy-mean-shifted/toy-scored"]["metrics"]["within_25"] == 1.0
    table = invoke("table", "--suite", "scored")
    assert table.exit_code == 0, table.output
    header = next(line for line in table.output.splitlines() if "max |error|" in line)
    assert "share within 25" in header and "MAE" in header
    shifted = next(line for line in table.output.splitlines() if line.startswith("| toy-mean-shifted"))
    assert "**17.5" in shifted  # lower is better for max |error|: the shifted row is the best
    # the worker keyed its runs as the parent did (it knew every metric before keying them) ...
    assert not any("key_in_worker" in r["info"] for r in recs.values())
    assert "†" not in table.output
    assert invoke("run", "--suite", "scored").exit_code == 0
    assert len(list((results / "runs").glob("*.json"))) == 2  # nothing changed: nothing re-ran
    # ... and the file defining a metric is in the key: editing it re-runs what it scored
    with (plugin_dir / "extra_metrics.py").open("a") as f:
        f.write("# edited\n")
    assert invoke("run", "--suite", "scored").exit_code == 0
    assert len(list((results / "runs").glob("*.json"))) == 4


def test_a_plugin_metric_renders_from_its_records_without_the_plugin_folder(cli, plugin_dir, restore_metrics):
    (plugin_dir / "extra_metrics.py").write_text(METRICS_FILE)
    (plugin_dir / "scored_dataset.py").write_text(DATASET_FILE)
    (plugin_dir / "scored.toml").write_text(SUITE)
    invoke, results = cli
    assert invoke("run", "--suite", "scored").exit_code == 0
    rec = run_records(results)["toy-mean/toy-scored"]
    assert rec["dataset"]["metric_info"]["within_25"] == {
        "label": "share within 25", "lower_is_better": False, "check_rtol": 1e-6}
    for name in ("max_abs_error", "within_25"):  # as in a process that never loaded the plugin files
        METRICS.pop(name)
    table = invoke("table", "--suite", str(plugin_dir / "scored.toml"), plugins=False)
    assert table.exit_code == 0, table.output
    header = next(line for line in table.output.splitlines() if "max |error|" in line)
    assert "share within 25" in header and "MAE" in header
    shifted = next(line for line in table.output.splitlines() if line.startswith("| toy-mean-shifted"))
    assert "**17.5" in shifted and "**1.0" in shifted  # each metric's direction, from the records
