"""Rendering a table's sections as Markdown (GitHub), LaTeX, HTML or CSV."""
from __future__ import annotations

import io

from tabulate import tabulate

from bench.report.table import BETTER, WORSE, Cell, Section, TableError



FORMATS = ("md", "latex", "html", "csv")
def fmt_cell(cell: Cell, fmt: str, ci: bool = False) -> str:
    t = cell.text(ci)
    if cell.best:
        # LaTeX: escape inside the bold (± and † too); latex leaves \textbf cells as they are
        return {"md": f"**{t}**", "latex": f"\\textbf{{{latex_escape(t)}}}", "html": f"<b>{t}</b>"}.get(fmt, t)
    return t


def render(sections: list[Section], fmt: str = "md", title: str = "", ci: bool = False) -> str:
    """The sections as text; ``ci`` adds the 95 % t interval of the mean to metric cells."""
    if fmt not in FORMATS:
        raise TableError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    out = io.StringIO()
    if fmt == "csv":
        import csv

        w = csv.writer(out)
        w.writerow(["dataset", "method"] + sorted({h for s in sections for h in s.headers}, key=str))
        all_headers = sorted({h for s in sections for h in s.headers}, key=str)
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


def latex_escape(s: str) -> str:
    for a, b in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("_", r"\_"), ("#", r"\#"),
                 ("±", r"$\pm$"), ("—", "--"), ("†", r"$^\dagger$"), (BETTER, r"$\uparrow$"),
                 (WORSE, r"$\downarrow$")):
        s = s.replace(a, b)
    return s


def latex(s: Section, body: list[list[str]]) -> str:
    cols = "l" + "r" * len(s.headers)
    lines = [f"% {s.title}", r"\begin{table}[ht]", r"\centering", rf"\begin{{tabular}}{{{cols}}}", r"\toprule",
             " & ".join(latex_escape(h) for h in ["method"] + s.headers) + r" \\", r"\midrule"]
    for row in body:
        cells = [c if c.startswith("\\textbf") else latex_escape(c) for c in row]
        cells = [c.replace("±", r"$\pm$") for c in cells]
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}",
              rf"\caption{{{latex_escape(s.title)}. {latex_escape(' '.join(s.notes))}}}", r"\end{table}", ""]
    return "\n".join(lines) + "\n"
