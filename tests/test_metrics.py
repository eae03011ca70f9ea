"""Metrics against values worked out by hand on small arrays."""
import math

import numpy as np
import pytest

from bench.core.metrics import METRICS, accuracy, get_metric, mae, mape, rmse, rmspe, score

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
