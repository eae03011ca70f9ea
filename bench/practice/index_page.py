"""The "In practice" page (`bench practice index`): one section per slide of the deck, in its order,
each from the summary.json its page's command wrote (bench.practice.summary).

Per section: the claim, each part's verdict with the numbers per task, the main figure, what was
measured, where the claim did not hold and a link to the full page. Nothing is typed here: a
section whose summary.json is absent says "not made yet"; one that is a link, not strict JSON or
not shaped as a page writer writes it stops the page with an error naming the file
(summary.SummaryError). The sections are a list, so later slides are one entry each."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from bench.data.paths import write_file
from bench.practice.summary import NAME, SummaryError, read_summary
# the deck's sections and the verdict tally are shared with the results site
from bench.results.practice_summary import ORDER, PART_I, PART_II, SECTIONS, Section, measured_lines, tally

__all__ = ["NOT_MADE", "ORDER", "PART_I", "PART_II", "SECTIONS", "Found", "Section", "index_text", "load",
           "measured", "not_held", "section_text", "tally", "write_index"]

NOT_MADE = "not made yet"


@dataclass
class Found:
    section: Section
    summary: dict[str, Any] | None  # None: not made yet
    files: set[str]  # the plain files (no links) beside it, of those it names


def _plain_file(path: Path) -> bool:
    return os.path.isfile(path) and not os.path.islink(path)


def load(results_dir: Path, sections: Sequence[Section]) -> list[Found]:
    """Each section's summary (None when absent). SummaryError: a section folder that is a link,
    or a summary that is a link or malformed."""
    out = []
    for s in sections:
        folder = Path(results_dir) / s.folder
        if os.path.islink(folder):
            raise SummaryError(f"{folder}: the section's folder is a symbolic link; `bench practice index` "
                               "never follows links in a results folder. Remove it and make the page again.")
        try:
            doc = read_summary(folder / NAME)
        except FileNotFoundError:
            out.append(Found(s, None, set()))
            continue
        names = ["README.md", *doc["figures"]]
        out.append(Found(s, doc, {n for n in names if _plain_file(folder / n)}))
    return out


def not_held(doc: dict[str, Any]) -> list[str]:
    """Per task, the claims (by number) that did not hold there, then those not judged."""
    lines = []
    for word in ("does not hold", "holds only in part", "cannot be judged yet"):
        by_task: dict[str, list[str]] = {}
        for i, c in enumerate(doc["claims"], 1):
            for e in c["evidence"]:
                if e["verdict"] == word:
                    by_task.setdefault(e["task"], []).append(str(i))
        lines += [f"{task}: {word} for claim{'s' if len(nums) > 1 else ''} {', '.join(nums)}"
                  for task, nums in by_task.items()]
    return lines


def measured(m: dict[str, Any]) -> list[str]:
    """What was measured, one bullet each: data, scale, runs and wall time."""
    return [f"- {line}" for line in measured_lines(m)]


def section_text(f: Found) -> list[str]:
    s, doc = f.section, f.summary
    if doc is None:
        how = f"; `{s.command}` makes it" if s.command else " (a later issue's page)"
        return [f"## {s.title}", "", f"Not made yet: no `{s.folder}/{NAME}`{how}.", ""]
    out = [f"## {s.title}", "", f"**Claim.** {doc['claim']}", "", "**Verdicts** at this scale (per task, with the "
           "numbers):", ""]
    for i, c in enumerate(doc["claims"], 1):
        out.append(f"{i}. **{c['verdict']}**: {c['claim']}")
        out += [f"   - {e['task']}: {e['verdict']}: {e['line']}" for e in c["evidence"]]
    if not doc["claims"]:
        out.append("No claim could be judged from what was recorded.")
    out.append("")
    main = doc["figures"][0] if doc["figures"] else None
    if main and main in f.files:
        out += [f"![{s.title}: {main}]({s.folder}/{main})", ""]
    elif main:
        out += [f"(The main figure, `{s.folder}/{main}`, is missing: make the page again.)", ""]
    out += ["**What was measured.**", ""] + measured(doc["measured"]) + [""]
    misses = not_held(doc)
    out += ["**Where it did not hold.** " + ("; ".join(misses) + "." if misses else
                                             "Nowhere at this scale: every claim held on every task.")]
    out += [""] + [f"{note}" for note in doc.get("notes", [])] + ([""] if doc.get("notes") else [])
    page = f"[{s.folder}/README.md]({s.folder}/README.md)" if "README.md" in f.files else \
        f"`{s.folder}/README.md` (missing)"
    made = f"made by `{doc['command']}`" if doc["command"] else "its command not recorded"
    data = "; ".join(f"`{c}`" for c in doc.get("data_commands", []))
    out += [f"Full page: {page} ({doc['title']}; {made}" + (f", from the data of {data}" if data else "") + ").", ""]
    return out


def index_text(found: Sequence[Found], command: str = "") -> str:
    rows = []
    for f in found:
        s, doc = f.section, f.summary
        if doc is None:
            rows.append(f"| {s.title} | | {NOT_MADE} | |")
            continue
        page = f"[{s.folder}/README.md]({s.folder}/README.md)" if "README.md" in f.files else "missing"
        rows.append(f"| {s.title} | {len(doc['claims'])} | {tally(doc['claims'])} | {page} |")
    out = ["# In practice", "",
           "The deck's \"In practice\" slides, each claim tested on real data at a reduced scale by one of "
           "bench's commands. Every verdict, number and file name below is read from the `summary.json` a "
           "page's command writes beside its README.md; nothing here is typed by hand. \"At this scale\" means "
           "those data subsets, epochs and seeds.", "",
           "| slide | claims | verdicts | page |", "|---|---|---|---|", *rows, ""]
    for f in found:
        out += section_text(f)
    out += ["This page:", "", "```bash", command or "bench practice index --results-dir results/practice", "```", ""]
    return "\n".join(out)


def write_index(results_dir: Path, sections: Sequence[Section] = SECTIONS, command: str = "",
                out: Path | None = None) -> tuple[Path, list[Found]]:
    """Read every section's summary, then write RESULTS_DIR/README.md (or ``out``)."""
    found = load(Path(results_dir), sections)
    path = Path(out) if out is not None else Path(results_dir) / "README.md"
    return write_file(path, index_text(found, command)), found
