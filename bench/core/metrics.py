"""Metrics by name. Each knows whether lower is better, so tables can mark the best.

RMSE, MAE and accuracy are scikit-learn's; MAPE and RMSPE stay here (see each). scikit-learn is
imported when a metric is computed, not with this module: tables read the registry only.
A plugin file adds its own with ``register_metric`` (or ``@register_metric(...)``) when it is
imported; datasets then list it in ``metrics`` and suites in ``[table] metrics``, like a built-in.
"""
from __future__ import annotations

import re
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


def _origin(fn: Callable) -> tuple[str, str]:
    return getattr(fn, "__module__", None) or "?", getattr(fn, "__qualname__", None) or type(fn).__qualname__


def register_metric(name: str, fn: Callable | None = None, *, lower_is_better: bool, label: str | None = None,
                    check_rtol: float = 1e-6):
    """Make ``fn(y_true, y_pred) -> float`` known as metric ``name``; as a decorator without ``fn``.

    Importing the same plugin again re-registers it (same module and function name); another
    function under a taken name (a built-in's included) is an error rather than a silent swap,
    since records and tables know a metric by its name only."""
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_.-]*", name):
        raise ValueError(f"metric name {name!r}: use letters, digits, '_', '.' or '-', starting with a letter")

    def add(f: Callable) -> Callable:
        if not callable(f):
            raise TypeError(f"metric {name!r}: {f!r} is not a function of (y_true, y_pred)")
        old = METRICS.get(name)
        if old is not None and _origin(old.fn) != _origin(f):
            raise ValueError(f"metric {name!r} is already defined by {'.'.join(_origin(old.fn))}; "
                             f"give {'.'.join(_origin(f))} another name")
        METRICS[name] = Metric(name, f, bool(lower_is_better), label or name, float(check_rtol))
        return f

    return add if fn is None else add(fn)


def get_metric(name: str) -> Metric:
    try:
        return METRICS[name]
    except KeyError:
        raise KeyError(f"unknown metric {name!r}; known: {', '.join(METRICS)} (a plugin file adds one "
                       "with bench.core.metrics.register_metric)") from None


def score(names, y_true, y_pred) -> dict[str, float]:
    return {n: get_metric(n).fn(y_true, y_pred) for n in names}
