"""Interactive figures for the results site: matplotlib drawn as SVG, inlined in the page, with a
<title> on every point or bar (the browser's hover shows mean, std, seed, epoch) and series a
legend's check boxes can hide. No JavaScript plotting library, nothing fetched."""
from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from typing import Iterable

import numpy as np

from bench.core.spec import RunRecord
from bench.report.plots import valid_key
from bench.report.table import headline_cells

SVG_NS, XLINK_NS = "http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"
ET.register_namespace("", SVG_NS)
ET.register_namespace("xlink", XLINK_NS)
MAX_POINTS = 1500  # learning curves with more epochs × runs than this: hover on lines, not points


def pyplot():
    import matplotlib

    matplotlib.use("Agg")  # headless: never needs a display
    import matplotlib.pyplot as plt

    return plt


def colour(k: int) -> str:
    from matplotlib.colors import to_hex

    return to_hex(f"C{k % 10}")


def svg_text(fig, prefix: str, titles: dict[str, list[str] | str] | None = None,
             series: dict[str, int] | None = None) -> str:
    """The figure as SVG markup for an HTML page. Artists given a gid get hover titles (a list: one
    per marker in order; a string: one for the whole artist) and ``data-series`` for the legend;
    every id is prefixed so several figures share a page. Deterministic: no date, fixed hashes."""
    import matplotlib

    plt = pyplot()
    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "bench"}):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    root = ET.fromstring(buf.getvalue().encode())
    parent = {c: p for p in root.iter() for c in p}
    for el in list(root.iter()):
        gid = el.get("id")
        if gid is None or (gid not in (titles or {}) and gid not in (series or {})):
            continue
        if gid in (series or {}):
            el.set("data-series", f"{prefix}{series[gid]}")
            el.set("class", "series")
        text = (titles or {}).get(gid)
        uses = [u for u in el.iter(f"{{{SVG_NS}}}use")]
        if isinstance(text, list) and uses:
            for use, t in zip(uses, text):
                holder = parent[use]
                wrap = ET.Element(f"{{{SVG_NS}}}g", {"class": "pt"})
                ET.SubElement(wrap, f"{{{SVG_NS}}}title").text = t
                holder.insert(list(holder).index(use), wrap)
                holder.remove(use)
                wrap.append(use)
        elif text:
            title = ET.Element(f"{{{SVG_NS}}}title")
            title.text = text if isinstance(text, str) else "; ".join(text)
            el.insert(0, title)
    svg = ET.tostring(root, encoding="unicode")
    svg = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}{m.group(1)}"', svg)
    svg = re.sub(r'url\(#([^)]+)\)', lambda m: f"url(#{prefix}{m.group(1)})", svg)
    svg = re.sub(r'href="#([^"]+)"', lambda m: f'href="#{prefix}{m.group(1)}"', svg)
    return re.sub(r"\s*\n\s*", "\n", svg)


def _fmt(v: float) -> str:
    return f"{v:.6g}"


def _rep(rep) -> str:
    """A cell value's repetition as words: 'seed 1', or 'fold u2, split seed 0, seed 1'."""
    if isinstance(rep, tuple):
        split, split_seed, seed = rep
        return f"fold {split}" + (f", split seed {split_seed}" if split_seed else "") + f", seed {seed}"
    return f"seed {rep}"


def headline(section) -> list[tuple[str, object, object]]:
    """(row name with its column suffix, metric cell, fit-seconds cell or None)."""
    return [(label + suffix, cell, fit) for label, suffix, cell, fit in headline_cells(section)]


def _metric_name(section) -> str:
    h, suffix = section.headline[0]
    return h[: len(h) - len(suffix)] or "metric"


def time_vs_metric(section, prefix: str) -> tuple[str, list[tuple[str, str, str]]] | None:
    """Fit seconds (log) against the headline metric for one table, a point per seed; hover says
    which row and seed, the metric and the seconds. None when no row has both."""
    if not section.headline:
        return None
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    titles, series, legend = {}, {}, []
    for k, (name, cell, fit) in enumerate(headline(section)):
        if cell.mean is None or fit is None or fit.mean is None or len(fit.values) != len(cell.values):
            continue
        gid = f"pts{k}"
        sc = ax.scatter(np.maximum(fit.values, 1e-3), cell.values, s=36, alpha=0.85, color=colour(len(legend)),
                        marker="os^Dv"[(len(legend) // 10) % 5])
        sc.set_gid(gid)
        titles[gid] = [f"{name}, {_rep(r)}: {_metric_name(section)} {_fmt(v)}, fit {_fmt(t)} s"
                       for r, v, t in zip(cell.seeds, cell.values, fit.values)]
        series[gid] = len(legend)
        legend.append((f"{prefix}{len(legend)}", name, colour(len(legend))))
    if not legend:
        plt.close(fig)
        return None
    ax.set_xscale("log")
    from matplotlib.ticker import NullFormatter

    ax.xaxis.set_minor_formatter(NullFormatter())  # minor labels of a short log range overlap
    ax.set(xlabel="fit seconds (log scale)",
           ylabel=f"{_metric_name(section)} ({'lower' if section.lower_is_better else 'higher'} is better)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return svg_text(fig, prefix, titles, series), legend


def metric_bars(section, prefix: str) -> str | None:
    """The headline metric per row, mean with ± one std over seeds; hover gives the numbers."""
    entries = [(n, c) for n, c, _ in headline(section) if c.mean is not None]
    if not entries:
        return None
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(max(5.0, 1.0 + 0.55 * len(entries)), 3.6))
    titles = {}
    for i, (name, cell) in enumerate(entries):
        std = float(np.std(cell.values, ddof=1)) if len(cell.values) > 1 else 0.0
        bar = ax.bar([i], [cell.mean], yerr=[std], capsize=3, color=colour(i))[0]
        bar.set_gid(f"bar{i}")
        titles[f"bar{i}"] = (f"{name}: {_metric_name(section)} mean {_fmt(cell.mean)}"
                             + (f" ± {_fmt(std)} (std over {len(cell.values)})" if len(cell.values) > 1 else ""))
    ax.set_xticks(range(len(entries)), [n for n, _ in entries], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(f"{_metric_name(section)} ({'lower' if section.lower_is_better else 'higher'} is better)")
    fig.tight_layout()
    return svg_text(fig, prefix, titles)


def learning_curves(records: Iterable[RunRecord], prefix: str) -> tuple[str, list[tuple[str, str, str]]] | None:
    """Train loss and the valid metric per epoch, a line per run (first ensemble member), a colour
    and a legend entry per table row; hover on a point gives row, seed, epoch and value."""
    runs = [(rec, [r for r in rec.history if "train_loss" in r and r.get("member", 0) == 0])
            for rec in sorted(records, key=lambda r: (r.label, str(r.spec.get("seed"))))]
    runs = [(rec, rows) for rec, rows in runs if rows]
    if not runs:
        return None
    plt = pyplot()
    fig, (ax_loss, ax_valid) = plt.subplots(1, 2, figsize=(11, 4.2))
    labels = list(dict.fromkeys(rec.label for rec, _ in runs))
    points = sum(2 * len(rows) for _, rows in runs) <= MAX_POINTS
    titles, series = {}, {}
    for j, (rec, rows) in enumerate(runs):
        i = labels.index(rec.label)
        who = f"{rec.label}, seed {rec.spec.get('seed')}" + (f", {rec.spec.get('split')}" if "," not in str(
            rec.spec.get("split")) and len({r.spec.get('split') for r, _ in runs}) > 1 else "")
        epochs = [r["epoch"] for r in rows]
        style = {"color": colour(i), "ls": "-" if i < 10 else "--", "marker": "." if points else None, "lw": 1.2}
        key = valid_key(rows)
        for ax, what in ((ax_loss, "train_loss"), (ax_valid, key)):
            if what is None:
                continue
            vals = [r.get(what, np.nan) for r in rows]
            line, = ax.plot(epochs, vals, **style)
            gid = f"{what}-{j}"
            line.set_gid(gid)
            series[gid] = i
            titles[gid] = ([f"{who}, epoch {e}: {what} {_fmt(v)}" for e, v in zip(epochs, vals)] if points
                           else f"{who}: {what} from {_fmt(vals[0])} to {_fmt(vals[-1])} over {len(vals)} epochs")
        if key:
            ax_valid.set_ylabel(key)
    ax_loss.set(xlabel="epoch", ylabel="train loss", title="training loss")
    ax_valid.set(xlabel="epoch", title="valid metric")
    for ax in (ax_loss, ax_valid):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    legend = [(f"{prefix}{i}", label, colour(i)) for i, label in enumerate(labels)]
    return svg_text(fig, prefix, titles, series), legend
