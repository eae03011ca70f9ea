"""A suite's ``[table.reference]``: published numbers shown beside the table's own, per row label
and column header (a column "MAPE" is shown as "MAPE [paper]").

Two forms, which can be mixed::

    [table.reference]                      # plain: rows shown in every section without its own
    "KNN" = { "MAPE" = 0.290 }

    [table.reference."rossmann/shuffled"]  # one section's own rows ("dataset/split"): they replace
    "KNN" = { "MAPE" = 0.315 }             # the plain rows in that section

An entry holding tables is a section; one holding numbers is a row. Checked
when the suite loads, so a typo in a dataset, split or row label fails before any run.
"""
from __future__ import annotations

import difflib
import fnmatch
import numbers
from typing import Any

Rows = dict[str, dict[str, float]]  # row label -> {column header: value}


def parse_reference(raw: Any, datasets: list[dict[str, Any]], methods: list[dict[str, Any]]
                    ) -> tuple[Rows, dict[str, Rows]]:
    """The plain rows and the per-section rows ({"dataset/split": rows}) of ``[table.reference]``;
    a ValueError says what is wrong (the caller adds the file)."""
    if not isinstance(raw, dict):
        raise ValueError(f"[table.reference] must be a table of rows (\"label\" = {{ column = value }}), "
                         f"got {raw!r}")
    plain: Rows = {}
    sections: dict[str, Rows] = {}
    for key, value in raw.items():
        if isinstance(value, dict) and any(isinstance(v, dict) for v in value.values()):
            _check_section(key, datasets)
            where = f'[table.reference."{key}"]'
            sections[key] = {label: _row(where, label, cols, methods) for label, cols in value.items()}
        else:
            plain[key] = _row("[table.reference]", key, value, methods)
    return plain, sections


def _row(where: str, label: str, cols: Any, methods: list[dict[str, Any]]) -> dict[str, float]:
    """One reference row: a known row label and {column header: number}."""
    if not isinstance(cols, dict) or not cols:
        raise ValueError(f'{where} "{label}": give {{ column = value }}, e.g. "{label}" = {{ "MAPE" = 0.1 }}; '
                         f"got {cols!r}")
    bad = {c: v for c, v in cols.items() if isinstance(v, bool) or not isinstance(v, numbers.Real)}
    if bad:
        c, v = next(iter(bad.items()))
        raise ValueError(f'{where} "{label}": column "{c}" = {v!r} should be a number (a section\'s own '
                         'rows go under a "dataset/split" key whose values are all tables)')
    known = sorted({str(m.get("label") or m.get("variant")) for m in methods})
    runs = any(label == m.get("label") or fnmatch.fnmatchcase(label, str(m.get("variant", ""))) for m in methods)
    close = difflib.get_close_matches(label, known, n=1, cutoff=0.8)
    if not runs and close:  # a reference-only row is fine (a paper's model not run here); a typo is not
        raise ValueError(f'{where}: row "{label}" is not a row of this suite (did you mean "{close[0]}"? a '
                         f"[[methods]] label, or a variant without one); its rows: {', '.join(known)}. "
                         "A row of the paper's that this suite does not run needs a label unlike its rows.")
    return {c: float(v) for c, v in cols.items()}


def _check_section(key: str, datasets: list[dict[str, Any]]) -> None:
    """A section key names a [[datasets]] entry as "name/split" ("name/a,b" for its folds)."""
    name, sep, split = str(key).partition("/")
    if not (sep and name and split):
        raise ValueError(f'[table.reference] "{key}": a section\'s rows are keyed "dataset/split", '
                         'e.g. [table.reference."rossmann/shuffled"]')
    entries = [d for d in datasets if d.get("name") == name]
    if not entries:
        names = ", ".join(sorted({str(d.get("name")) for d in datasets}))
        raise ValueError(f'[table.reference."{key}"]: no [[datasets]] entry is named "{name}" (the suite\'s: {names})')
    named = [d.get("split") or ",".join(d.get("folds") or []) for d in entries]
    if all(named) and split not in named:  # an entry without a split uses the dataset's default
        raise ValueError(f'[table.reference."{key}"]: [[datasets]] "{name}" has no split "{split}" in this '
                         f"suite (its: {', '.join(named)})")
