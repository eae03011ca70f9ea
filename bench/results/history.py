"""What a run's per-epoch history says about its training: the best epoch of each fit, and whether
that was its last one ("still improving": more epochs would likely help).

Read from the history rows the training loop writes (``epoch`` and a ``valid_<metric>`` score;
``member`` for an ensemble's nets; a blend's fits follow one another, epochs restarting at 1), so
records written before the harness stored this answer get it too.
"""
from __future__ import annotations

import math
from typing import Any, Iterable

from bench.core.metric_info import describe


def _score_key(row: dict[str, Any]) -> str | None:
    """The row's validation score column (``valid_mape``, ``valid_loss``, ...), if it has one."""
    return next((k for k in row if k.startswith("valid_") and isinstance(row[k], (int, float))
                 and not isinstance(row[k], bool)), None)


def _lower_is_better(column: str, records: Iterable[Any]) -> bool | None:
    name = column[len("valid_"):]
    if name == "loss":
        return True
    try:
        return describe(name, records).lower_is_better
    except KeyError:
        return None  # a metric known neither here nor from the record: no direction, no verdict


def fits(history: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The history cut into one list of scored rows per fit: a new ``member`` or an epoch that
    does not follow the previous one starts the next fit. Note rows are left out."""
    out: list[list[dict[str, Any]]] = []
    last: tuple | None = None
    for row in history:
        if not isinstance(row, dict) or "note" in row or _score_key(row) is None:
            continue
        epoch = row.get("epoch")
        if not isinstance(epoch, int):
            continue
        member = row.get("member")
        if last is None or member != last[0] or epoch <= last[1]:
            out.append([])
        out[-1].append(row)
        last = (member, epoch)
    return out


def summary(history: list[dict[str, Any]], records: Iterable[Any] = ()) -> list[dict[str, Any]]:
    """One entry per fit with a validation score over two epochs or more: its metric column,
    best epoch, epochs run, and ``still_improving`` (the best epoch is the last). ``records``
    describe a metric this process does not know (a plugin's), as in tables."""
    records = list(records)
    out = []
    for i, rows in enumerate(fits(history)):
        column = _score_key(rows[0])
        lower = _lower_is_better(column, records)
        scored = [(r["epoch"], float(r[column])) for r in rows
                  if isinstance(r.get(column), (int, float)) and math.isfinite(float(r[column]))]
        if lower is None or len(scored) < 2:
            continue
        best_epoch, best = scored[0]
        for epoch, score in scored[1:]:  # the first epoch that reached the best score
            if (score < best) if lower else (score > best):
                best_epoch, best = epoch, score
        last_epoch = rows[-1]["epoch"]
        out.append({"fit": rows[0].get("member", i), "metric": column, "best_epoch": best_epoch,
                    "epochs": last_epoch, "still_improving": best_epoch == last_epoch})
    return out


def training_info(history: list[dict[str, Any]], records: Iterable[Any] = ()) -> dict[str, Any]:
    """What a record's ``info`` keeps of its history: ``best_epoch`` and ``epochs`` (numbers for one
    fit, lists for several: an ensemble's members, a blend's fits) and ``still_improving`` (any fit
    whose best epoch is its last). Empty when no fit has a validation score per epoch."""
    fits_ = summary(history, records)
    if not fits_:
        return {}
    one = len(fits_) == 1
    return {"best_epoch": fits_[0]["best_epoch"] if one else [f["best_epoch"] for f in fits_],
            "epochs": fits_[0]["epochs"] if one else [f["epochs"] for f in fits_],
            "still_improving": any(f["still_improving"] for f in fits_)}


def still_improving(record: Any) -> bool:
    """Whether a record's training was still improving at its last epoch: as its ``info`` says,
    else (a record written before the harness said so) as its history shows."""
    info = getattr(record, "info", None) or {}
    if isinstance(info.get("still_improving"), bool):
        return info["still_improving"]
    return bool(training_info(getattr(record, "history", None) or [], [record]).get("still_improving"))


def last_epochs(record: Any) -> int | None:
    """The most epochs any fit of the record ran (for the footnote's "train longer" hint)."""
    info = getattr(record, "info", None) or {}
    epochs = info.get("epochs")
    if epochs is None:
        epochs = training_info(getattr(record, "history", None) or [], [record]).get("epochs")
    if isinstance(epochs, list):
        epochs = max((e for e in epochs if isinstance(e, int)), default=None)
    return epochs if isinstance(epochs, int) else None
