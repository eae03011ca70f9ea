"""summary.json: what a practice page found, in a form the "In practice" index reads.

Each page writer puts one beside its README.md: the page's title and claim, each claim with the
verdict word its README shows and one evidence line per task, the figures (the main one first),
what was measured (data, scale, runs, wall time) and the commands that made the data and the
page. It is strict JSON (no NaN), read back with ``json.loads`` and checked field by field
(:func:`read_summary`, in bench.results.practice_summary so that the results site reads it too),
so the index shows only numbers a page's own code computed."""
from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from bench.core.spec import RunRecord
from bench.data.paths import write_file
from bench.practice.jsonable import jsonable
from bench.practice.page_text import Verdict, summary_word
from bench.practice.suite_runs import DIVERGED, Run, dataset_line, select, tasks
# reading and checking are shared with the results site: bench.results.practice_summary
from bench.results.practice_summary import (CLAIM_WORDS, FIGURE, NAME, SCHEMA, TASK_WORDS, SummaryError, check,
                                            read_summary)

__all__ = ["CLAIM_WORDS", "FIGURE", "NAME", "SCHEMA", "TASK_WORDS", "SummaryError", "check", "claim_entry",
           "document", "read_summary", "run_measures", "wall_seconds", "write_summary"]


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
