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
