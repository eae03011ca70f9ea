"""Critical-difference diagrams (Demšar 2006, JMLR 7, section 3.2.2): Friedman's test of the
methods' ranks over datasets, the Nemenyi critical difference of average ranks, and the diagram
(matplotlib, SVG). scipy and matplotlib are imported on first use, never by `bench table`."""
from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass

import numpy as np

from bench.report import stats

ALPHA = 0.05
MAX_EXACT = 14  # datasets up to which the complete block is searched over every subset


@dataclass(frozen=True)
class Friedman:
    """Friedman's test on a complete block (every method ranked on every dataset) and the
    Nemenyi critical difference at ``alpha``."""

    methods: list[str]
    datasets: list[str]
    avg_ranks: list[float]
    chi2: float  # Friedman's chi-square statistic
    p: float  # its p-value (chi-square, k - 1 degrees of freedom)
    iman_f: float | None  # Iman and Davenport's F statistic; None when chi2 = N (k - 1)
    iman_p: float | None
    cd: float
    alpha: float

    def as_dict(self) -> dict:
        return asdict(self)


def q_alpha(k: int, alpha: float = ALPHA) -> float:
    """The Nemenyi test's critical value: the studentized range quantile over sqrt(2)."""
    from scipy.stats import studentized_range

    return float(studentized_range.ppf(1 - alpha, k, np.inf)) / math.sqrt(2)


def critical_difference(k: int, n: int, alpha: float = ALPHA) -> float:
    """Average ranks of k methods over n datasets differ significantly from this difference on."""
    return q_alpha(k, alpha) * math.sqrt(k * (k + 1) / (6 * n))


def friedman_stats(avg_ranks: list[float], n: int) -> tuple[float, float, float | None, float | None]:
    """(chi2, p, F, p of F) from the average ranks of k methods over n datasets (Demšar's eq.)."""
    from scipy.stats import chi2 as chi2_dist, f as f_dist

    r = np.asarray(avg_ranks, dtype=np.float64)
    k = len(r)
    chi2 = 12 * n / (k * (k + 1)) * (float(np.sum(r ** 2)) - k * (k + 1) ** 2 / 4)
    p = float(chi2_dist.sf(chi2, k - 1))
    denom = n * (k - 1) - chi2
    if n < 2 or denom <= 0:
        return chi2, p, None, None
    f = (n - 1) * chi2 / denom
    return chi2, p, f, float(f_dist.sf(f, k - 1, (k - 1) * (n - 1)))


def complete_block(table: list[tuple[str, bool, dict[str, float]]]) -> tuple[list[int], list[str]]:
    """The datasets (indices) and methods of the largest complete block: methods with a value on
    every dataset used, at least two of each, most cells first, then most datasets."""
    best: tuple = (0, 0, [], [])
    n = len(table)
    subsets = (itertools.chain.from_iterable(itertools.combinations(range(n), m) for m in range(2, n + 1))
               if n <= MAX_EXACT else [tuple(range(n))])
    order = list(dict.fromkeys(m for _, _, vals in table for m in vals))
    for subset in subsets:
        methods = [m for m in order if all(m in table[i][2] for i in subset)]
        if len(methods) < 2:
            continue
        score = (len(subset) * len(methods), len(subset))
        if score > best[:2]:
            best = (*score, list(subset), methods)
    return best[2], best[3]


def test(table: list[tuple[str, bool, dict[str, float]]], alpha: float = ALPHA) -> Friedman | str:
    """Friedman + Nemenyi over ``table`` = [(dataset, lower_is_better, {method: mean})]; a
    sentence saying why not when fewer than two datasets or two methods can be compared."""
    if len(table) < 2:
        return "fewer than 2 datasets: no ranks across datasets, no diagram"
    rows, methods = complete_block(table)
    if not rows:
        return "fewer than 2 methods have a value on 2 or more of the same datasets: no diagram"
    ranked = np.array([stats.ranks([table[i][2][m] for m in methods], table[i][1]) for i in rows])
    avg = [float(x) for x in ranked.mean(axis=0)]
    chi2, p, f, pf = friedman_stats(avg, len(rows))
    return Friedman(methods=methods, datasets=[table[i][0] for i in rows], avg_ranks=avg, chi2=chi2, p=p,
                    iman_f=f, iman_p=pf, cd=critical_difference(len(methods), len(rows), alpha), alpha=alpha)


def cliques(avg_ranks: list[float], cd: float) -> list[tuple[int, int]]:
    """Runs (i, j) of the methods sorted by rank whose ranks differ by less than ``cd``: the
    groups the diagram joins with a bar (no significant difference inside); maximal ones only."""
    r = sorted(avg_ranks)
    out: list[tuple[int, int]] = []
    for i in range(len(r)):
        j = max(x for x in range(i, len(r)) if r[x] - r[i] < cd)
        if j > i and not any(a <= i and j <= b for a, b in out):
            out.append((i, j))
    return out


def diagram(methods: list[str], avg_ranks: list[float], cd: float, prefix: str = "cd-", title: str = "") -> str:
    """Demšar's CD diagram as SVG text: the rank axis (1 = best, on the left), each method's
    average rank, the CD interval, and bars joining methods not significantly different."""
    from bench.report.svg import pyplot, svg_text

    plt = pyplot()
    k = len(methods)
    order = sorted(range(k), key=lambda i: avg_ranks[i])
    groups = cliques(avg_ranks, cd)
    half = (k + 1) // 2
    rows_below = max(half, k - half)
    top, step = 0.0, 0.28
    bar0 = -0.18
    first = bar0 - 0.12 * len(groups) - 0.1
    low = first - step * (rows_below - 1) - 0.15
    lo, hi = 1, max(k, 2)
    label_in = 0.4 + 0.075 * max(len(f"{m} (0.00)") for m in methods)  # room for the longest label
    axis_in = 4.0
    pad = (label_in + 0.2) * (hi - lo) / axis_in
    fig = plt.figure(figsize=(axis_in + 2 * (label_in + 0.2), 1.3 * (0.8 - low)))
    ax = fig.add_axes([0, 0, 1, 1])
    ax.set_axis_off()
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_ylim(low, 0.8)
    ax.plot([lo, hi], [top, top], color="black", lw=1)
    for t in np.arange(lo, hi + 0.01, 0.5):
        ax.plot([t, t], [top, top + (0.08 if float(t).is_integer() else 0.04)], color="black", lw=1)
        if float(t).is_integer():
            ax.text(t, top + 0.12, str(int(t)), ha="center", va="bottom", fontsize=10)
    ax.plot([lo, lo + cd], [0.5, 0.5], color="firebrick", lw=2)
    for x in (lo, lo + cd):
        ax.plot([x, x], [0.45, 0.55], color="firebrick", lw=1.5)
    ax.text(lo + cd / 2, 0.58, f"CD = {cd:.2f}", ha="center", va="bottom", fontsize=10, color="firebrick")
    for pos, i in enumerate(order):
        left = pos < half
        row = pos if left else k - 1 - pos
        y = first - step * row
        end = lo - 0.15 * (hi - lo) / 3 if left else hi + 0.15 * (hi - lo) / 3
        ax.plot([avg_ranks[i], avg_ranks[i], end], [top, y, y], color="C0", lw=1)
        ax.text(end + (-0.02 if left else 0.02) * (hi - lo), y, f"{methods[i]} ({avg_ranks[i]:.2f})",
                ha="right" if left else "left", va="center", fontsize=9)
    srt = sorted(avg_ranks)
    for g, (a, b) in enumerate(groups):
        y = bar0 - 0.12 * g
        ax.plot([srt[a] - 0.03, srt[b] + 0.03], [y, y], color="black", lw=3, solid_capstyle="round")
    if title:
        ax.text(lo - pad + 0.05, 0.75, title, ha="left", va="top", fontsize=10)
    return svg_text(fig, prefix)

