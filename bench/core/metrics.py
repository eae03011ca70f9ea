"""Metrics by name. Each knows whether lower is better, so tables can mark the best.

RMSE, MAE and accuracy are scikit-learn's; MAPE and RMSPE stay here (see each). scikit-learn is
imported when a metric is computed, not with this module: tables read the registry only.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np


def _pair(y_true, y_pred):
    t = np.asarray(y_true, dtype=np.float64).ravel()
    p = np.asarray(y_pred, dtype=np.float64).ravel()
    if t.shape != p.shape:
        raise ValueError(f"{len(p)} predictions for {len(t)} targets")
    return t, p


def mape(y_true, y_pred) -> float:
    """Mean absolute percentage error, as a fraction (0.1 = 10 %). Targets must be nonzero.

    Not sklearn's mean_absolute_percentage_error: it clips |target| to machine epsilon, so a zero
    target gives a silent 1e15-sized error where the paper's definition gives inf."""
    t, p = _pair(y_true, y_pred)
    return float(np.mean(np.abs((t - p) / t)))


def rmspe(y_true, y_pred) -> float:
    """Root mean squared percentage error (Kaggle Rossmann's metric; scikit-learn has none)."""
    t, p = _pair(y_true, y_pred)
    return float(np.sqrt(np.mean(((t - p) / t) ** 2)))


def rmse(y_true, y_pred) -> float:
    from sklearn.metrics import root_mean_squared_error

    t, p = _pair(y_true, y_pred)
    return float(root_mean_squared_error(t, p))


def mae(y_true, y_pred) -> float:
    from sklearn.metrics import mean_absolute_error

    t, p = _pair(y_true, y_pred)
    return float(mean_absolute_error(t, p))


def accuracy(y_true, y_pred) -> float:
    from sklearn.metrics import accuracy_score

    t = np.asarray(y_true).ravel()
    p = np.asarray(y_pred).ravel()
    if t.shape != p.shape:
        raise ValueError(f"{len(p)} predictions for {len(t)} targets")
    return float(accuracy_score(t, p))


@dataclass(frozen=True)
class Metric:
    name: str
    fn: Callable[[np.ndarray, np.ndarray], float]
    lower_is_better: bool
    label: str
    # relative tolerance of `bench table --check` (regenerated vs committed numbers); suites may
    # loosen it in `[table.tolerance]`, e.g. for networks trained on another CPU
    check_rtol: float = 1e-6


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("mape", mape, True, "MAPE"),
        Metric("rmspe", rmspe, True, "RMSPE"),
        Metric("rmse", rmse, True, "RMSE"),
        Metric("mae", mae, True, "MAE"),
        Metric("accuracy", accuracy, False, "accuracy"),
    )
}


def get_metric(name: str) -> Metric:
    try:
        return METRICS[name]
    except KeyError:
        raise KeyError(f"unknown metric {name!r}; known: {', '.join(METRICS)}") from None


def score(names, y_true, y_pred) -> dict[str, float]:
    return {n: get_metric(n).fn(y_true, y_pred) for n in names}
