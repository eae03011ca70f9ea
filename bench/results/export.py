"""All run records as one flat table (parquet for pandas): one row per record.

Identity, metrics and parameters become columns (``metric.<name>``, ``param.<name>``,
``dataset_param.<name>``); nested parts that do not flatten well (history, info, versions,
origins) stay as JSON text, so ``pd.read_parquet`` gives everything back without bench.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from bench.data.paths import atomic_write
from bench.core.spec import RunRecord

_JSON = ("history", "info", "versions", "overrides")


def _scalar(v: Any) -> Any:
    """Parquet needs one type per column: lists, dicts and None-able mixes go as JSON text."""
    if isinstance(v, (list, tuple, dict)):
        return json.dumps(v, sort_keys=True, default=str)
    return v


def flatten(rec: RunRecord) -> dict[str, Any]:
    spec = rec.spec or {}
    row: dict[str, Any] = {
        "key": rec.key, "spec_id": rec.spec_id, "status": rec.status, "error": rec.error,
        "suite": rec.suite, "label": rec.label, "dataset": spec.get("dataset"), "split": spec.get("split"),
        "method": spec.get("method"), "family": rec.method.get("family"), "seed": spec.get("seed"),
        "split_seed": spec.get("split_seed", 0),
        "fingerprint": rec.split.get("fingerprint"), "synthetic": rec.dataset.get("synthetic"),
        "fit_seconds": rec.fit_seconds, "predict_seconds": rec.predict_seconds,
        "peak_memory_mb": rec.peak_memory_mb, "device": rec.device, "hardware": rec.hardware,
        "command": rec.command, "started_at": rec.started_at, "finished_at": rec.finished_at,
        "method_source_hash": rec.method.get("origin", {}).get("source_hash"),
        "dataset_source_hash": rec.dataset.get("source_hash"),
        "method_identity": rec.method.get("identity"), "dataset_identity": rec.dataset.get("identity"),
        "threads": rec.threads,
    }
    for k, v in (rec.metrics or {}).items():
        row[f"metric.{k}"] = v
    for k, v in (spec.get("params") or {}).items():
        row[f"param.{k}"] = _scalar(v)
    for k, v in (spec.get("dataset_params") or {}).items():
        row[f"dataset_param.{k}"] = _scalar(v)
    for k, v in (rec.split.get("sizes") or {}).items():
        row[f"rows.{k}"] = v
    for name in _JSON:
        row[name] = json.dumps(getattr(rec, name), sort_keys=True, default=str)
    return row


def frame(records: Iterable[RunRecord]) -> pd.DataFrame:
    rows = [flatten(r) for r in records]
    df = pd.DataFrame(rows)
    for col in df.columns:  # a parameter that is a number in one run and a string in another
        if col.startswith(("param.", "dataset_param.")) and df[col].map(type).nunique() > 1:
            df[col] = df[col].map(lambda v: None if v is None or v != v else str(v))
    return df


def write_parquet(records: Iterable[RunRecord], out: Path) -> tuple[Path, int]:
    df = frame(records)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(out, private=False) as f:  # a link planted at ``out`` is replaced, not followed
        df.to_parquet(f, index=False)
    return out, len(df)
