"""`bench practice lr`: the page of the practice-lr suite (README.md + PNGs).

Three experiments, found in the suite by row label on each task (dataset) that has them:
annealing (``constant``, ``step``, ``cosine``, ``one-cycle``: the same peak rate and epochs),
discriminative rates (``embeddings 1x`` / ``3x`` / ``10x``: the embedding layers' rate over the
body's) and lr-find's suggestion (``lr-find rate`` against ``own rate``). Every table cell is a
mean ± std over seeds, every verdict is computed from those means (and stds), and the schedules'
figure draws the rate per step as ``bench.nn.optim.lr_factors`` computes it for the runs'
settings, with the rate each record logged at the end of every epoch on top.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from bench.practice import page_plots as pp
from bench.practice import summary as sm
from bench.practice.page_text import (Verdict, claim_block, data_section, direction, metric_label, recipe,
                                      tail, write_page)
from bench.practice.suite_runs import Run, Stats, better, commands, fmt_lr, noise_note, select, tasks

SUITE = "practice-lr"
TITLE = "In practice: learning rates"
CLAIM = ("How the learning rate changes during training matters: annealing it (one-cycle best), training "
         "embeddings faster than the body, and lr-find's suggested rate each do at least as well as one "
         "hand-set constant rate.")
SCHEDULES = ("constant", "step", "cosine", "one-cycle")
ANNEALED = ("step", "cosine", "one-cycle")
DISCRIMINATIVE = ("embeddings 1x", "embeddings 3x", "embeddings 10x")
LR_FIND = ("lr-find rate", "own rate")
SCHEDULE_FIELDS = ("step_every", "step_gamma", "warmup_epochs", "pct_start", "div_factor", "final_div",
                   "min_factor")  # lr_factors' keywords a run may set (param or train_options)

CLAIMS = {
    "annealing": "Annealing the learning rate (step, cosine or one-cycle) ends better on test than a constant "
                 "rate with the same peak and the same number of epochs.",
    "one-cycle": "One-cycle is the best of the four schedules at the same budget.",
    "discriminative": "Training the embeddings faster than the rest of the network (3x and 10x the body's "
                      "rate) does better on test than one rate for all.",
    "lr-find": "lr-find's suggested rate trains about as well as the method's own, hand-tuned rate (on "
               "test: better, or worse by at most the larger of the two seed-to-seed standard deviations).",
}
NOT_HERE = ("A CNN fine-tuned with lower rates for its early layers (discriminative rates across depth) needs "
            "a pretrained network: it is measured on the transfer-learning page ([../transfer/README.md]"
            "(../transfer/README.md): `transfer-discriminative`, each earlier stage at the rate of the one above "
            "/ 2.6, against `transfer-finetune`, one rate, at 50 / 100 / 500 images per class).")


@dataclass
class Row:
    label: str
    stats: Stats

    @property
    def runs(self) -> list[Run]:
        return self.stats.runs

    def param(self, key: str) -> Any:
        values = {repr(r.params.get(key)) for r in self.runs}
        return self.runs[0].params.get(key) if len(values) == 1 and self.runs else None


def rows(runs: Sequence[Run], task: str, labels: Sequence[str]) -> list[Row]:
    """The rows of one experiment on one task (labels the suite has there, in ``labels`` order)."""
    return [Row(lb, Stats(select(runs, task=task, label=lb))) for lb in labels if select(runs, task=task, label=lb)]


def _means(group: Sequence[Row]) -> dict[str, float | None]:
    return {r.label: r.stats.mean() for r in group}


def annealing_verdict(task: str, group: Sequence[Row]) -> Verdict:
    m = _means(group)
    if any(m.get(k) is None for k in SCHEDULES):
        return Verdict(task, None, "a schedule lacks complete runs (missing, failed or diverged)")
    lower = group[0].stats.lower_is_better
    st = {r.label: r.stats for r in group}
    wins = {k: better(m[k], m["constant"], lower) for k in ANNEALED}
    shown = ", ".join(f"{k} {m[k]:.4f} ({'better' if wins[k] else 'not better'}"
                      f"{noise_note(st[k], st['constant'])})" for k in ANNEALED)
    return Verdict(task, all(wins.values()), f"test: constant {m['constant']:.4f}; {shown}")


def one_cycle_verdict(task: str, group: Sequence[Row]) -> Verdict:
    m = _means(group)
    if any(m.get(k) is None for k in SCHEDULES):
        return Verdict(task, None, "a schedule lacks complete runs (missing, failed or diverged)")
    lower = group[0].stats.lower_is_better
    ranked = sorted(SCHEDULES, key=lambda k: m[k], reverse=not lower)
    shown = ", ".join(f"{k} {m[k]:.4f}" for k in ranked)
    return Verdict(task, ranked[0] == "one-cycle", f"test, best first: {shown}")


def discriminative_verdict(task: str, group: Sequence[Row]) -> Verdict:
    m = _means(group)
    if any(m.get(k) is None for k in DISCRIMINATIVE):
        return Verdict(task, None, "a multiplier lacks complete runs (missing, failed or diverged)")
    lower = group[0].stats.lower_is_better
    base = DISCRIMINATIVE[0]
    st = {r.label: r.stats for r in group}
    wins = {k: better(m[k], m[base], lower) for k in DISCRIMINATIVE[1:]}
    shown = ", ".join(f"{k} {m[k]:.4f} ({'better' if wins[k] else 'not better'}{noise_note(st[k], st[base])})"
                      for k in DISCRIMINATIVE[1:])
    return Verdict(task, all(wins.values()), f"test: {base} {m[base]:.4f}; {shown}")


def lr_find_verdict(task: str, group: Sequence[Row]) -> Verdict:
    by = {r.label: r for r in group}
    found, own = by.get(LR_FIND[0]), by.get(LR_FIND[1])
    if found is None or own is None or found.stats.mean() is None or own.stats.mean() is None:
        return Verdict(task, None, "a rate lacks complete runs (missing, failed or diverged)")
    f, o = found.stats.mean(), own.stats.mean()
    slack = max(found.stats.std(), own.stats.std())
    lower = found.stats.lower_is_better
    worse_by = (f - o) if lower else (o - f)
    rate = f"lr {fmt_lr(found.param('lr'))} (lr-find) {f:.4f} ± {found.stats.std():.4f}, lr " \
           f"{fmt_lr(own.param('lr'))} (own) {o:.4f} ± {own.stats.std():.4f}"
    how = "better" if worse_by < 0 else f"worse by {worse_by:.4f}, the larger std is {slack:.4f}"
    return Verdict(task, worse_by <= slack, f"test {rate}: {how}")


@dataclass(frozen=True)
class Experiment:
    key: str
    title: str
    labels: tuple[str, ...]
    column: str  # what tells the rows apart, shown in the table
    claims: tuple[tuple[str, Callable[[str, Sequence[Row]], Verdict]], ...]


EXPERIMENTS = (
    Experiment("annealing", "Annealing: constant vs step vs cosine vs one-cycle", SCHEDULES, "schedule",
               (("annealing", annealing_verdict), ("one-cycle", one_cycle_verdict))),
    Experiment("discriminative", "Discriminative learning rates: embeddings vs body", DISCRIMINATIVE, "lr_mult",
               (("discriminative", discriminative_verdict),)),
    Experiment("lr-find", "lr-find's suggestion, trained", LR_FIND, "schedule", (("lr-find", lr_find_verdict),)),
)


def experiments(runs: Sequence[Run]) -> list[tuple[Experiment, dict[str, list[Row]]]]:
    """Each experiment the runs have, with its rows per task (tasks without its labels left out)."""
    out = []
    for exp in EXPERIMENTS:
        groups = {t: rows(runs, t, exp.labels) for t in tasks(runs)}
        groups = {t: g for t, g in groups.items() if g}
        if groups:
            out.append((exp, groups))
    return out


def claim_verdicts(exp: Experiment, groups: Mapping[str, Sequence[Row]]) -> list[tuple[str, list[Verdict]]]:
    return [(CLAIMS[key], [fn(t, g) for t, g in groups.items()]) for key, fn in exp.claims]


def summary(runs: Sequence[Run], methods: Sequence[Mapping[str, Any]] = (), render_command: str = "",
            suite: str = SUITE) -> dict[str, Any]:
    """summary.json: the claims' verdicts as the page shows them, the figures (the schedules'
    learning curves first), what was measured."""
    found = experiments(runs)
    claims = [sm.claim_entry(c, v) for exp, groups in found for c, v in claim_verdicts(exp, groups)]
    scale = [f"{exp.title}, {t}: {recipe([r for row in g for r in row.runs])}" for exp, groups in found
             for t, g in groups.items()]
    figures = [f"curves-{exp.key}.png" for exp, _ in found]
    figures += ["schedules.png"] if any(exp.key == "annealing" for exp, _ in found) else []
    return sm.document(title=TITLE, claim=CLAIM, claims=claims, figures=figures,
                       measured=sm.run_measures(runs, suite, scale), command=render_command,
                       data_commands=commands(runs), notes=[NOT_HERE])


def table(group: Sequence[Row], column: str, metric: str) -> list[str]:
    lines = [f"| row | {column} | peak lr | test {metric} | valid {metric} | fit s |", "|---|---|---|---|---|---|"]
    for r in group:
        valid = r.stats.problem() or f"{r.stats.mean('valid'):.4f} ± {r.stats.std('valid'):.4f}"
        lines.append(f"| {r.label} | {_show(r.param(column))} | {fmt_lr(r.param('lr'))} | {r.stats.cell()} | "
                     f"{valid} | {r.stats.seconds()} |")
    return lines


def _show(value: Any) -> str:
    if isinstance(value, Mapping):
        return ", ".join(f"{k} {v:g}" if isinstance(v, (int, float)) else f"{k} {v}" for k, v in value.items())
    return "n/a" if value is None else str(value)


def schedule_kwargs(run: Run) -> dict[str, Any]:
    """lr_factors' keywords as the run set them: its parameters, then its ``train_options``."""
    opts = dict(run.params.get("train_options") or {})
    return {k: opts.get(k, run.params.get(k)) for k in SCHEDULE_FIELDS if k in opts or k in run.params}


def schedule_line(row: Row) -> pp.Line | None:
    """The rate per optimizer step of one schedule row (lr_factors × the peak lr), and the rate its
    first recorded run logged at the end of each epoch as marks."""
    from bench.nn.optim import lr_factors

    run = next((r for r in row.runs if r.record is not None), None)
    if run is None or run.params.get("schedule") not in ("constant", "step", "cosine", "onecycle"):
        return None
    n = int(run.record.split.get("sizes", {}).get("train") or 0)
    bs = min(int(run.params.get("batch_size", 1)), n) if n else 0
    if not bs or run.lr is None:
        return None
    spe = n // bs  # the training loop drops the last partial batch
    f = lr_factors(str(run.params["schedule"]), int(run.params["epochs"]), spe, **schedule_kwargs(run))
    logged = [(e["epoch"] * spe, float(e["lr"]), "o") for e in run.epochs() if isinstance(e.get("lr"), (int, float))]
    return pp.Line(f"{row.label} ({run.params['schedule']})", range(1, len(f) + 1), [run.lr * x for x in f],
                   marks=logged)


def schedule_panel(task: str, group: Sequence[Row]) -> pp.Panel:
    panel = pp.Panel(f"{task}: learning rate per step", "optimizer step", "learning rate (body, log)", ylog=True)
    panel.lines = [line for line in (schedule_line(r) for r in group) if line is not None]
    for i, line in enumerate(panel.lines):  # schedules that coincide stay visible
        line.style.update(ls=("-", "--", "-.", ":")[i % 4], lw=2.4 - 0.4 * (i % 4))
    panel.note = "lines: lr_factors for the runs' settings; circles: the rate a record logged after each epoch"
    return panel


def page(runs: Sequence[Run], methods: Sequence[Mapping[str, Any]] = (), render_command: str = "",
         suite: str = SUITE) -> tuple[str, dict[str, Callable[[Path], Path]]]:
    """The README's text and its figures (file name -> a function drawing it at a path)."""
    names = tasks(runs)
    out = [f"# {TITLE}", "",
           "Learning-rate schedules at the same budget, discriminative rates and lr-find's suggestion, "
           "trained on the data below. Every verdict below is computed from the numbers in the tables (test "
           "scores, mean over seeds).", "", "Data:", ""]
    out += data_section(runs, names) + ["", NOT_HERE, ""]
    figures: dict[str, Callable[[Path], Path]] = {}
    claim_no = 0
    for exp, groups in experiments(runs):
        out += [f"## {exp.title}", ""]
        for t, group in groups.items():
            out.append(f"- {t}: {recipe([r for row in group for r in row.runs])}")
        out.append("")
        for claim, verdicts in claim_verdicts(exp, groups):
            claim_no += 1
            out += claim_block(claim_no, claim, verdicts)
        for t, group in groups.items():
            tr = [r for row in group for r in row.runs]
            m = metric_label(tr)
            out += [f"**{t}**: {m} ({direction(tr)}), mean ± std over seeds; fit time in seconds.", ""]
            out += table(group, exp.column, m) + [""]
        name = f"curves-{exp.key}.png"
        figures[name] = (lambda p, groups=groups, exp=exp: pp.write_panels(
            [pp.learning_panels(t, [(r.label, r.runs, {}) for r in g]) for t, g in groups.items()], p,
            f"{exp.title}: mean ± std over seeds"))
        out += [f"![{exp.title}: learning curves]({name})", ""]
        if exp.key == "annealing":
            figures["schedules.png"] = (lambda p, groups=groups: pp.write_panels(
                [[schedule_panel(t, g) for t, g in groups.items()]], p, "the schedules: learning rate per step"))
            out += ["![the schedules: learning rate per step](schedules.png)", ""]
    out += tail(runs, suite, render_command)
    return "\n".join(out), figures


def readme(runs: Sequence[Run], methods: Sequence[Mapping[str, Any]] = (), render_command: str = "",
           suite: str = SUITE) -> str:
    return page(runs, methods, render_command, suite)[0]


def write(runs: Sequence[Run], methods: Sequence[Mapping[str, Any]], out_dir: Path, render_command: str = "",
          suite: str = SUITE) -> list[Path]:
    """OUT/README.md, OUT/schedules.png, OUT/curves-<experiment>.png and OUT/summary.json."""
    text, figures = page(runs, methods, render_command, suite)
    written = write_page(out_dir, text, figures)
    return written + [sm.write_summary(out_dir, summary(runs, methods, render_command, suite))]
