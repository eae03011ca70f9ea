"""Reading a practice page's summary.json, shared by the "In practice" Markdown index
(bench.practice.index_page) and the results site (bench.report.site_practice): the deck's sections
in order, the schema check and a strict reader that follows no link. Writing stays in
bench.practice.summary; this module knows no experiment."""
from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from bench.data.paths import open_nofollow

NAME = "summary.json"
SCHEMA = "bench-practice-summary/1"
MAX_BYTES = 64 * 1024 * 1024  # far above any page's file: a bigger one is not bench's
# a task's word (page_text.WORDS; the init page's family verdict) and a claim's (page_text.summary_word)
TASK_WORDS = ("holds", "does not hold", "cannot be judged yet", "holds only in part")
CLAIM_WORDS = ("holds", "does not hold", "cannot be judged yet", "holds on some tasks only", "holds where judged",
               "holds only in part")
ORDER = ("holds", "holds where judged", "holds on some tasks only", "holds only in part", "does not hold",
         "cannot be judged yet")  # how an overview counts a page's verdicts
FIGURE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,120}\.png")  # a plain file name beside the README


@dataclass(frozen=True)
class Section:
    """One slide: its title and the folder (under the page's folder) its page is written to."""

    title: str
    folder: str
    command: str = ""  # what makes the page ("" for a slide no command covers yet)


PART_I = (
    Section("Optimizers", "optimizers", "bench practice optimizers --results-dir results/practice"),
    Section("Learning rates", "lr", "bench practice lr --results-dir results/practice"),
    Section("Gradients & initialization", "init", "bench practice init --data-dir DATA --out results/practice/init"),
    Section("Batchnorm and high learning rates", "bn", "bench practice bn --results-dir results/practice"),
)
PART_II = (
    Section("Data augmentation", "augmentation",
            "bench practice augment --data-dir DATA --results-dir results/practice --out results/practice/augmentation"),
    Section("Overfitting", "overfitting",
            "bench practice overfit --results-dir results/practice --out results/practice/overfitting"),
    Section("Transfer learning", "transfer",
            "bench practice transfer --results-dir results/practice --out results/practice/transfer"),
    Section("Pictures", "pictures", "bench practice pictures --data-dir DATA --out results/practice/pictures"),
)
# the deck's order: data augmentation, gradients & init (batchnorm with it), learning rates (optimizers
# first), overfitting; then transfer learning and the pictures
SECTIONS = (PART_II[0], PART_I[2], PART_I[3], PART_I[0], PART_I[1], PART_II[1], PART_II[2], PART_II[3])


class SummaryError(ValueError):
    """A summary.json that is not what a page writer writes (named, with what to do)."""


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not strict JSON")


def read_strict(path: str | Path) -> Any:
    """The JSON value in ``path``: a plain file (a link there raises UnsafePath, an OSError), UTF-8,
    strict JSON (NaN / Infinity refused: ValueError). FileNotFoundError when absent."""
    with open_nofollow(path) as f:
        data = f.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise ValueError(f"larger than {MAX_BYTES // 2**20} MiB")
    return json.loads(data.decode("utf-8"), parse_constant=_no_constant)


def read_summary(path: Path) -> dict[str, Any]:
    """The summary at ``path``, checked. FileNotFoundError when absent; SummaryError when it is a
    link, not strict JSON or not shaped as a page writer writes it."""
    try:
        doc = read_strict(path)
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as exc:
        raise SummaryError(f"{path}: cannot be read as a summary ({exc}); "
                           "make it again with the command of its page") from None
    return check(doc, path)


def _fail(path: Path, what: str) -> SummaryError:
    return SummaryError(f"{path}: {what}; it is not what a `bench practice` page writes. "
                        "Make it again with the command of its page (or remove it).")


def _strings(value: Any, path: Path, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise _fail(path, f"{where} is not a list of strings")
    return value
def check(doc: Any, path: Path) -> dict[str, Any]:
    """``doc`` if it has every field the index shows, each of its type; else SummaryError."""
    if not isinstance(doc, dict):
        raise _fail(path, "not a JSON object")
    if doc.get("schema") != SCHEMA:
        raise _fail(path, f"schema is {doc.get('schema')!r}, not {SCHEMA!r}")
    for key in ("title", "claim", "command"):
        if not isinstance(doc.get(key), str):
            raise _fail(path, f"{key!r} is missing or not a string")
    for key in ("notes", "data_commands"):
        _strings(doc.get(key, []), path, repr(key))
    for name in _strings(doc.get("figures"), path, "'figures'"):
        if not FIGURE.fullmatch(name):
            raise _fail(path, f"figure {name!r} is not a plain .png file name")
    claims = doc.get("claims")
    if not isinstance(claims, list):
        raise _fail(path, "'claims' is not a list")
    for i, c in enumerate(claims, 1):
        if not isinstance(c, dict) or not isinstance(c.get("claim"), str) or c.get("verdict") not in CLAIM_WORDS:
            raise _fail(path, f"claim {i} lacks its sentence or a verdict word ({', '.join(CLAIM_WORDS)})")
        ev = c.get("evidence")
        if not isinstance(ev, list) or not all(
                isinstance(e, dict) and isinstance(e.get("task"), str) and isinstance(e.get("line"), str)
                and e.get("verdict") in TASK_WORDS for e in ev):
            raise _fail(path, f"claim {i}'s evidence is not a list of {{task, verdict, line}}")
    m = doc.get("measured")
    if not isinstance(m, dict):
        raise _fail(path, "'measured' is not an object")
    _strings(m.get("data", []), path, "measured.data")
    _strings(m.get("scale", []), path, "measured.scale")
    for key in ("runs", "recorded", "diverged", "wall_seconds"):
        v = m.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)):
            raise _fail(path, f"measured.{key} is not a number")
    seeds = m.get("seeds", [])
    if not isinstance(seeds, list) or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise _fail(path, "measured.seeds is not a list of integers")
    for key in ("unit", "wall_note", "hardware"):
        if not isinstance(m.get(key, ""), str):
            raise _fail(path, f"measured.{key} is not a string")
    return doc


def tally(claims: Sequence[dict[str, Any]]) -> str:
    """'holds 2 · holds on some tasks only 3' (in ORDER)."""
    counts = Counter(c["verdict"] for c in claims)
    return " · ".join(f"{word} {counts[word]}" for word in sorted(counts, key=ORDER.index)) or "no claims"


def _seconds(value: float | None) -> str:
    if value is None:
        return "not known"
    return f"{value:.0f} s" + (f" ({value / 60:.1f} min)" if value >= 120 else "")


def measured_lines(m: dict[str, Any]) -> list[str]:
    """What was measured, one line each: data, scale, then runs and wall time."""
    out = [f"data: {line}" for line in m.get("data", [])]
    out += [f"scale: {line}" for line in m.get("scale", [])]
    unit = m.get("unit") or "runs"
    seeds = ", ".join(map(str, m.get("seeds", []))) or "n/a"
    counts = f"{m.get('runs')} {unit} ({m.get('recorded')} recorded, {m.get('diverged')} diverged), seed(s) {seeds}"
    wall = f"wall time {_seconds(m.get('wall_seconds'))}" + (f": {m['wall_note']}" if m.get("wall_note") else "")
    return out + [f"{counts}; {wall}" + (f"; {m['hardware']}" if m.get("hardware") else "")]
