"""The results site's one style sheet and one script, written beside its pages (no CDN, no web
fonts, nothing fetched): tables sort by a click on a header (numbers by the cell's mean, gaps and
failures last), and a figure's legend check boxes hide or show its series."""
from __future__ import annotations

CSS = """\
:root { --fg: #1b1f24; --muted: #57606a; --line: #d0d7de; --head: #f6f8fa; --best: #116329; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg);
       margin: 0 auto; max-width: 1200px; padding: 0 1.2rem 3rem; line-height: 1.45; }
nav { padding: .8rem 0; border-bottom: 1px solid var(--line); margin-bottom: 1rem; }
nav a { margin-right: 1.2rem; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.25rem; margin-top: 2rem; } h3 { font-size: 1.05rem; }
.muted, .notes { color: var(--muted); font-size: .88rem; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: .6rem 0; font-size: .88rem; }
th, td { border: 1px solid var(--line); padding: .25rem .55rem; text-align: right; white-space: nowrap; }
th[scope=row], td.text { text-align: left; }
td.text { white-space: normal; min-width: 8rem; max-width: 36rem; }
thead th { background: var(--head); text-align: left; }
thead th button { font: inherit; font-weight: 600; background: none; border: 0; padding: 0; cursor: pointer; }
thead th[aria-sort=ascending] button::after { content: " \\25B2"; font-size: .7em; }
thead th[aria-sort=descending] button::after { content: " \\25BC"; font-size: .7em; }
td.best { color: var(--best); }
td[title] { cursor: help; }
td.failed { color: #b42318; }
figure { margin: 1rem 0; }
.figs { display: flex; flex-wrap: wrap; gap: 0 2rem; align-items: flex-start; }
.figs figure { max-width: 100%; }
figure svg, figure img { max-width: 100%; height: auto; }
figcaption { color: var(--muted); font-size: .85rem; }
.legend { display: flex; flex-wrap: wrap; gap: .2rem 1rem; font-size: .82rem; margin: .3rem 0; }
.legend .sw { display: inline-block; width: .8em; height: .8em; border-radius: 2px; margin-right: .25em; }
svg .pt:hover use { stroke: #000; stroke-width: 2px; }
code { background: var(--head); padding: 0 .25em; border-radius: 3px; font-size: .92em; }
"""

JS = """\
"use strict";
// Sort a table by the clicked header: cells with data-v by that number, others by their text;
// cells without a value (not run, failed) stay last in both directions.
function sortTable(th) {
  const table = th.closest("table");
  const col = Array.from(th.parentNode.children).indexOf(th);
  const dir = th.getAttribute("aria-sort") === "ascending" ? "descending" : "ascending";
  table.querySelectorAll("thead th").forEach(h => h.removeAttribute("aria-sort"));
  th.setAttribute("aria-sort", dir);
  const body = table.tBodies[0];
  const rows = Array.from(body.rows).map((row, i) => ({row, i}));
  const key = r => {
    const cell = r.row.children[col];
    const v = cell ? cell.getAttribute("data-v") : null;
    return v === null || v === "" ? null : (isNaN(Number(v)) ? v : Number(v));
  };
  const sign = dir === "ascending" ? 1 : -1;
  rows.sort((a, b) => {
    const x = key(a), y = key(b);
    if (x === null || y === null) return (x === null) - (y === null) || a.i - b.i;
    const c = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
    return sign * c || a.i - b.i;
  });
  rows.forEach(r => body.appendChild(r.row));
}
// A legend check box hides or shows the SVG elements of its series.
function toggleSeries(box) {
  document.querySelectorAll('[data-series="' + box.dataset.toggle + '"]')
    .forEach(el => { el.style.display = box.checked ? "" : "none"; });
}
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("table.sortable thead th button")
    .forEach(b => b.addEventListener("click", () => sortTable(b.parentNode)));
  document.querySelectorAll("input[data-toggle]")
    .forEach(b => b.addEventListener("change", () => toggleSeries(b)));
});
"""
