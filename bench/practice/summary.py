"""summary.json: what a practice page found, in a form the "In practice" index reads.

Each page writer puts one beside its README.md: the page's title and claim, each claim with the
verdict word its README shows and one evidence line per task, the figures (the main one first),
what was measured (data, scale, runs, wall time) and the commands that made the data and the
page. It is strict JSON (no NaN), read back with ``json.loads`` and checked field by field
(:func:`read_summary`), so the index shows only numbers a page's own code computed."""
from __future__ import annotations

import json
import math
import re
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from bench.core.spec import RunRecord
from bench.data.paths import write_file
from bench.practice.jsonable import jsonable, read_strict
from bench.practice.page_text import WORDS, Verdict, summary_word
from bench.practice.suite_runs import DIVERGED, Run, dataset_line, select, tasks

NAME = "summary.json"
SCHEMA = "bench-practice-summary/1"
# a task's word (page_text.WORDS; the init page's family verdict) and a claim's (page_text.summary_word)
TASK_WORDS = (*WORDS.values(), "holds only in part")
CLAIM_WORDS = (*WORDS.values(), "holds on some tasks only", "holds where judged", "holds only in part")
FIGURE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,120}\.png")  # a plain file name beside the README


class SummaryError(ValueError):
    """A summary.json that is not what a page writer writes (named, with what to do)."""


def claim_entry(claim: str, verdicts: Sequence[Verdict]) -> dict[str, Any]:
    """One claim: its sentence, the word over the tasks and each task's word and numbers."""
    return {"claim": claim, "verdict": summary_word(verdicts),
            "evidence": [{"task": v.task, "verdict": v.word, "line": v.evidence} for v in verdicts]}


def wall_seconds(records: Iterable[RunRecord]) -> float | None:
    """First start to last finish of ``records``: the wall time of the `bench run` that made them."""
    try:
        spans = [(datetime.fromisoformat(r.started_at), datetime.fromisoformat(r.finished_at)) for r in records]
    except (TypeError, ValueError):  # a record without its times
        return None
    if not spans:
        return None
    return round((max(b for _, b in spans) - min(a for a, _ in spans)).total_seconds(), 1)


def run_measures(runs: Sequence[Run], suite: str, scale: Sequence[str] = ()) -> dict[str, Any]:
    """What a suite's page measured: data per task, the scale, how many runs, the wall time of
    the suite's own runs (runs it shares with another suite were timed there)."""
    recs = [r.record for r in runs if r.record is not None]
    own = [rec for rec in recs if rec.suite == suite]
    threads = "/".join(sorted({str(rec.threads) for rec in recs if rec.threads is not None})) or "?"
    hardware = "; ".join(sorted({rec.hardware or rec.device or "?" for rec in recs}))
    reused = len(recs) - len(own)
    return {"data": [f"{t}: {dataset_line(select(runs, task=t))}" for t in tasks(runs)], "scale": list(scale),
            "unit": "runs", "runs": len(runs), "recorded": len(recs),
            "diverged": sum(r.status == DIVERGED for r in runs), "seeds": sorted({r.seed for r in runs}),
            "wall_seconds": wall_seconds(own),
            "wall_note": f"`bench run --suite {suite}`, first start to last finish of its {len(own)} records"
                         + (f"; {reused} runs reused from other suites' records" if reused else ""),
            "hardware": f"{threads} thread(s) per run on {hardware}" if recs else ""}


def document(*, title: str, claim: str, claims: Sequence[Mapping[str, Any]], figures: Sequence[str],
             measured: Mapping[str, Any], command: str, data_commands: Sequence[str] = (),
             notes: Sequence[str] = ()) -> dict[str, Any]:
    return {"schema": SCHEMA, "title": title, "claim": claim, "claims": list(claims), "figures": list(figures),
            "measured": dict(measured), "notes": list(notes), "command": command,
            "data_commands": list(data_commands)}


def write_summary(out_dir: Path, doc: Mapping[str, Any]) -> Path:
    """OUT/summary.json (checked as the index will read it, so a writer cannot leave a bad one)."""
    check(dict(jsonable(doc)), Path(out_dir) / NAME)
    return write_file(Path(out_dir) / NAME, json.dumps(jsonable(doc), indent=1, allow_nan=False) + "\n")


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
