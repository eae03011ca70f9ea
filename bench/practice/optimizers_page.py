"""`bench practice optimizers`: the page of the practice-optimizers suite (README.md + PNGs).

The suite trains each optimizer (a row label: sgd, sgd-momentum, rmsprop, adam, adamw) on each
task over a small grid of learning rates, three seeds each; the first rate of a row's grid in the
suite file is the optimizer's usual rate. Here every row gets its usual rate's test score and
the grid's best rate, chosen on the mean VALID score over seeds (``suite_runs.best_lr``), with that
rate's test score; then each claim's verdict, computed from those numbers.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from bench.practice import page_plots as pp
from bench.practice import summary as sm
from bench.practice.page_text import (Verdict, claim_block, data_section, direction, metric_label, recipe,
                                      tail, write_page)
from bench.practice.suite_runs import (DIVERGED, Run, Stats, best_lr, better, commands, first_value, fmt_lr,
                                       mean_curve, noise_note, select, tasks)

SUITE = "practice-optimizers"
TITLE = "In practice: optimizers"
CLAIM = ("Momentum and adaptive optimizers (RMSprop, Adam, AdamW) train faster and depend less on a tuned "
         "learning rate than plain SGD, and once each is tuned the choice matters less.")
OPTIMIZERS = ("sgd", "sgd-momentum", "rmsprop", "adam", "adamw")  # the suite's labels, table order
ADAPTIVE = ("rmsprop", "adam", "adamw")
CLAIMS = (
    "At the same learning rate, momentum makes SGD train faster (lower training loss after the same epochs).",
    "Adaptive optimizers (RMSprop, Adam, AdamW) do well at their usual rates; SGD, with or without "
    "momentum, loses more when its rate is not tuned.",
    "Adam trains faster than SGD with momentum early on (lower training loss after the first epoch, "
    "each at its best grid rate).",
    "Tuned, the choice of optimizer matters less: the test scores of the five optimizers at their "
    "best grid rates lie closer together than at their usual rates.",
    "AdamW (decoupled weight decay) does at least as well as Adam on test, each at its best grid rate.",
)


@dataclass
class Row:
    """One optimizer on one task: its usual rate, the grid, the rate chosen on valid."""

    label: str
    usual_lr: float | None
    usual: Stats
    chosen_lr: float | None
    chosen: Stats
    grid: dict[float, Stats] = field(default_factory=dict)


def rows_for(runs: Sequence[Run], task: str, methods: Sequence[Mapping[str, Any]]) -> list[Row]:
    """The optimizers present on one task, in OPTIMIZERS order (other labels after)."""
    mine = select(runs, task=task)
    labels = [lb for lb in OPTIMIZERS if any(r.label == lb for r in mine)]
    labels += [lb for lb in dict.fromkeys(r.label for r in mine) if lb not in labels]
    out = []
    for label in labels:
        group = select(mine, label=label)
        usual = first_value(methods, label, task, "lr")
        usual = float(usual) if isinstance(usual, (int, float)) else None
        chosen, grid = best_lr(group)
        out.append(Row(label, usual, Stats(select(group, lr=usual) if usual is not None else []),
                       chosen, Stats(select(group, lr=chosen) if chosen is not None else []), grid))
    return out


def _by_label(rows: Sequence[Row]) -> dict[str, Row]:
    return {r.label: r for r in rows}


def _final_loss(stats: Stats, epoch: int | None = None) -> float | None:
    """Mean over seeds of the training loss at ``epoch`` (default: the last common epoch)."""
    if not stats.complete:
        return None
    epochs, mean, _ = mean_curve(stats.runs, "train_loss")
    if not epochs:
        return None
    if epoch is None:
        return mean[-1]
    return mean[epochs.index(epoch)] if epoch in epochs else None


def momentum_verdict(task: str, rows: Sequence[Row]) -> Verdict:
    """Claim 1: SGD with and without momentum at one rate both grids share (SGD's usual if it can)."""
    by = _by_label(rows)
    sgd, mom = by.get("sgd"), by.get("sgd-momentum")
    if sgd is None or mom is None:
        return Verdict(task, None, "sgd or sgd-momentum not in the suite")
    common = [lr for lr in sgd.grid if any(math.isclose(lr, m) for m in mom.grid)]
    if not common:
        return Verdict(task, None, "their grids share no rate")
    lr = sgd.usual_lr if sgd.usual_lr in common else common[0]
    a = _final_loss(sgd.grid[lr])
    b = _final_loss(next(s for m, s in mom.grid.items() if math.isclose(m, lr)))
    if a is None or b is None:
        return Verdict(task, None, f"at lr {fmt_lr(lr)} a run is missing, failed or diverged")
    return Verdict(task, b < a, f"at lr {fmt_lr(lr)} the last epoch's training loss is {b:.4g} with momentum "
                                f"and {a:.4g} without")


def _gap(row: Row) -> float | None:
    """How much worse the usual rate's mean valid score is than the chosen rate's (0: the usual
    rate is the best; inf: it diverged; None: not known)."""
    if row.usual_lr is None or row.chosen_lr is None:
        return None
    usual = row.grid.get(row.usual_lr)
    if usual is not None and usual.problem().startswith(DIVERGED):
        return math.inf
    u, c = (usual.mean("valid") if usual else None), row.chosen.mean("valid")
    return None if u is None or c is None else abs(u - c)


def tuning_verdict(task: str, rows: Sequence[Row]) -> Verdict:
    """Claim 2: every adaptive optimizer's loss from not tuning is below every SGD's."""
    gaps = {r.label: _gap(r) for r in rows if r.label in OPTIMIZERS}
    if len(gaps) < len(OPTIMIZERS) or any(g is None for g in gaps.values()):
        return Verdict(task, None, "a row lacks its usual or its chosen rate's runs")
    adaptive = max(gaps[k] for k in ADAPTIVE)
    sgd = min(gaps[k] for k in OPTIMIZERS if k not in ADAPTIVE)
    shown = ", ".join(f"{k} {g:.4g}" for k, g in gaps.items())
    return Verdict(task, adaptive < sgd, f"valid score lost by keeping the usual rate instead of the grid's "
                                         f"best: {shown} (largest adaptive {adaptive:.4g}, smallest SGD {sgd:.4g})")


def early_verdict(task: str, rows: Sequence[Row]) -> Verdict:
    """Claim 3: Adam's training loss after epoch 1 below SGD-momentum's, each at its chosen rate."""
    by = _by_label(rows)
    if "adam" not in by or "sgd-momentum" not in by:
        return Verdict(task, None, "adam or sgd-momentum not in the suite")
    adam, mom = by["adam"], by["sgd-momentum"]
    a, m = _final_loss(adam.chosen, 1), _final_loss(mom.chosen, 1)
    if a is None or m is None:
        return Verdict(task, None, "no chosen rate with complete runs")
    la, lm = _final_loss(adam.chosen), _final_loss(mom.chosen)
    return Verdict(task, a < m, f"training loss after epoch 1: adam {a:.4g} (lr {fmt_lr(adam.chosen_lr)}), "
                                f"sgd-momentum {m:.4g} (lr {fmt_lr(mom.chosen_lr)}); after the last epoch "
                                f"{la:.4g} and {lm:.4g}")


def spread_verdict(task: str, rows: Sequence[Row]) -> Verdict:
    """Claim 4: max - min of the test means, at the chosen rates vs at the usual rates. A usual
    rate that diverged makes the usual spread unbounded."""
    chosen = [r.chosen.mean() for r in rows]
    usual = [math.nan if r.usual.problem().startswith(DIVERGED) else r.usual.mean() for r in rows]
    if not rows or any(v is None for v in chosen + usual):
        return Verdict(task, None, "a row lacks complete runs at its usual or its chosen rate")
    s_chosen = max(chosen) - min(chosen)
    s_usual = math.inf if any(math.isnan(v) for v in usual) else max(usual) - min(usual)
    return Verdict(task, s_chosen < s_usual, f"test scores span {s_chosen:.4g} at the chosen rates and "
                                             f"{s_usual:.4g} at the usual rates")


def adamw_verdict(task: str, rows: Sequence[Row]) -> Verdict:
    """Claim 5: AdamW's test mean at its chosen rate at least as good as Adam's."""
    by = _by_label(rows)
    if "adam" not in by or "adamw" not in by:
        return Verdict(task, None, "adam or adamw not in the suite")
    a, w = by["adam"].chosen.mean(), by["adamw"].chosen.mean()
    if a is None or w is None:
        return Verdict(task, None, "no chosen rate with complete runs")
    lower = by["adam"].chosen.lower_is_better
    note = noise_note(by["adam"].chosen, by["adamw"].chosen)
    return Verdict(task, not better(a, w, lower), f"test {a:.4f} (adam, lr {fmt_lr(by['adam'].chosen_lr)}) vs "
                                                  f"{w:.4f} (adamw, lr {fmt_lr(by['adamw'].chosen_lr)}){note}")


VERDICTS: tuple[Callable[[str, Sequence[Row]], Verdict], ...] = (
    momentum_verdict, tuning_verdict, early_verdict, spread_verdict, adamw_verdict)


def grid_cell(row: Row) -> str:
    """'0.0003: 0.1520 · **0.001: 0.1432** · 0.003: diverged' (bold: the rate chosen on valid)."""
    parts = []
    for lr, s in row.grid.items():
        text = f"{fmt_lr(lr)}: {s.problem() or format(s.mean('valid'), '.4f')}"
        parts.append(f"**{text}**" if lr == row.chosen_lr else text)
    return " · ".join(parts) or "n/a"


def table(rows: Sequence[Row], metric: str) -> list[str]:
    lines = [f"| optimizer | usual lr | test {metric} at usual lr | fit s | grid: lr: valid {metric} (mean over "
             f"seeds; bold = chosen) | chosen lr | test {metric} at chosen lr | fit s |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r.label} | {fmt_lr(r.usual_lr)} | {r.usual.cell()} | {r.usual.seconds()} | "
                     f"{grid_cell(r)} | {fmt_lr(r.chosen_lr)} | {r.chosen.cell()} | {r.chosen.seconds()} |")
    return lines


def curve_panels(task: str, rows: Sequence[Row]) -> list[pp.Panel]:
    """Each optimizer at its chosen rate (solid) and, when it differs, its usual rate (dashed)."""
    series = []
    for i, r in enumerate(rows):
        colour = f"C{i % 10}"
        if r.chosen_lr is not None:
            series.append((f"{r.label} lr {fmt_lr(r.chosen_lr)} (chosen)", r.chosen.runs, {"color": colour}))
        if r.usual_lr is not None and r.usual_lr != r.chosen_lr:
            series.append((f"{r.label} lr {fmt_lr(r.usual_lr)} (usual)", r.usual.runs,
                           {"color": colour, "ls": "--", "lw": 1.0}))
    return pp.learning_panels(task, series)


def grid_panel(task: str, rows: Sequence[Row], metric: str) -> pp.Panel:
    """Valid score against the rate, per optimizer: open circle = usual rate, star = chosen."""
    panel = pp.Panel(f"{task}: valid {metric} per learning rate", "learning rate (log)",
                     f"valid {metric} (mean ± std over seeds)", xlog=True)
    diverged = []
    for r in rows:
        pts = [(lr, s.mean("valid"), s.std("valid")) for lr, s in r.grid.items() if s.mean("valid") is not None]
        diverged += [f"{r.label} {fmt_lr(lr)}" for lr, s in r.grid.items() if s.problem().startswith(DIVERGED)]
        if not pts:
            continue
        marks = [(lr, m, "o") for lr, m, _ in pts if lr == r.usual_lr]
        marks += [(lr, m, "*") for lr, m, _ in pts if lr == r.chosen_lr]
        panel.lines.append(pp.Line(r.label, [p[0] for p in pts], [p[1] for p in pts], [p[2] for p in pts],
                                   {"marker": "."}, bars=True, marks=marks))
    if diverged:
        panel.note = "diverged: " + ", ".join(diverged)
    return panel


def build(runs: Sequence[Run], methods: Sequence[Mapping[str, Any]]) -> dict[str, list[Row]]:
    """Each task's rows."""
    return {t: rows_for(runs, t, methods) for t in tasks(runs)}


def claim_verdicts(by_task: Mapping[str, Sequence[Row]]) -> list[tuple[str, list[Verdict]]]:
    """Each claim with its verdict on every task, in CLAIMS order (the page's and the summary's)."""
    return [(claim, [VERDICTS[i](t, rows) for t, rows in by_task.items()]) for i, claim in enumerate(CLAIMS)]


def summary(runs: Sequence[Run], methods: Sequence[Mapping[str, Any]], render_command: str = "",
            suite: str = SUITE) -> dict[str, Any]:
    """summary.json: the claims' verdicts as the page shows them, the figures (the grids first),
    what was measured."""
    by_task = build(runs, methods)
    scale = [f"{t} network: {recipe(select(runs, task=t))}" for t in by_task]
    figures = (["lr-grid.png"] if by_task else []) + [f"curves-{_slug(t)}.png" for t in by_task]
    return sm.document(title=TITLE, claim=CLAIM, claims=[sm.claim_entry(c, v) for c, v in claim_verdicts(by_task)],
                       figures=figures, measured=sm.run_measures(runs, suite, scale), command=render_command,
                       data_commands=commands(runs))


def page(runs: Sequence[Run], methods: Sequence[Mapping[str, Any]], render_command: str = "",
         suite: str = SUITE) -> tuple[str, dict[str, Callable[[Path], Path]]]:
    """The README's text and its figures (file name -> a function drawing it at a path)."""
    by_task = build(runs, methods)
    names = list(by_task)
    out = [f"# {TITLE}", "",
           "Five optimizers, each at its usual learning rate and at the best rate of a small grid, on the "
           "data below. The best rate is chosen on the **valid** score (mean over seeds), never on test; the "
           "test score is then read at that rate. Every verdict below is computed from the numbers in "
           "the tables.", "", "Data and networks:", ""]
    out += data_section(runs, names)
    for t in names:
        out.append(f"- {t} network: {recipe(select(runs, task=t))}")
    out += ["", "The first rate of each row's grid in the suite file is the optimizer's usual rate; the "
            "optimizer, its rate, momentum and weight decay are all that change between rows. A run whose "
            "loss became NaN or infinite is shown as diverged and its rate cannot be chosen.", "", "## Claims", ""]
    for i, (claim, verdicts) in enumerate(claim_verdicts(by_task)):
        out += claim_block(i + 1, claim, verdicts)
    figures = {}
    for t in names:
        rows = by_task[t]
        tr = select(runs, task=t)
        m = metric_label(tr)
        out += [f"## {t}", "", f"Test {m} ({direction(tr)}), mean ± std over seeds; fit time in seconds "
                f"(mean over seeds).", ""]
        out += table(rows, m) + [""]
        name = f"curves-{_slug(t)}.png"
        figures[name] = (lambda p, t=t, rows=rows: pp.write_panels(
            [curve_panels(t, rows)], p, f"{t}: each optimizer at its chosen (solid) and usual (dashed) rate, "
                                        f"mean ± std over seeds"))
        out += [f"![{t}: learning curves]({name})", ""]
    if names:
        figures["lr-grid.png"] = lambda p: pp.write_panels(
            [[grid_panel(t, by_task[t], metric_label(select(runs, task=t))) for t in names]], p,
            "valid score per learning rate (circle: usual rate, star: chosen on valid)")
        out += ["## The grids", "", "![valid score per learning rate](lr-grid.png)", ""]
    out += tail(runs, suite, render_command)
    return "\n".join(out), figures


def readme(runs: Sequence[Run], methods: Sequence[Mapping[str, Any]], render_command: str = "",
           suite: str = SUITE) -> str:
    return page(runs, methods, render_command, suite)[0]


def write(runs: Sequence[Run], methods: Sequence[Mapping[str, Any]], out_dir: Path, render_command: str = "",
          suite: str = SUITE) -> list[Path]:
    """OUT/README.md, OUT/curves-<task>.png for every task, OUT/lr-grid.png and OUT/summary.json."""
    text, figures = page(runs, methods, render_command, suite)
    written = write_page(out_dir, text, figures)
    return written + [sm.write_summary(out_dir, summary(runs, methods, render_command, suite))]


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in text)
