"""`bench practice overfit`: the page of the practice-overfit suite (README.md + PNGs + summary.json).

The suite trains one network per task (the entity-embedding net on a few thousand Rossmann rows,
a small resnet-20 on a CIFAR-10 subset) in six configurations (bench.practice.overfit.CONFIGS),
three seeds each. Per task the page shows train vs valid per epoch for every configuration (the
gap), a table (test score mean ± std over seeds, the valid score of the tested weights, the best
valid epoch, the valid score lost after it, the train - valid gap, the parameter count next to
the training-set size, fit time) and each claim's verdict computed from those numbers.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from bench.practice import page_plots as pp
from bench.practice import summary as sm
from bench.practice.overfit import CLAIMS, NAMES, Config, configs_for, gap_kind
from bench.practice.overfit_plots import write_gap_figure
from bench.practice.page_text import (Verdict, claim_block, data_section, direction, metric_label, recipe, tail,
                                      write_page)
from bench.practice.suite_runs import Run, commands, select, tasks

SUITE = "practice-overfit"
TITLE = "In practice: overfitting"
CLAIM = ("A network with far more parameters than training examples overfits; the standard cures, weight decay "
         "(L2) and dropout, narrow the gap between train and valid and improve the test score; early stopping "
         "keeps the best epoch; under Adam, L2 in the loss and decoupled weight decay are not the same thing.")
SHOWN = ("optimizer", "weight_decay", "dropout", "emb_dropout", "patience", "restore_best")


def build(runs: Sequence[Run]) -> dict[str, dict[str, Config]]:
    """Each task's configurations."""
    return {t: configs_for(runs, t) for t in tasks(runs)}


def claim_verdicts(by_task: Mapping[str, Mapping[str, Config]]) -> list[tuple[str, list[Verdict]]]:
    """Each claim with its verdict on every task, in CLAIMS order (the page's and the summary's)."""
    return [(claim, [judge(t, configs) for t, configs in by_task.items()]) for claim, judge in CLAIMS]


def changes(config: Config) -> str:
    """The training settings that tell the configurations apart, as the records hold them."""
    parts = []
    for key in SHOWN:
        value = config.param(key)
        if key == "patience" and value is None:
            continue
        if key == "restore_best":
            parts.append("best weights restored" if value else "last weights kept")
        elif value is not None:
            parts.append(f"{key} {value}")
    return ", ".join(parts) or "n/a"


def _cell(config: Config, what: str, digits: int = 4) -> str:
    problem = config.stats.problem()
    if problem:
        return problem
    m, s = config.mean(what), config.std(what)
    return "n/a" if m is None else f"{m:.{digits}f} ± {s:.{digits}f}"


def size_cell(config: Config) -> str:
    """'68,050 / 2,000 (34 per example)': the network's weights next to the training-set size."""
    n, rows = config.n_parameters(), config.train_size()
    if n is None:
        return "not recorded by the plugin" + (f" / {rows:,}" if rows else "")
    return f"{n:,} / {rows:,} ({n / rows:.0f} per example)" if rows else f"{n:,} / ?"


def table(configs: Mapping[str, Config], metric: str, kind: str) -> list[str]:
    gap_head = "train - valid gap (tested weights)" if kind == "gap" else "train - valid gap"
    lines = [f"| configuration | settings | test {metric} | valid {metric} (tested weights) | best valid epoch | "
             f"epochs run | valid lost after the best epoch | {gap_head} | parameters / training examples | fit s |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for c in configs.values():
        gap = _cell(c, "gap") if kind == "gap" else "n/a (no train score in valid's units)"
        lines.append(f"| {c.label} | {changes(c)} | {c.stats.cell()} | {_cell(c, 'tested_valid')} | "
                     f"{_cell(c, 'best_epoch', 1)} | {_cell(c, 'epochs_run', 1)} | {_cell(c, 'lost')} | {gap} | "
                     f"{size_cell(c)} | {c.stats.seconds()} |")
    return lines


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in text)


def figure_names(by_task: Mapping[str, Any]) -> list[str]:
    """The gap figures first (the page's picture), then the overlaid curves."""
    return [f"gap-{_slug(t)}.png" for t in by_task] + [f"curves-{_slug(t)}.png" for t in by_task]


def _measured_notes(kinds: Mapping[str, str]) -> list[str]:
    out = ["- **Test score**: the headline metric of the weights each run tested: the last epoch's, or the best "
           "valid epoch's where the configuration restores the best weights (early stopping).",
           "- **Best valid epoch**: the first epoch with the best valid score of its run; **valid lost after the "
           "best epoch**: how much worse the last trained epoch's valid score is than that best (0: the best is "
           "the last).",
           "- **Train - valid gap**: the training score minus the valid score of the tested weights, in the same "
           "units, where the run's history holds a training score in the valid metric's units (the cnn plugin "
           "logs the training error of each epoch's batches, in train mode: with dropout on, so dropout's "
           "training score is lower than its weights' and its gap reads narrower than it is)."]
    for task, kind in kinds.items():
        if kind != "gap":
            out.append(f"- **{task}**: the history holds the training loss (the plugin's loss on its scaled "
                       f"target) and the valid metric, not a training score in the valid metric's units; the "
                       f"gap is shown as the two curves on their own axes, and claim 2 judges the valid score "
                       f"lost after the best epoch instead.")
    out += ["- **Parameters**: the weights of the network as the plugin records them (`info.n_parameters`); "
            "**training examples**: the split's train size.",
            "- Weight decay applies to weight matrices and convolution kernels, not to biases or batchnorm "
            "(bench.nn.optim.param_groups). Under `adam` it is added to the gradient (`wd * w`, L2 in the loss, "
            "then scaled by Adam's per-weight step size); under `adamw` the weights shrink by `lr * wd * w` each "
            "step, outside Adam's scaling (Loshchilov & Hutter 2019)."]
    return out


def _did_not_hold(verdicts: Sequence[tuple[str, Sequence[Verdict]]]) -> list[str]:
    out = [f"- Claim {i + 1} on **{v.task}**: {v.evidence}" for i, (_, vs) in enumerate(verdicts) for v in vs
           if v.holds is False]
    return out or ["- Nowhere at this scale: every claim held on every task judged."]


def page(runs: Sequence[Run], methods: Sequence[Mapping[str, Any]] = (), render_command: str = "",
         suite: str = SUITE) -> tuple[str, dict[str, Callable[[Path], Path]]]:
    """The README's text and its figures (file name -> a function drawing it at a path)."""
    by_task = build(runs)
    verdicts = claim_verdicts(by_task)
    kinds = {t: gap_kind(c) for t, c in by_task.items()}
    out = [f"# {TITLE}", "", "The deck: *huge numbers of parameters; standard cures: weight decay (L2), dropout.* "
           "Here one network per task, with far more weights than training examples, is trained in six "
           "configurations that differ only in the settings shown, each over the seeds below: " +
           "; ".join(f"`{k}` = {v}" for k, v in NAMES.items()) + ". Every verdict below is computed from the "
           "numbers in the tables; valid scores choose nothing here except, for early stopping, the epoch whose "
           "weights are kept.", "", "Data and networks:", ""]
    out += data_section(runs, list(by_task))
    for t in by_task:
        out.append(f"- {t} network: {recipe(select(runs, task=t))}")
    out += ["", "## Claims", ""]
    for i, (claim, vs) in enumerate(verdicts):
        out += claim_block(i + 1, claim, vs)
    figures: dict[str, Callable[[Path], Path]] = {}
    for t, configs in by_task.items():
        tr = select(runs, task=t)
        m = metric_label(tr)
        metric = tr[0].metric if tr else "metric"
        gap, curves = f"gap-{_slug(t)}.png", f"curves-{_slug(t)}.png"
        out += [f"## {t}", "", f"Test {m} ({direction(tr)}), mean ± std over seeds; every other column is a mean "
                f"± std over seeds too; fit time in seconds (mean over seeds).", ""]
        out += table(configs, m, kinds[t]) + ["", f"![{t}: train vs valid per configuration]({gap})", "",
                                              f"![{t}: every configuration's curves]({curves})", ""]
        figures[gap] = (lambda p, t=t, c=configs, metric=metric: write_gap_figure(t, c, p, metric, kinds[t] == "gap"))
        series = [(label, c.runs, {}) for label, c in configs.items()]
        figures[curves] = (lambda p, t=t, series=series: pp.write_panels(
            [pp.learning_panels(t, series)], p, f"{t}: every configuration, mean ± std over seeds"))
    out += ["## What was measured", ""] + _measured_notes(kinds) + ["", "## Where it did not hold", ""]
    out += _did_not_hold(verdicts) + [""]
    out += tail(runs, suite, render_command)
    return "\n".join(out), figures


def readme(runs: Sequence[Run], methods: Sequence[Mapping[str, Any]] = (), render_command: str = "",
           suite: str = SUITE) -> str:
    return page(runs, methods, render_command, suite)[0]


def summary(runs: Sequence[Run], render_command: str = "", suite: str = SUITE) -> dict[str, Any]:
    """summary.json: the claims' verdicts as the page shows them, the figures (gap figures first)."""
    by_task = build(runs)
    scale = [f"{t} network: {recipe(select(runs, task=t))}; parameters / training examples: "
             f"{size_cell(next(iter(c.values())))}" for t, c in by_task.items() if c]
    return sm.document(title=TITLE, claim=CLAIM,
                       claims=[sm.claim_entry(c, v) for c, v in claim_verdicts(by_task)],
                       figures=figure_names(by_task), measured=sm.run_measures(runs, suite, scale),
                       command=render_command, data_commands=commands(runs))


def write(runs: Sequence[Run], methods: Sequence[Mapping[str, Any]], out_dir: Path, render_command: str = "",
          suite: str = SUITE) -> list[Path]:
    """OUT/README.md, OUT/gap-<task>.png and OUT/curves-<task>.png for every task, OUT/summary.json."""
    text, figures = page(runs, methods, render_command, suite)
    written = write_page(out_dir, text, figures)
    return written + [sm.write_summary(out_dir, summary(runs, render_command, suite))]
