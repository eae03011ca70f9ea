"""Rendering a table's sections as Markdown (GitHub), LaTeX, HTML or CSV."""
from __future__ import annotations

import io

from tabulate import LATEX_ESCAPE_RULES, tabulate

from bench.report.table import BETTER, IMPROVING, WORSE, Cell, Section, TableError, average_ranks, build

FORMATS = ("md", "latex", "html", "csv")
# The signs tables print, in LaTeX; tabulate escapes LaTeX's special characters but not these.
LATEX_SIGNS = (("±", r"$\pm$"), ("—", "--"), ("†", r"$^\dagger$"), (BETTER, r"$\uparrow$"), (WORSE, r"$\downarrow$"),
               (IMPROVING, r"$\nearrow$"))
# Private-use marks around a best cell: tabulate escapes the cell's text, then they become \textbf{}.
BOLD = ("\ue000", "\ue001")


def suite_table(suite, registry, store, fmt: str = "md", ci: bool = False, compare_to: str | None = None,
                test: str | None = None, seeds: list[int] | None = None) -> str:
    """A suite's table from every one of its records, with the average ranks across datasets:
    what `bench table` prints, `bench run` prints and writes at the end, and `bench report`
    writes as results/SUITE/table.md (one rendering, so they never disagree)."""
    sections = build(suite, registry, store, compare_to=compare_to, test=test, seeds=seeds)
    ranks = average_ranks(sections)
    return render(sections + ([ranks] if ranks else []), fmt, title=suite.table.title or f"suite {suite.name}",
                  ci=ci)


def fmt_cell(cell: Cell, fmt: str, ci: bool = False) -> str:
    t = cell.text(ci)
    if cell.best:
        return {"md": f"**{t}**", "latex": f"{BOLD[0]}{t}{BOLD[1]}", "html": f"<b>{t}</b>"}.get(fmt, t)
    return t


def render(sections: list[Section], fmt: str = "md", title: str = "", ci: bool = False) -> str:
    """The sections as text; ``ci`` adds the 95 % t interval of the mean to metric cells."""
    if fmt not in FORMATS:
        raise TableError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    out = io.StringIO()
    if fmt == "csv":
        import csv

        w = csv.writer(out)
        # the markdown table's column order: each section's headers, first seen first
        all_headers = list(dict.fromkeys(h for s in sections for h in s.headers))
        w.writerow(["dataset", "method"] + all_headers)
        for s in sections:
            for label, cells in s.rows:
                by_h = dict(zip(s.headers, cells))
                w.writerow([s.title, label] + [by_h[h].text(ci) if h in by_h else "" for h in all_headers])
        return out.getvalue()
    tablefmt = {"md": "github", "latex": "latex_raw", "html": "unsafehtml"}[fmt]
    if title:
        out.write({"md": f"## {title}\n\n", "latex": f"% {title}\n", "html": f"<h2>{title}</h2>\n"}[fmt])
    for s in sections:
        body = [[label] + [fmt_cell(c, fmt, ci) for c in cells] for label, cells in s.rows]
        if fmt == "md":
            out.write(f"### {s.title}\n\n")
            out.write(tabulate(body, headers=["method"] + s.headers, tablefmt=tablefmt, disable_numparse=True))
            out.write("\n\n" + "\n".join(f"- {n}" for n in s.notes) + "\n\n")
        elif fmt == "latex":
            out.write(latex(s, body))
        else:
            out.write(f"<h3>{s.title}</h3>\n")
            out.write(tabulate(body, headers=["method"] + s.headers, tablefmt=tablefmt, disable_numparse=True))
            out.write("\n<ul>" + "".join(f"<li>{n}</li>" for n in s.notes) + "</ul>\n")
    return out.getvalue()


def latex_signs(text: str) -> str:
    """Text tabulate has escaped, with the signs and the bold marks made LaTeX."""
    for a, b in (*LATEX_SIGNS, (BOLD[0], r"\textbf{"), (BOLD[1], "}")):
        text = text.replace(a, b)
    return text


def unmarked(text: str) -> str:
    """User text (labels, titles) without the bold marks, so they can only come from fmt_cell."""
    return text.replace(BOLD[0], "").replace(BOLD[1], "")


def latex_escape(s: str) -> str:
    """Plain text as LaTeX: the escapes tabulate's latex formats apply to cells, and the signs."""
    return latex_signs("".join(LATEX_ESCAPE_RULES.get(c, c) for c in unmarked(s)))


def latex(s: Section, body: list[list[str]]) -> str:
    """A section as a booktabs table (tabulate's ``latex_booktabs``) in a captioned float."""
    body = [[unmarked(row[0]), *row[1:]] for row in body]
    tabular = tabulate(body, headers=[unmarked(h) for h in ["method"] + s.headers], tablefmt="latex_booktabs",
                       disable_numparse=True, colalign=("left",) + ("right",) * len(s.headers))
    lines = [f"% {s.title}", r"\begin{table}[ht]", r"\centering", latex_signs(tabular),
             rf"\caption{{{latex_escape(s.title)}. {latex_escape(' '.join(s.notes))}}}", r"\end{table}", ""]
    return "\n".join(lines) + "\n"
