"""`bench practice augment`: the page of the practice-augment suite (README.md, PNGs, summary.json).

The suite trains one network under several augmentations, three seeds each. Each row's role
(none, flip, crop, both, + cutout, + mixup, + test-time flip, + other transforms) is read from its
parameters (``augment`` as a bench.nn.augment_policy spec, ``mixup``, ``tta``), never from its label,
and each claim's verdict is computed from the rows' test accuracy (mean over seeds) and from the
per-epoch training error and valid accuracy in the records. Plain Python over records: no torch
(the batch picture, which needs the images, is bench.practice.augment_batch).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from bench.practice import page_plots as pp
from bench.practice import summary as sm
from bench.practice.page_text import Verdict, claim_block, data_section, metric_label, recipe, tail, write_page
from bench.practice.suite_runs import Run, Stats, better, commands, mean_curve, select, tasks, within_noise

SUITE = "practice-augment"
TITLE = "In practice: data augmentation"
CLAIM = ("On small data, augmenting the training images (flips, pad-and-crop, and on top cutout, mixup or "
         "rotate / zoom / lighting) raises test accuracy, and averaging the prediction over the image and "
         "its mirror adds a little more.")
GEOMETRIC = ("rotate", "zoom", "lighting")
# role -> (the claims' name for it, the policy tokens it trains with, mixup on, tta on)
ROLES: dict[str, tuple[str, frozenset[str], bool, bool]] = {
    "none": ("no augmentation", frozenset(), False, False),
    "flip": ("flip", frozenset({"flip"}), False, False),
    "crop": ("pad-and-crop", frozenset({"crop"}), False, False),
    "both": ("crop + flip", frozenset({"crop", "flip"}), False, False),
    "cutout": ("crop + flip + cutout", frozenset({"crop", "flip", "cutout"}), False, False),
    "mixup": ("crop + flip + mixup", frozenset({"crop", "flip"}), True, False),
    "tta": ("crop + flip, test-time flip", frozenset({"crop", "flip"}), False, True),
}
NOISE = "; within the seeds' std"
OTHER = "other"  # crop + flip + any of rotate / zoom / lighting
CLAIMS = (
    "Flip and pad-and-crop each raise test accuracy over no augmentation on small data.",
    "Together (crop + flip) they raise it more than either alone.",
    "Cutout adds on top of crop + flip at this scale.",
    "Mixup adds on top of crop + flip at this scale.",
    "Test-time flip adds a little: the crop + flip networks (same seeds, same training) predict better "
    "from the mean of the image's and its mirror's softmax.",
    "The slide's other transforms (rotate, zoom, lighting) add on top of crop + flip at this scale.",
    "Augmentation fights overfitting: with crop + flip the gap between training error and valid error at "
    "the last epoch is smaller than without augmentation.",
)


def tokens(augment: Any) -> frozenset[str] | None:
    """The policy tokens an ``augment`` parameter trains with (True: crop + flip); None if not a spec."""
    if augment is True:
        return frozenset({"crop", "flip"})
    if augment in (False, None):
        return frozenset()
    if not isinstance(augment, str):
        return None
    names = {t.partition("=")[0].strip().lower() for t in augment.split("+")} - {"", "none"}
    return frozenset(names)


def role(params: Mapping[str, Any]) -> str | None:
    """The row's role from its parameters (None: a configuration the claims do not use)."""
    have = tokens(params.get("augment"))
    if have is None:
        return None
    mixup, tta = bool(float(params.get("mixup") or 0)), bool(params.get("tta"))
    for name, (_, want, m, t) in ROLES.items():
        if have == want and mixup == m and tta == t:
            return name
    if not mixup and not tta and {"crop", "flip"} <= have and have - {"crop", "flip"} and \
            have - {"crop", "flip"} <= set(GEOMETRIC):
        return OTHER
    return None


@dataclass
class Row:
    label: str
    role: str | None
    params: Mapping[str, Any]
    stats: Stats

    @property
    def spec(self) -> str:
        return str(self.params.get("augment"))


def rows_for(runs: Sequence[Run], task: str) -> list[Row]:
    """One row per label of the task, in suite order."""
    mine = select(runs, task=task)
    out = []
    for label in dict.fromkeys(r.label for r in mine):
        group = select(mine, label=label)
        out.append(Row(label, role(group[0].params), group[0].params, Stats(group)))
    return out


def _by_role(rows: Sequence[Row]) -> dict[str, Row]:
    out: dict[str, Row] = {}
    for r in rows:
        if r.role is not None:
            out.setdefault(r.role, r)
    return out


def _cell(row: Row) -> str:
    return f"{row.label} {row.stats.cell()}"


def _compare(task: str, rows: Sequence[Row], base: str, others: Sequence[str]) -> Verdict:
    """Whether every row of ``others`` (roles) beats the ``base`` row's test accuracy, mean over
    seeds; the evidence gives each with mean ± std and the difference."""
    by = _by_role(rows)
    need = [base, *others]
    gone = [ROLES.get(k, ("other transforms",))[0] for k in need if k not in by]
    if gone:
        return Verdict(task, None, f"no row for {', '.join(gone)} in the suite")
    if any(by[k].stats.mean() is None for k in need):
        return Verdict(task, None, "a run is missing, failed or diverged: " +
                       ", ".join(_cell(by[k]) for k in need))
    b = by[base]
    wins = [better(by[k].stats.mean(), b.stats.mean(), False) for k in others]
    deltas = ", ".join(f"{by[k].label} {by[k].stats.cell()} ({by[k].stats.mean() - b.stats.mean():+.4f}"
                       f"{NOISE if within_noise(by[k].stats, b.stats) else ''})" for k in others)
    return Verdict(task, all(wins), f"test accuracy {b.label} {b.stats.cell()}; {deltas}")


def each_alone(task: str, rows: Sequence[Row]) -> Verdict:
    return _compare(task, rows, "none", ["flip", "crop"])


def together(task: str, rows: Sequence[Row]) -> Verdict:
    """crop + flip above the better of flip alone and crop alone."""
    by = _by_role(rows)
    if not {"flip", "crop", "both"} <= set(by):
        return Verdict(task, None, "the suite lacks a flip, a crop or a crop + flip row")
    means = {k: by[k].stats.mean() for k in ("flip", "crop")}
    if any(v is None for v in means.values()):
        return Verdict(task, None, "a run is missing, failed or diverged")
    best = max(means, key=lambda k: means[k])
    return _compare(task, rows, best, ["both"])


def paired_tta(task: str, rows: Sequence[Row]) -> Verdict:
    """Test-time flip vs the same training without it, per seed (same seed: the same network)."""
    v = _compare(task, rows, "both", ["tta"])
    if v.holds is None:
        return v
    by = _by_role(rows)
    plain = {r.seed: r.test for r in by["both"].stats.ok}
    diffs = sorted((r.seed, r.test - plain[r.seed]) for r in by["tta"].stats.ok if r.seed in plain)
    shown = ", ".join(f"seed {s} {d:+.4f}" for s, d in diffs)
    return Verdict(task, v.holds, f"{v.evidence}; per seed (tta - plain): {shown}")


def _last(runs: Sequence[Run], column: str) -> float | None:
    epochs, means, _ = mean_curve(runs, column)
    return means[-1] if epochs else None


def gap(row: Row) -> tuple[float, float, float] | None:
    """(train error, valid error, valid - train) at the last epoch, means over seeds."""
    if not row.stats.complete:
        return None
    train, valid = _last(row.stats.runs, "train_error"), _last(row.stats.runs, "valid_accuracy")
    if train is None or valid is None:
        return None
    return train, 1.0 - valid, 1.0 - valid - train


def overfitting(task: str, rows: Sequence[Row]) -> Verdict:
    by = _by_role(rows)
    if not {"none", "both"} <= set(by):
        return Verdict(task, None, "the suite lacks a no-augmentation or a crop + flip row")
    g0, g1 = gap(by["none"]), gap(by["both"])
    if g0 is None or g1 is None:
        return Verdict(task, None, "a run is missing, failed or has no per-epoch train error / valid accuracy")
    line = (f"last epoch, mean over seeds: none: train error {g0[0]:.4f}, valid error {g0[1]:.4f} (gap "
            f"{g0[2]:.4f}); crop + flip: train error {g1[0]:.4f}, valid error {g1[1]:.4f} (gap {g1[2]:.4f})")
    if g0[2] <= 0:  # no overfitting to fight: the network did not fit its training images better than valid
        return Verdict(task, None, f"{line}: without augmentation the training error is not below the valid error")
    return Verdict(task, g1[2] < g0[2], line)


VERDICTS: tuple[Callable[[str, Sequence[Row]], Verdict], ...] = (
    each_alone, together, lambda t, r: _compare(t, r, "both", ["cutout"]),
    lambda t, r: _compare(t, r, "both", ["mixup"]), paired_tta, lambda t, r: _compare(t, r, "both", [OTHER]),
    overfitting)


def build(runs: Sequence[Run]) -> dict[str, list[Row]]:
    return {t: rows_for(runs, t) for t in tasks(runs)}


def claim_verdicts(by_task: Mapping[str, Sequence[Row]]) -> list[tuple[str, list[Verdict]]]:
    return [(claim, [VERDICTS[i](t, rows) for t, rows in by_task.items()]) for i, claim in enumerate(CLAIMS)]


def table(rows: Sequence[Row], metric: str) -> list[str]:
    base = _by_role(rows).get("none")
    b = base.stats.mean() if base else None
    lines = [f"| configuration | augment | mixup α | test-time flip | test {metric} | vs none | train error, last "
             f"epoch | valid {metric}, last epoch | fit s |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        m, g = r.stats.mean(), gap(r)
        delta = f"{m - b:+.4f}" if m is not None and b is not None and r is not base else ""
        lines.append(f"| {r.label} | `{r.spec}` | {float(r.params.get('mixup') or 0):g} | "
                     f"{'yes' if r.params.get('tta') else 'no'} | {r.stats.cell()} | {delta} | "
                     f"{'n/a' if g is None else format(g[0], '.4f')} | "
                     f"{'n/a' if g is None else format(1 - g[1], '.4f')} | {r.stats.seconds()} |")
    return lines


def curve_panels(task: str, rows: Sequence[Row]) -> list[pp.Panel]:
    """Training error (of the augmented batches, as trained) and valid accuracy per epoch."""
    panels = [pp.Panel(f"{task}: training error (augmented batches)", "epoch", "train error (mean over the epoch)",
                       xint=True),
              pp.Panel(f"{task}: valid accuracy", "epoch", "valid accuracy", xint=True)]
    for i, r in enumerate(rows):
        if r.role == "tta":  # trains exactly the crop + flip networks
            continue
        for panel, col in zip(panels, ("train_error", "valid_accuracy")):
            epochs, means, stds = mean_curve(r.stats.runs, col)
            if epochs:
                panel.lines.append(pp.Line(r.label, epochs, means, stds, {"color": f"C{i % 10}"}))
    return panels


def still_improving(rows: Sequence[Row]) -> str:
    """A sentence naming the rows whose mean valid accuracy was highest at the last epoch (more
    epochs might still raise them), with their last-epoch training error; '' when none."""
    names = []
    for r in rows:
        epochs, means, _ = mean_curve(r.stats.runs, "valid_accuracy")
        g = gap(r)
        if r.role != "tta" and len(epochs) > 1 and means[-1] >= max(means) and g is not None:
            names.append(f"{r.label} (train error {g[0]:.2f})")
    if not names:
        return ""
    return ("Valid accuracy, mean over seeds, was still at its best at the last epoch for: " + ", ".join(names)
            + ". A row with a high training error had not fit its augmented training images yet: more epochs "
              "than this suite's would tell whether its gap to the others closes.")


def summary(runs: Sequence[Run], render_command: str = "", suite: str = SUITE,
            figures: Sequence[str] = ()) -> dict[str, Any]:
    by_task = build(runs)
    scale = [f"{t} network: {recipe(select(runs, task=t))}" for t in by_task]
    return sm.document(title=TITLE, claim=CLAIM, claims=[sm.claim_entry(c, v) for c, v in claim_verdicts(by_task)],
                       figures=list(figures), measured=sm.run_measures(runs, suite, scale), command=render_command,
                       data_commands=commands(runs),
                       notes=[n for n in [still_improving(rows) for rows in by_task.values()] if n] +
                       ["Training error is of the augmented batches in train mode (under mixup: against "
                        "each image's own label); the test-time flip row trains the crop + flip networks "
                        "again and differs only in predict."])


def page(runs: Sequence[Run], render_command: str = "", suite: str = SUITE,
         batch: tuple[str, str] | None = None) -> tuple[str, dict[str, Callable[[Path], Path]]]:
    """The README's text and its curve figures; ``batch`` = (file name, caption) of the batch picture
    drawn elsewhere (bench.practice.augment_batch), or None."""
    by_task = build(runs)
    names = list(by_task)
    out = [f"# {TITLE}", "", "One network, the same recipe and seeds, under different augmentations of its "
           "training images (batched on the device, seeded: `bench.nn.augment_policy`, `bench.nn.mixup`). "
           "Every verdict below is computed from the numbers in the table: a configuration \"adds\" when its "
           "test accuracy, mean over seeds, is higher; \"within the seeds' std\" says the difference is no "
           "larger than the spread over seeds.", "", "Data and network:", ""]
    out += data_section(runs, names)
    out += [f"- {t} network: {recipe(select(runs, task=t))}" for t in names]
    out += ["", "## Claims", ""]
    for i, (claim, verdicts) in enumerate(claim_verdicts(by_task)):
        out += claim_block(i + 1, claim, verdicts)
    figures: dict[str, Callable[[Path], Path]] = {}
    if batch is not None:
        out += ["## What the network saw", "", batch[1], "", f"![one batch under each augmentation]({batch[0]})", ""]
    for t in names:
        tr = select(runs, task=t)
        m = metric_label(tr)
        out += [f"## {t}", "", f"Test {m} (higher is better), mean ± std over seeds; \"vs none\": the difference "
                "of the means; train error and valid accuracy at the last epoch (mean over seeds); fit time in "
                "seconds.", ""]
        out += table(by_task[t], m) + [""]
        note = still_improving(by_task[t])
        out += [note, ""] if note else []
        name = f"curves-{_slug(t)}.png"
        figures[name] = (lambda p, t=t: pp.write_panels(
            [curve_panels(t, by_task[t])], p, f"{t}: training error vs valid accuracy per epoch, mean ± std over "
                                              f"seeds (the test-time flip row trains as crop+flip)"))
        out += [f"![{t}: learning curves]({name})", ""]
    out += tail(runs, suite, render_command)
    return "\n".join(out), figures


def curve_names(runs: Sequence[Run]) -> list[str]:
    return [f"curves-{_slug(t)}.png" for t in tasks(runs)]


def write(runs: Sequence[Run], out_dir: Path, render_command: str = "", suite: str = SUITE,
          batch: tuple[str, str] | None = None) -> list[Path]:
    """OUT/README.md, OUT/curves-<task>.png and OUT/summary.json (the batch picture, when given, is
    drawn by the caller and listed after the curves among the figures)."""
    text, figures = page(runs, render_command, suite, batch)
    written = write_page(out_dir, text, figures)
    names = list(figures) + ([batch[0]] if batch else [])  # the curves first: the index shows that one
    return written + [sm.write_summary(out_dir, summary(runs, render_command, suite, names))]


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in text)


__all__ = ["CLAIM", "CLAIMS", "ROLES", "Row", "SUITE", "TITLE", "build", "claim_verdicts", "gap", "page", "role",
           "rows_for", "still_improving", "summary", "table", "tokens", "write"]
