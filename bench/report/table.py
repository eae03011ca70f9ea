"""Comparison tables from stored records: rows = methods, columns = metrics × layout params.

Cells are mean ± std over model seeds (optionally with the 95 % t interval), the best per column
in bold, ▲/▼ where a paired test over seeds says a row beats / trails the suite's reference row,
failures (failed, timeout, oom, crashed) and gaps shown by name, and a footnote with dataset,
split fingerprint, seeds, hardware, versions and command. An extra table ranks the rows across
the datasets of a suite. Runs on different split fingerprints are never put side by side, except
the draws a suite pools on purpose: its folds and split seeds, one section, mean ± std over
folds × split seeds × model seeds, and the footnote says which of these the ± is over.
"""
from __future__ import annotations

import dataclasses
import fnmatch
import math
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench.report import stats
from bench.core.metric_info import describe
from bench.plugins.registry import Registry
from bench.core.spec import RunRecord, RunSpec
from bench.results.history import still_improving
from bench.results.store import Store, non_finite
from bench.run.suite import Suite
from bench.report import footnotes
from bench.report.selection import (Plan, choose, dataset_card, kinds, outside_seeds, plan, records_by_id,
                                    suite_arg)

NOT_RUN = ("missing", "n/a")  # cell states that are not a run's status
BETTER, WORSE = "▲", "▼"
NAN, INF = "nan!", "inf!"  # cell of an ok run whose value is NaN / infinite: flagged, never a number
IMPROVING = footnotes.IMPROVING  # a run whose best validation epoch was its last


class TableError(ValueError):
    pass


@dataclass
class Cell:
    values: list[float] = field(default_factory=list)
    status: str = "missing"  # ok | missing | n/a | a non-ok run status (failed, timeout, oom, ...)
    stale: bool = False
    lower_is_better: bool = True
    best: bool = False
    kind: str = "metric"  # metric | seconds | reference | rank
    expected: int = 0  # runs the suite asks for (seeds); fewer recorded values are flagged
    seeds: list[int] = field(default_factory=list)  # the seed of each value, for paired tests
    mark: str = ""  # BETTER / WORSE than the reference row (significant paired test)
    improving: bool = False  # a run of it was still improving at its last epoch (IMPROVING)

    @property
    def mean(self) -> float | None:
        return float(np.mean(self.values)) if self.values and self.status == "ok" else None

    @property
    def failed(self) -> bool:
        """A run of this cell ended with a non-ok status; the cell shows that status by name."""
        return self.status not in ("ok",) + NOT_RUN

    def text(self, ci: bool = False) -> str:
        if self.failed or self.status == "n/a":
            return self.status
        if self.status == "missing" or not self.values:
            return "—"
        digits = {"seconds": 2, "rank": 2, "count": 0}.get(self.kind, 4)
        s = f"{np.mean(self.values):.{digits}f}"
        if len(self.values) > 1 and self.kind in ("metric", "seconds"):
            s += f" ± {np.std(self.values, ddof=1):.{digits}f}"
            interval = stats.t_interval(self.values) if ci and self.kind == "metric" else None
            if interval:
                s += f" [{interval[0]:.{digits}f}, {interval[1]:.{digits}f}]"
        if self.kind in ("metric", "seconds") and 0 < len(self.values) < self.expected:
            s += f" (n={len(self.values)})"
        return (s + (f" {self.mark}" if self.mark else "") + (f" {IMPROVING}" if self.improving else "")
                + ("†" if self.stale else ""))


@dataclass
class Section:
    title: str
    headers: list[str]
    rows: list[tuple[str, list[Cell]]]
    notes: list[str]
    # the headline metric's columns, (header, column suffix), and its direction: for ranks and plots
    headline: list[tuple[str, str]] = field(default_factory=list)
    lower_is_better: bool = True


def latest_records(suite: Suite, registry: Registry, store: Store) -> list[RunRecord]:
    """The record each of the suite's runs would show in its table (newest by current code)."""
    records, by_id = records_by_id(store)
    out = []
    for s in plan(suite, registry, records).specs:
        rec, _ = choose(registry, s, by_id)
        if rec is not None and rec.status == "ok":
            # this suite's name for the row, and its column group when it has one (ee-paper's "with EE")
            out.append(dataclasses.replace(rec, label=s.label + (f" ({s.column})" if s.column else "")))
    return out


def chosen_records(suite: Suite, registry: Registry, store: Store,
                   specs: list[RunSpec] | None = None) -> list[tuple[RunSpec, RunRecord | None]]:
    """Each of the suite's runs with the record its table shows (any status), or None."""
    records, by_id = records_by_id(store)
    specs = specs if specs is not None else plan(suite, registry, records).specs
    return [(s, choose(registry, s, by_id)[0]) for s in specs]


def _section_key(s: RunSpec) -> tuple:
    return s.dataset, s.dataset_params, s.group or s.split


def build(suite: Suite, registry: Registry, store: Store, specs: list[RunSpec] | None = None,
          compare_to: str | None = None, test: str | None = None, seeds: list[int] | None = None) -> list[Section]:
    """One section per dataset/split. ``compare_to`` (a row label or variant; default: the suite's
    ``[table] compare_to``) marks the cells a paired test over seeds finds better or worse.
    ``seeds``: these model seeds instead of the suite's; a section says how many of its runs are
    recorded with other seeds and how to include them."""
    records, by_id = records_by_id(store)
    planned = Plan(specs) if specs is not None else plan(suite, registry, records, seeds)
    groups: dict[tuple, list[RunSpec]] = OrderedDict()
    for s in planned.specs:
        groups.setdefault(_section_key(s), []).append(s)
    ref = suite.table.compare_to if compare_to is None else compare_to
    sections = [_section(suite, registry, key, group, by_id, ref, test or suite.table.test, planned.unverified)
                for key, group in groups.items()]
    shown = {s.seed for s in planned.specs}
    outside = outside_seeds(suite, registry, records, by_id, shown)
    for key, section in zip(groups, sections):
        mine = [s for s in outside if _section_key(s) == key]
        if mine:
            extra = sorted({s.seed for s in mine})
            section.notes.append(
                f"Not in this table: {len(mine)} run(s) recorded with model seed(s) {', '.join(map(str, extra))}, "
                f"outside the seeds shown; `bench table --suite {suite_arg(suite, registry)} --seeds "
                f"{','.join(map(str, sorted(shown | set(extra))))}` includes them.")
    return sections


def _section(suite: Suite, registry: Registry, key: tuple, specs: list[RunSpec],
             by_id: dict[str, list[RunRecord]], compare_to: str = "", test: str = "t-test",
             unverified: list[tuple[str, str]] = ()) -> Section:
    dataset, dparams, split = key
    chosen: list[tuple[RunSpec, RunRecord | None, bool]] = []
    for s in specs:
        rec, stale = choose(registry, s, by_id)
        chosen.append((s, rec, stale))
    recs = [r for _, r, _ in chosen if r is not None]
    card = dataset_card(registry, dataset, recs)
    fps = []  # one fingerprint per draw of the section (several when it pools folds or split seeds)
    draws = list(dict.fromkeys((s.split, s.split_seed) for s in specs))
    for one_split, one_seed in draws:
        here = [r for x, r, _ in chosen if r is not None and (x.split, x.split_seed) == (one_split, one_seed)
                # records of a dataset that never loaded have no fingerprint: nothing to compare
                and r.split.get("fingerprint")]
        fp_split = sorted({r.split.get("fingerprint") for r in here})
        if len(fp_split) > 1:
            detail = "; ".join(f"{fp}: " + ", ".join(sorted({r.label for r in here if r.split.get('fingerprint') == fp}))
                               for fp in fp_split)
            where = f"{dataset}/{one_split}" + (f" split seed {one_seed}" if one_seed else "")
            raise TableError(f"refusing to compare runs on {where} made on different split "
                             f"fingerprints ({detail}). Re-run the stale ones with `bench run --force`.")
        fps += fp_split
    pooled = len(draws) > 1

    def rep_of(s: RunSpec):
        """What a cell's values repeat over: model seeds, or (fold, split seed, model seed) when
        the section pools draws; paired tests pair runs with the same one."""
        return (s.split, s.split_seed, s.seed) if pooled else s.seed
    metrics = suite.table.metrics or (recs[0].dataset.get("metrics") if recs else list(card["metrics"]))
    metric_of = {m: describe(m, recs) for m in metrics}  # a plugin's metric: as its records describe it
    colkeys = suite.table.columns
    combos: list[tuple] = []
    def combo_of(s: RunSpec) -> tuple:
        """A suite entry's own `column` wins; else the values of the layout's column parameters."""
        if s.column or any(x.column for x, _, _ in chosen):
            return (s.column,)
        return tuple(dict(s.params).get(c) for c in colkeys)

    for s, _, _ in chosen:
        if combo_of(s) not in combos:
            combos.append(combo_of(s))

    def combo_label(combo: tuple) -> str:
        if any(x.column for x, _, _ in chosen):
            return f" ({combo[0]})" if combo[0] else ""
        if not colkeys:
            return ""
        parts = [suite.table.column_labels.get(str(v), f"{c}={v}") for c, v in zip(colkeys, combo)
                 if v is not None]  # a method without that parameter: no suffix
        return " (" + ", ".join(parts) + ")" if any(parts) else ""

    headers = [f"{metric_of[m].label}{combo_label(c)}" for m in metrics for c in combos]
    headers += [f"fit s{combo_label(c)}" for c in combos]
    ref = suite.table.reference_for(dataset, split)
    ref_cols = sorted({col for vals in ref.values() for col in vals}, key=lambda h: headers.index(h) if h in headers else 99)
    headers += [f"{h} [paper]" for h in ref_cols]

    rows: "OrderedDict[str, dict[str, Cell]]" = OrderedDict()
    kind = card["kind"]
    for s, rec, stale in chosen:
        row = rows.setdefault(s.label, {})
        combo = combo_of(s)
        supported = kind in kinds(registry, s.method, kind)
        cols = [(f"{metric_of[m].label}{combo_label(combo)}", m) for m in metrics] + [(f"fit s{combo_label(combo)}", None)]
        for h, m in cols:
            cell = row.setdefault(h, Cell(expected=len({rep_of(x) for x, _, _ in chosen}),
                                          lower_is_better=metric_of[m].lower_is_better if m else True,
                                          kind="metric" if m else "seconds"))
            if not supported:
                cell.status = "n/a"
            elif rec is None:
                pass
            elif rec.status != "ok":
                if not cell.failed:  # one failed seed fails the cell; the first status is shown
                    cell.status = rec.status or "failed"
            elif not cell.failed:
                _add_value(cell, rec.metrics.get(m) if m else rec.fit_seconds, rep_of(s), stale)
                cell.improving |= bool(m) and still_improving(rec)
    for label, vals in ref.items():
        row = rows.setdefault(label, {})
        for h, v in vals.items():
            row[f"{h} [paper]"] = Cell(values=[float(v)], status="ok", kind="reference")
    for h in headers:
        cells = [r[h] for r in rows.values() if h in r and r[h].mean is not None and r[h].kind == "metric"]
        if len(cells) > 1:
            best = min(cells, key=lambda c: c.mean) if cells[0].lower_is_better else max(cells, key=lambda c: c.mean)
            best.best = True
    table_rows = [(label, [r.get(h, Cell()) for h in headers]) for label, r in rows.items()]
    notes = footnotes.notes(dataset, dparams, split, chosen, fps, card["synthetic"])
    unchecked = sorted({f"{w} {n}" for w, n in unverified if (w == "dataset" and n == dataset) or
                        (w == "method" and any(fnmatch.fnmatchcase(s.method, n) for s in specs))})
    if unchecked:
        notes.append("Shown from their records, not checked against the current code: "
                     + ", ".join(unchecked) + " (their plugins are not in this scan; give the folder that "
                     "holds them with --plugins DIR to check the records are current and list missing runs).")
    if compare_to:
        notes.append(_compare(rows, chosen, compare_to, test, over=footnotes.paired_over(specs) if pooled else "seeds"))
    flagged = sorted(f"runs/{r.key}.json" for _, r, _ in chosen if r is not None and r.status == "ok" and non_finite(r))
    if flagged:
        notes.append(f"{NAN} / {INF}: {len(flagged)} record(s) marked ok have a non-finite metric (NaN or infinite), "
                     "never averaged, ranked or marked best; check and re-run: " + ", ".join(flagged))
    improving = footnotes.improving(chosen)
    if improving:
        notes.append(improving)
    failed = sorted({f"{s.label}{f' split seed {s.split_seed},' if s.split_seed else ''} seed {s.seed}: {r.status}"
                     for s, r, _ in chosen if r is not None and r.status != "ok"})
    if failed:
        notes.append("Runs that did not finish (shown by status, never dropped): " + "; ".join(failed))
    headline = [(f"{metric_of[metrics[0]].label}{combo_label(c)}", combo_label(c)) for c in combos] if metrics else []
    title = footnotes.title(dataset, dparams, split, recs, card["synthetic"], len({s.split_seed for s in specs}))
    return Section(title=title, headers=headers, rows=table_rows,
                   notes=notes, headline=headline,
                   lower_is_better=metric_of[metrics[0]].lower_is_better if metrics else True)


def _add_value(cell: Cell, value: float | None, rep: Any, stale: bool) -> None:
    """One ok run's value into its cell. A NaN or infinite value flags the whole cell (like a failed
    seed) instead of poisoning its mean; a metric the record lacks leaves a gap."""
    if value is not None and not math.isfinite(value):
        cell.status = NAN if math.isnan(value) else INF
        return
    cell.status = "ok"
    cell.stale |= stale
    if value is not None:
        cell.values.append(float(value))
        cell.seeds.append(rep)


def _compare(rows: "OrderedDict[str, dict[str, Cell]]", chosen: list, compare_to: str, test: str,
             over: str = "seeds") -> str:
    """Mark each metric cell that a paired test over seeds finds better (▲) or worse (▼) than the
    reference row's cell in the same column; returns the footnote saying what was done."""
    ref_label = compare_to if compare_to in rows else next(
        (s.label for s, _, _ in chosen if s.method == compare_to), None)
    if ref_label is None:
        return f"Paired comparison: reference `{compare_to}` is not a row of this table; no marks."
    too_few, tested = 0, 0
    for label, row in rows.items():
        if label == ref_label:
            continue
        for h, cell in row.items():
            ref = rows[ref_label].get(h)
            if cell.kind != "metric" or cell.mean is None or ref is None or ref.mean is None:
                continue
            cmp = stats.paired(dict(zip(cell.seeds, cell.values)), dict(zip(ref.seeds, ref.values)),
                               cell.lower_is_better, test)
            if cmp.n < stats.min_pairs(test):
                too_few += 1
                continue
            tested += 1
            if cmp.significant:
                cell.mark = BETTER if cmp.better else WORSE
    what = "paired t-test" if test == "t-test" else "Wilcoxon signed-rank test"
    note = (f"{BETTER} / {WORSE}: significantly better / worse than `{ref_label}` in the same column "
            f"({what} over {over}, p < {stats.ALPHA}); no mark: no significant difference")
    if too_few:
        note += (f"; {too_few} cell(s) not tested: fewer than {stats.min_pairs(test)} seeds paired with "
                 f"the reference (too few for the test)")
    return note + "."


def average_ranks(sections: list[Section]) -> Section | None:
    """Each row × column group ranked on every dataset's headline metric (1 = best, ties averaged),
    then averaged over the datasets where it has a value. None with fewer than two datasets."""
    if len(sections) < 2:
        return None
    per: "OrderedDict[str, dict[str, Cell]]" = OrderedDict()
    titles = [s.title.split(" (synthetic")[0] for s in sections]
    for s, title in zip(sections, titles):
        by_h = {h: i for i, h in enumerate(s.headers)}
        entries = [(label + suffix, cells[by_h[h]]) for label, cells in s.rows
                   for h, suffix in s.headline if h in by_h and cells[by_h[h]].kind == "metric"]
        valued = [(name, c) for name, c in entries if c.mean is not None]
        rk = stats.ranks([c.mean for _, c in valued], s.lower_is_better) if valued else []
        for name, c in entries:
            per.setdefault(name, {})[title] = Cell(status=c.status if c.status != "ok" else "missing", kind="rank")
        for (name, _), r in zip(valued, rk):
            per[name][title] = Cell(values=[float(r)], status="ok", kind="rank")
    headers = ["average rank", "datasets"] + titles
    rows = []
    for name, cells in per.items():
        got = [c.values[0] for c in cells.values() if c.status == "ok"]
        avg = Cell(values=[float(np.mean(got))] if got else [], status="ok" if got else "missing", kind="rank")
        count = Cell(values=[float(len(got))], status="ok", kind="count")
        rows.append((name, [avg, count] + [cells.get(t, Cell(kind="rank")) for t in titles]))
    valued = [r[1][0] for r in rows if r[1][0].mean is not None]
    if len(valued) > 1:
        min(valued, key=lambda c: c.mean).best = True
    rows.sort(key=lambda r: (r[1][0].mean is None, r[1][0].mean or 0.0))
    notes = ["Rank 1 = best on each dataset's headline metric (direction-aware: lower is better for errors, "
             "higher for accuracy); ties share the average rank; the average is over the datasets where "
             "the row has a value (column `datasets`); a failed or missing run is not ranked there."]
    return Section(title="average rank across datasets", headers=headers, rows=rows, notes=notes)


def headline_cells(section: Section) -> list[tuple[str, str, Cell, Cell | None]]:
    """(row label, column suffix, metric cell, fit-seconds cell or None) of a section's headline
    metric columns: what the figures and the site plot."""
    by_h = {h: i for i, h in enumerate(section.headers)}
    out = []
    for label, cells in section.rows:
        for h, suffix in section.headline:
            if h in by_h and cells[by_h[h]].kind == "metric":
                fit = cells[by_h[f"fit s{suffix}"]] if f"fit s{suffix}" in by_h else None
                out.append((label, suffix, cells[by_h[h]], fit))
    return out
