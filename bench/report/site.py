"""The results site (``bench report --html``): static, self-contained HTML beside the Markdown
pages. ``site/index.html`` lists the suites, ``site/suites/SUITE.html`` holds a suite's tables
(the same ``Section`` model as the Markdown, so the cells agree; sortable; hover: mean ± std, the
95 % t interval and n), its interactive SVG figures and provenance, and ``site/leaderboard.html``
the average ranks across datasets with a critical-difference diagram per suite.

Offline by construction: one local style sheet and script, relative links only, nothing fetched,
so it opens from ``file://`` and from GitHub Pages alike. No clock in any page. Each suite also
leaves ``suites/SUITE.json`` (numbers only, read back as data) from which the index and the
leaderboard are rebuilt, so suites made from different results folders share one site.
"""
from __future__ import annotations

import html
import json
import math
import re
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from bench.data.paths import open_nofollow, write_file
from bench.plugins.registry import Registry
from bench.report import cd, site_assets, stats, svg, table
from bench.report.selection import supported
from bench.results.store import Store
from bench.run.suite import Suite
from bench.version import __version__

ASSETS = {"assets/site.css": site_assets.CSS, "assets/site.js": site_assets.JS}


def esc(text) -> str:
    return html.escape(str(text), quote=True)


def prose(text: str) -> str:
    """A footnote as HTML: escaped, `code` spans kept."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", esc(text))


def file_name(suite_name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", suite_name)


def has_practice(site_dir: Path) -> bool:
    """Whether the site has its "In practice" page (bench.report.site_practice), for the nav."""
    path = Path(site_dir) / "practice.html"
    return path.is_file() and not path.is_symlink()


def page(title: str, body: list[str], up: str = "", practice: bool = False) -> str:
    """A whole page; ``up`` is the relative way back to the site's root ("" or "../"); ``practice``:
    the nav links the "In practice" page."""
    nav = f'<a href="{up}practice.html">In practice</a>' if practice else ""
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(title)}</title>", f'<link rel="stylesheet" href="{up}assets/site.css">',
        f'<script src="{up}assets/site.js" defer></script>', "</head>", "<body>",
        f'<nav><a href="{up}index.html">Suites</a><a href="{up}leaderboard.html">Leaderboard</a>{nav}</nav>',
        "<main>", *body, "</main>",
        f'<footer class="muted">Made by bench {esc(__version__)} from the run records; nothing here is typed '
        "by hand.</footer>", "</body>", "</html>", ""])


def cell_title(cell: table.Cell) -> str:
    """What hovering a cell says: mean ± std, the 95 % t interval of the mean and n."""
    if cell.failed or cell.status in table.NOT_RUN or not cell.values:
        return {"missing": "not run yet", "n/a": "the method does not support this task kind"}.get(
            cell.status, f"a run ended {cell.status}: see the footnotes")
    n = len(cell.values)
    mean = sum(cell.values) / n
    if cell.kind not in ("metric", "seconds") or n == 1:
        return f"mean {mean:.6g} (n={n})" if cell.kind in ("metric", "seconds") else f"{mean:.6g}"
    std = float(np.std(cell.values, ddof=1))
    text = f"mean {mean:.6g} ± std {std:.6g}, n={n}"
    interval = stats.t_interval(cell.values)
    return text + (f"; 95 % t interval of the mean [{interval[0]:.6g}, {interval[1]:.6g}]" if interval else "")


def cell_html(cell: table.Cell) -> str:
    text = cell.text()
    classes = [c for c, on in (("best", cell.best), ("failed", cell.failed)) if on]
    attrs = f' class="{" ".join(classes)}"' if classes else ""
    if cell.mean is not None:
        attrs += f' data-v="{cell.mean!r}"'
    attrs += f' title="{esc(cell_title(cell))}"'
    return f"<td{attrs}>{'<b>' + esc(text) + '</b>' if cell.best else esc(text)}</td>"


def table_html(headers: list[str], rows, first: str = "method") -> str:
    """A sortable table: a header button sorts by that column (numbers by the cell's mean)."""
    head = "".join(f'<th scope="col"><button type="button">{esc(h)}</button></th>' for h in [first, *headers])
    body = "".join(f'<tr><th scope="row" data-v="{esc(label)}">{esc(label)}</th>'
                   + "".join(cell_html(c) for c in cells) + "</tr>" for label, cells in rows)
    return (f'<div class="scroll"><table class="sortable"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>")


def legend_html(legend) -> str:
    return '<div class="legend">' + "".join(
        f'<label><input type="checkbox" checked data-toggle="{esc(key)}"> '
        f'<span class="sw" style="background:{esc(c)}"></span>{esc(name)}</label>' for key, name, c in legend) + "</div>"


def figure(svg_markup: str, caption: str, legend=None) -> list[str]:
    return ["<figure>", legend_html(legend) if legend else "", svg_markup, f"<figcaption>{esc(caption)}</figcaption>",
            "</figure>"]


def suite_page(suite: Suite, registry: Registry, store: Store, site_dir: Path,
               compare_to: str | None = None, with_plots: bool = True) -> Path:
    """Write site_dir/suites/SUITE.html and SUITE.json, the shared assets, and rebuild the index
    and the leaderboard; returns the page's path."""
    site_dir = Path(site_dir)
    for rel, text in ASSETS.items():
        (site_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        write_file(site_dir / rel, text)
    chosen = [(s, r) for s, r in table.chosen_records(suite, registry, store) if supported(registry, s)]
    sections = table.build(suite, registry, store, compare_to=compare_to)
    ranks = table.average_ranks(sections)
    title = suite.table.title or f"suite {suite.name}"
    recorded = [r for _, r in chosen if r is not None]
    statuses = Counter(r.status for r in recorded)
    body = [f"<h1>{esc(title)}</h1>"]
    if suite.description:
        body.append(f"<p>{esc(suite.description)}</p>")
    body.append(f'<p class="muted">{len(recorded)} of {len(chosen)} planned runs recorded'
                + (" (" + ", ".join(f"{n} {st}" for st, n in sorted(statuses.items())) + ")" if recorded else "")
                + (f"; newest record {esc(max(r.finished_at for r in recorded)[:10])}" if recorded else "")
                + ". Click a column header to sort; hover a cell for mean ± std, the 95 % t interval and n.</p>")
    for n, s in enumerate(sections):
        body += [f'<h2 id="t{n}">{esc(s.title)}</h2>', table_html(s.headers, s.rows),
                 '<ul class="notes">' + "".join(f"<li>{prose(x)}</li>" for x in s.notes) + "</ul>"]
        if with_plots:
            body.append('<div class="figs">')
            scatter = svg.time_vs_metric(s, f"s{n}-")
            if scatter:
                body += figure(scatter[0], "Fit seconds (log scale) against the headline metric, one point per "
                               "seed; hover a point for its numbers, untick a row to hide it.", scatter[1])
            bars = svg.metric_bars(s, f"b{n}-")
            if bars:
                body += figure(bars, "Headline metric, mean with ± one std over seeds; hover a bar for its numbers.")
            body.append("</div>")
    curves = svg.learning_curves(table.latest_records(suite, registry, store), "lc-") if with_plots else None
    if curves:
        body += ["<h2>Learning curves</h2>"]
        body += figure(curves[0], "Training loss and the valid metric per epoch, a line per run; hover for the "
                       "numbers, untick a row to hide its runs.", curves[1])
    if ranks:
        body += ["<h2>Average rank across datasets</h2>", table_html(ranks.headers, ranks.rows),
                 '<p class="notes">' + prose(" ".join(ranks.notes))
                 + ' The <a href="../leaderboard.html">leaderboard</a> adds Friedman\'s test and the '
                 "critical-difference diagram.</p>"]
    body += ["<h2>Provenance</h2>", '<ul class="notes">',
             f"<li>Suite file: <code>{esc(Path(suite.path).name)}</code>; seeds {esc(', '.join(map(str, suite.seeds)))}</li>",
             f"<li>Made by <code>bench report --suite {esc(suite.name)} --html</code> (bench {esc(__version__)}) "
             "from the run records; rendering only, nothing is fitted</li>",
             f"<li>Regenerate: <code>bench run --suite {esc(suite.name)}</code>, then "
             f"<code>bench report --suite {esc(suite.name)} --html</code></li>",
             "<li>Command, hardware, versions, dataset, seeds and split fingerprint of the runs: under each table</li>",
             "</ul>"]
    name = file_name(suite.name)
    out = site_dir / "suites" / f"{name}.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    write_file(out, page(title, body, up="../", practice=has_practice(site_dir)))
    summary = {"name": suite.name, "title": title, "description": suite.description,
               "datasets": list(dict.fromkeys(f"{s.dataset}/{s.split}" for s, _ in chosen)),
               "recorded": len(recorded), "planned": len(chosen),
               "not_ok": sum(r.status != "ok" for r in recorded),
               "newest": max((r.finished_at for r in recorded), default="")[:10],
               "page": f"suites/{name}.html", "ranks": _ranks_data(ranks), "cd": _cd_data(sections)}
    write_file(site_dir / "suites" / f"{name}.json", json.dumps(summary, indent=1, sort_keys=True) + "\n")
    index(site_dir)
    leaderboard(site_dir)
    return out


def _ranks_data(ranks) -> dict | None:
    if ranks is None:
        return None
    return {"headers": ranks.headers, "notes": ranks.notes,
            "rows": [[label, [c.text() for c in cells], [c.best for c in cells],
                      [c.mean for c in cells]] for label, cells in ranks.rows]}


def _cd_data(sections) -> dict:
    """Friedman's test and the Nemenyi CD on the sections' headline means (a complete block)."""
    rows = [(s.title.split(" (synthetic")[0], s.lower_is_better,
             {name: c.mean for name, c, _ in svg.headline(s) if c.mean is not None}) for s in sections]
    result = cd.test(rows)
    if isinstance(result, str):
        return {"reason": result}
    out = result.as_dict()
    out["left_out"] = [t for t, _, _ in rows if t not in result.datasets]
    return out


def summaries(site_dir: Path) -> list[dict]:
    """The suites' JSON summaries in the site (plain files only, read as data), by suite name."""
    out = []
    for path in sorted((Path(site_dir) / "suites").glob("*.json")):
        try:
            with open_nofollow(path) as f:
                data = json.loads(f.read().decode())
            if _well_formed(data, Path(site_dir)):
                out.append(data)
        except (OSError, ValueError):
            continue  # a broken or planted file is not a suite of the site
    return sorted(out, key=lambda d: d["name"])


def _well_formed(data: Any, site_dir: Path) -> bool:
    """A summary as site.py writes it: its page is this suite's page in the site (no other link
    can come from a file), its fields of the types the index and leaderboard read."""
    if not (isinstance(data, dict) and isinstance(data.get("name"), str)
            and data.get("page") == f"suites/{file_name(data['name'])}.html"
            and (site_dir / data["page"]).is_file()):
        return False
    texts = all(isinstance(data.get(k, ""), str) for k in ("description", "newest", "title"))
    counts = all(isinstance(data.get(k, 0), int) and not isinstance(data.get(k, 0), bool)
                 for k in ("recorded", "planned", "not_ok"))
    sets = isinstance(data.get("datasets", []), list) and all(isinstance(x, str) for x in data.get("datasets", []))
    ranks = data.get("ranks")
    rows_ok = ranks is None or (isinstance(ranks, dict) and isinstance(ranks.get("rows", []), list) and all(
        isinstance(r, list) and len(r) == 4 and isinstance(r[0], str)
        and all(isinstance(x, list) for x in r[1:]) for r in ranks.get("rows", [])))
    return texts and counts and sets and rows_ok


def index(site_dir: Path) -> Path:
    """site_dir/index.html: one line per suite (datasets, runs, newest record, link)."""
    rows = "".join(
        f'<tr><td class="text" data-v="{esc(d["name"])}"><a href="{esc(d["page"])}">{esc(d["name"])}</a></td>'
        f'<td class="text" data-v="{esc(d.get("description", ""))}">{esc(d.get("description", ""))}</td>'
        f'<td class="text" data-v="{esc(", ".join(d.get("datasets", [])))}">{esc(", ".join(d.get("datasets", [])))}</td>'
        f'<td data-v="{int(d.get("recorded", 0))}">{int(d.get("recorded", 0))}/{int(d.get("planned", 0))}'
        + (f' ({int(d["not_ok"])} not ok)' if d.get("not_ok") else "") + "</td>"
        f'<td data-v="{esc(d.get("newest", ""))}">{esc(d.get("newest", ""))}</td></tr>'
        for d in summaries(site_dir))
    head = "".join(f'<th scope="col"><button type="button">{h}</button></th>'
                   for h in ("suite", "what", "datasets / splits", "runs recorded / planned", "newest record"))
    body = ["<h1>Results</h1>",
            "<p>Every suite this site was made for, from its run records (<code>bench report --suite NAME --html</code>). "
            'Each suite\'s page has its tables, figures and provenance; the <a href="leaderboard.html">leaderboard</a> '
            "ranks the methods across each suite's datasets.</p>",
            f'<div class="scroll"><table class="sortable"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>']
    out = Path(site_dir) / "index.html"
    write_file(out, page("bench results", body, practice=has_practice(site_dir)))
    return out


def leaderboard(site_dir: Path) -> Path:
    """site_dir/leaderboard.html: per suite, average ranks across datasets, Friedman's test and
    Demšar's critical-difference diagram (Nemenyi, alpha 0.05); says so where there is too little."""
    body = ["<h1>Leaderboard</h1>",
            "<p>Per suite: each method's average rank over the suite's datasets (1 = best on the headline metric), "
            "Friedman's test of the ranks and the critical-difference diagram of Demšar (2006, JMLR 7): methods "
            "joined by a bar are not significantly different (Nemenyi test); two methods whose average ranks "
            "differ by at least CD are.</p>"]
    for n, d in enumerate(summaries(site_dir)):
        body.append(f'<h2><a href="{esc(d["page"])}">{esc(d.get("title", d["name"]))}</a></h2>')
        ranks = d.get("ranks")
        if isinstance(ranks, dict) and isinstance(ranks.get("rows"), list):
            body.append(_rank_table(ranks))
        info = d.get("cd") if isinstance(d.get("cd"), dict) else {"reason": "no ranks recorded"}
        body += _cd_html(info, f"cd{n}-")
    out = Path(site_dir) / "leaderboard.html"
    write_file(out, page("bench leaderboard", body, practice=has_practice(site_dir)))
    return out


def _rank_table(ranks: dict) -> str:
    head = "".join(f'<th scope="col"><button type="button">{esc(h)}</button></th>'
                   for h in ["method", *ranks.get("headers", [])])
    rows = []
    for label, texts, best, means in ranks["rows"]:
        tds = "".join("<td" + (' class="best"' if b else "")
                      + (f' data-v="{float(m)!r}"' if isinstance(m, (int, float)) else "")
                      + f">{'<b>' + esc(t) + '</b>' if b else esc(t)}</td>" for t, b, m in zip(texts, best, means))
        rows.append(f'<tr><td class="text" data-v="{esc(label)}">{esc(label)}</td>{tds}</tr>')
    return (f'<div class="scroll"><table class="sortable"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div><p class="notes">{prose(" ".join(ranks.get("notes", [])))}</p>')


def _cd_html(info: dict, prefix: str) -> list[str]:
    if "reason" in info:
        return [f'<p class="muted">Critical-difference diagram: {esc(info["reason"])}.</p>']
    try:
        methods = [str(m) for m in info["methods"]]
        avg = [float(r) for r in info["avg_ranks"]]
        cdv, alpha = float(info["cd"]), float(info["alpha"])
        datasets = [str(x) for x in info["datasets"]]
        chi2, p_value = float(info["chi2"]), float(info["p"])
        f_text = (f"; Iman–Davenport F = {float(info['iman_f']):.3f}, p = {float(info['iman_p']):.3g}"
                  if info.get("iman_f") is not None else "")
        if not (math.isfinite(cdv) and cdv > 0 and len(avg) == len(methods) >= 2 and all(map(math.isfinite, avg))):
            raise ValueError("no usable critical difference")
    except (KeyError, TypeError, ValueError):
        return ['<p class="muted">Critical-difference diagram: its numbers are unreadable; regenerate the suite.</p>']
    text = (f"Friedman's test over {len(datasets)} datasets ({esc(', '.join(datasets))}) and {len(methods)} methods: "
            f"χ² = {chi2:.3f}, p = {p_value:.3g}{f_text}. "
            f"Nemenyi critical difference at α = {alpha:g}: CD = {cdv:.3f}.")
    if info.get("left_out"):
        text += (" Left out, so that every method shown has a value on every dataset used: "
                 + esc(", ".join(map(str, info["left_out"]))) + ".")
    if len(datasets) < 5:
        text += " With so few datasets the test has little power: read the diagram as a summary, not a verdict."
    return [f'<p class="notes">{text}</p>',
            *figure(cd.diagram(methods, avg, cdv, prefix=prefix),
                    "Average rank (1 = best) of each method on the datasets above; a bar joins methods whose "
                    "ranks differ by less than CD.")]
