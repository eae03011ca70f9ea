"""The results site's "In practice" page (``site/practice.html``): per slide of the deck, in its
order, what the practice page's summary.json says (claim, verdicts with the evidence per task, the
main figure, what was measured, the name of the full Markdown page).

Read with bench.results.practice_summary (strict JSON, no link followed). A section without a
summary says "not made yet"; one whose summary is a link or malformed is named with the reason,
and the rest of the site is made all the same. The main figure is copied into
``site/practice/SECTION/`` so the site stays self-contained and opens from ``file://``: no link
leaves the site's folder."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from bench.data.paths import open_nofollow, refused, write_file
from bench.report.site import esc, page, prose
from bench.results.practice_summary import NAME, SECTIONS, Section, SummaryError, measured_lines, read_summary, tally

PAGE = "practice.html"
FOLDER = "practice"  # the figures' folder in the site
MAX_FIGURE = 32 * 1024 * 1024
PNG = b"\x89PNG\r\n\x1a\n"


@dataclass
class Entry:
    section: Section
    summary: dict[str, Any] | None = None  # None: not made yet, or unreadable (then ``error``)
    error: str = ""


def read(practice_dir: Path, sections: Sequence[Section] = SECTIONS) -> list[Entry]:
    """Each section's summary; never raises for a missing, linked or malformed one."""
    out = []
    for s in sections:
        folder = Path(practice_dir) / s.folder
        if os.path.islink(folder):
            out.append(Entry(s, error=f"{folder}: the section's folder is a symbolic link; it is not followed"))
            continue
        try:
            out.append(Entry(s, read_summary(folder / NAME)))
        except FileNotFoundError:
            out.append(Entry(s))
        except (SummaryError, OSError) as exc:
            out.append(Entry(s, error=str(exc)))
    return out


def _site_folder(site_dir: Path, *parts: str) -> Path:
    """site_dir/PARTS..., made; a link on the way is refused (the site is never written through one)."""
    path = Path(site_dir)
    for part in parts:
        path = path / part
        if os.path.islink(path):
            raise refused(path, "a symbolic link in the results site")
        path.mkdir(exist_ok=True)
    return path


def copy_figure(practice_dir: Path, site_dir: Path, section: Section, name: str) -> str | None:
    """Copy the PNG ``name`` (a plain file name, checked by read_summary) of ``section`` into the
    site; its path relative to the site's root, or None when it is missing, a link or not a PNG."""
    try:
        with open_nofollow(Path(practice_dir) / section.folder / name) as f:
            data = f.read(MAX_FIGURE + 1)
    except OSError:
        return None
    if len(data) > MAX_FIGURE or not data.startswith(PNG):
        return None
    write_file(_site_folder(site_dir, FOLDER, section.folder) / name, data)
    return f"{FOLDER}/{section.folder}/{name}"


def section_html(e: Entry, practice_dir: Path, site_dir: Path) -> list[str]:
    s, doc = e.section, e.summary
    head = f'<h2 id="{esc(s.folder)}">{esc(s.title)}</h2>'
    if e.error:
        return [head, f'<p class="muted">Cannot be shown: {esc(e.error)}</p>']
    if doc is None:
        how = f"; <code>{esc(s.command)}</code> makes it" if s.command else " (a later issue's page)"
        return [head, f'<p class="muted">Not made yet: no <code>{esc(s.folder)}/{NAME}</code>{how}.</p>']
    out = [head, f"<p><b>Claim.</b> {esc(doc['claim'])}</p>", "<p><b>Verdicts</b> at this scale (per task, with the "
           "numbers):</p>", "<ol>"]
    for c in doc["claims"]:
        out.append(f"<li><b>{esc(c['verdict'])}</b>: {esc(c['claim'])}<ul>"
                   + "".join(f"<li>{esc(ev['task'])}: <b>{esc(ev['verdict'])}</b>: {esc(ev['line'])}</li>"
                             for ev in c["evidence"]) + "</ul></li>")
    out.append("</ol>" if doc["claims"] else '</ol><p class="muted">No claim could be judged from what was recorded.</p>')
    main = doc["figures"][0] if doc["figures"] else None
    src = copy_figure(practice_dir, site_dir, s, main) if main else None
    if src:
        out += ["<figure>", f'<img src="{esc(src)}" alt="{esc(s.title)}: {esc(main)}">',
                f"<figcaption>{esc(main)}, the page's main figure</figcaption>", "</figure>"]
    elif main:
        out.append(f'<p class="muted">The main figure, <code>{esc(s.folder)}/{esc(main)}</code>, is missing or not '
                   "a plain PNG file: make the page again.</p>")
    out += ["<p><b>What was measured.</b></p>", '<ul class="notes">',
            *(f"<li>{esc(line)}</li>" for line in measured_lines(doc["measured"])), "</ul>"]
    out += [f'<p class="notes">{prose(note)}</p>' for note in doc.get("notes", [])]
    made = f"made by <code>{esc(doc['command'])}</code>" if doc["command"] else "its command not recorded"
    out.append(f'<p class="notes">Full page: <code>results/practice/{esc(s.folder)}/README.md</code> '
               f"({esc(doc['title'])}; {made}).</p>")
    return out


def overview(entries: Sequence[Entry]) -> str:
    rows = []
    for e in entries:
        words = ("cannot be read" if e.error else "not made yet") if e.summary is None else tally(e.summary["claims"])
        claims = str(len(e.summary["claims"])) if e.summary else ""
        rows.append(f'<tr><td class="text"><a href="#{esc(e.section.folder)}">{esc(e.section.title)}</a></td>'
                    f"<td>{claims}</td><td class=\"text\">{esc(words)}</td></tr>")
    return ('<div class="scroll"><table><thead><tr><th scope="col">slide</th><th scope="col">claims</th>'
            f'<th scope="col">verdicts</th></tr></thead><tbody>{"".join(rows)}</tbody></table></div>')


def write(site_dir: Path, practice_dir: Path, sections: Sequence[Section] = SECTIONS) -> Path | None:
    """site_dir/practice.html (and its figures) when ``practice_dir`` has at least one section's
    summary.json, readable or not; None (nothing written) when it has none."""
    entries = read(practice_dir, sections)
    if not any(e.summary is not None or e.error for e in entries):
        return None
    Path(site_dir).mkdir(parents=True, exist_ok=True)
    body = ["<h1>In practice</h1>",
            "<p>The deck's \"In practice\" slides, each claim tested on real data at a reduced scale by one of "
            "bench's commands. Every verdict, number and figure here is read from the <code>summary.json</code> a "
            "page's command writes beside its README.md (<code>results/practice/</code>); nothing is typed by hand. "
            "\"At this scale\" means those data subsets, epochs and seeds.</p>", overview(entries)]
    for e in entries:
        body += section_html(e, practice_dir, site_dir)
    out = Path(site_dir) / PAGE
    write_file(out, page("bench: in practice", body, practice=True))
    return out
