"""What a record keeps of its metrics, and metrics known only from records.

Kept apart from ``bench.core.metrics`` on purpose: that module is the scoring code in every run's
identity, and how a table labels a metric computes no number.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

from bench.core.metrics import METRICS, Metric, get_metric


def recorded(name: str) -> dict[str, Any]:
    """What a record keeps of metric ``name`` so a table can show it without the plugin file that
    registered it: its label, direction and check tolerance."""
    m = get_metric(name)
    return {"label": m.label, "lower_is_better": m.lower_is_better, "check_rtol": m.check_rtol}


def describe(name: str, records: Iterable[Any] = ()) -> Metric:
    """Metric ``name`` as known here, else as records of it say (``dataset["metric_info"]``: a
    metric a plugin registered, rendered without that plugin's folder). No function: only a run
    computes a metric; a table needs its label and direction."""
    if name not in METRICS:
        for info in (getattr(r, "dataset", {}).get("metric_info", {}).get(name) for r in records):
            if isinstance(info, dict) and isinstance(info.get("label"), str):
                return Metric(name, _unknown(name), bool(info.get("lower_is_better", True)), info["label"],
                              float(info.get("check_rtol", 1e-6)))
    return get_metric(name)


def _unknown(name: str) -> Callable:
    def fn(y_true, y_pred):
        raise KeyError(f"metric {name!r} is known here only from records; load the plugin that registers it")
    return fn
