"""`bench practice transfer`: the page of the practice-transfer suite (README.md + PNGs + summary.json).

The suite runs the ``cnn-transfer`` modes (from scratch, frozen body + new head, fine-tune all,
fine-tune with discriminative rates) at a few numbers of images per class (the method's ``shots``)
and seeds, all on one task (cifar10's transfer split), all starting from one pretrained network
(a shared fit, trained once). Here: test accuracy per mode and size (mean ± std over seeds), what the
pretrained network scored on its own source classes, the plot of accuracy against images per class,
and each claim's verdict computed from those numbers.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from bench.practice import page_plots as pp
from bench.practice import summary as sm
from bench.practice.page_text import Verdict, claim_block, data_section, tail, write_page
from bench.practice.suite_runs import Run, Stats, commands, noise_note, tasks
from bench.results.practice_summary import measured_lines

SUITE = "practice-transfer"
TITLE = "In practice: transfer learning"
CLAIM = ("A network pretrained on other classes learns a new task from few images far better than one trained "
         "from scratch; the advantage shrinks as the images grow.")
MODES = ("scratch", "frozen", "finetune", "discriminative")  # the cnn-transfer modes, table order
NAMES = {"scratch": "from scratch", "frozen": "frozen body + new head", "finetune": "fine-tune all (one rate)",
         "discriminative": "fine-tune, discriminative rates"}
CLAIMS = (
    "With the fewest images per class, fine-tuning the pretrained network beats training the same network "
    "from scratch.",
    "The gap between fine-tuning and training from scratch shrinks as the images per class grow.",
    "Fine-tuning with discriminative rates (earlier layers lower) does at least as well as one rate for all layers.",
    "A frozen body with a new head is competitive with fine-tuning at the smallest size (within the seeds' "
    "spread of it, or better).",
)
FIGURE = "accuracy-vs-images.png"
PRETRAIN_FIGURE = "pretraining.png"


@dataclass
class Grid:
    """One task's runs: Stats per (mode, images per class), and what the pretrained net scored."""

    task: str
    sizes: list[int]
    cells: dict[str, dict[int, Stats]] = field(default_factory=dict)
    pretrained: dict[str, Any] = field(default_factory=dict)
    builders: int = 0  # records whose run trained the pretrained net (1: built once, reused by the others)
    users: int = 0  # records that started from it
    distinct: int = 0  # distinct pretrained scores among those records (1: one network)
    n_classes: int | None = None  # of the new task, as the records say

    def stats(self, mode: str, size: int) -> Stats:
        return self.cells.get(mode, {}).get(size, Stats([]))

    def mean(self, mode: str, size: int) -> float | None:
        return self.stats(mode, size).mean()


def _mode(r: Run) -> str:
    return str(r.params.get("mode") or r.label)


def _shots(r: Run) -> int | None:
    v = r.params.get("shots")
    return int(v) if isinstance(v, int) and not isinstance(v, bool) else None


def _pretrained_info(r: Run) -> dict[str, Any] | None:
    info = (r.record.info or {}).get("transfer", {}) if r.record is not None else {}
    return info.get("pretrained") if isinstance(info.get("pretrained"), dict) else None


def grid_for(runs: Sequence[Run], task: str) -> Grid:
    mine = [r for r in runs if r.task == task and _shots(r) is not None]
    g = Grid(task, sorted({_shots(r) for r in mine}))
    for r in mine:
        g.cells.setdefault(_mode(r), {}).setdefault(_shots(r), Stats([])).runs.append(r)
    targets = [(r.record.info or {}).get("transfer", {}).get("target_classes") for r in mine if r.record is not None]
    g.n_classes = next((len(t) for t in targets if isinstance(t, list) and t), None)
    infos = [i for i in map(_pretrained_info, mine) if i]
    g.users, g.builders = len(infos), sum(bool(i.get("built_in_this_run")) for i in infos)
    g.distinct = len({repr(i.get("valid_accuracy")) for i in infos})
    g.pretrained = next((i for i in infos if i.get("built_in_this_run")), infos[0] if infos else {})
    return g


def _fmt(x: Any) -> str:
    return f"{x:.4f}" if isinstance(x, (int, float)) and not isinstance(x, bool) else "n/a"


def build(runs: Sequence[Run]) -> dict[str, Grid]:
    return {t: grid_for(runs, t) for t in tasks(runs)}


def _paired(g: Grid, a: str, b: str, size: int) -> tuple[int, int]:
    """On how many seeds ``a`` beat ``b`` at ``size`` (the same images per seed), of those both ran."""
    va = {r.seed: r.test for r in g.stats(a, size).ok}
    vb = {r.seed: r.test for r in g.stats(b, size).ok}
    both = [s for s in va if s in vb]
    return sum(va[s] > vb[s] for s in both), len(both)


def _cell(g: Grid, mode: str, size: int) -> str:
    return g.stats(mode, size).cell() if g.stats(mode, size).runs else "not in the suite"


def _need(g: Grid, size: int, *modes: str) -> Verdict | None:
    missing = [m for m in modes if g.mean(m, size) is None]
    if missing:
        return Verdict(g.task, None, f"at {size} images per class {', '.join(NAMES.get(m, m) for m in missing)}: "
                                     + "; ".join(_cell(g, m, size) for m in missing))
    return None


def pretraining_verdict(g: Grid) -> Verdict:
    """Claim 1: fine-tune beats scratch at the smallest size."""
    if not g.sizes:
        return Verdict(g.task, None, "no run recorded yet")
    n = g.sizes[0]
    if (v := _need(g, n, "finetune", "scratch")) is not None:
        return v
    f, s = g.mean("finetune", n), g.mean("scratch", n)
    won, of = _paired(g, "finetune", "scratch", n)
    note = noise_note(g.stats("finetune", n), g.stats("scratch", n))
    return Verdict(g.task, f > s, f"at {n} images per class: fine-tuned {_cell(g, 'finetune', n)}, from scratch "
                                  f"{_cell(g, 'scratch', n)} ({f - s:+.4f}; fine-tuning better on {won} of {of} seeds, "
                                  f"the same images per seed){note}")


def gap_verdict(g: Grid) -> Verdict:
    """Claim 2: the fine-tune - scratch gap at the largest size below the one at the smallest."""
    if len(g.sizes) < 2:
        return Verdict(g.task, None, "fewer than two sizes in the suite")
    gaps = {n: (g.mean("finetune", n) - g.mean("scratch", n)) for n in g.sizes
            if g.mean("finetune", n) is not None and g.mean("scratch", n) is not None}
    if g.sizes[0] not in gaps or g.sizes[-1] not in gaps:
        return Verdict(g.task, None, "fine-tune or scratch lacks complete runs at the smallest or largest size")
    shown = ", ".join(f"{n}: {d:+.4f}" for n, d in gaps.items())
    steps = list(zip(gaps.values(), list(gaps.values())[1:]))
    trend = ("" if all(x >= y for x, y in steps) else " (growing at every step)" if all(x < y for x, y in steps)
             else " (not shrinking at every step)")
    return Verdict(g.task, gaps[g.sizes[-1]] < gaps[g.sizes[0]],
                   f"fine-tuned minus from scratch, by images per class: {shown}{trend}")


def discriminative_verdicts(g: Grid) -> list[Verdict]:
    """Claim 3, per size: discriminative mean >= fine-tune-all mean."""
    out = []
    for n in g.sizes:
        task = f"{g.task}, {n} images per class"
        if (v := _need(g, n, "discriminative", "finetune")) is not None:
            out.append(Verdict(task, None, v.evidence))
            continue
        d, f = g.mean("discriminative", n), g.mean("finetune", n)
        note = noise_note(g.stats("discriminative", n), g.stats("finetune", n))
        out.append(Verdict(task, d >= f, f"discriminative {_cell(g, 'discriminative', n)}, one rate "
                                         f"{_cell(g, 'finetune', n)} ({d - f:+.4f}){note}"))
    return out or [Verdict(g.task, None, "no run recorded yet")]


def frozen_verdict(g: Grid) -> Verdict:
    """Claim 4: frozen at the smallest size no worse than fine-tune beyond the seeds' spread."""
    if not g.sizes:
        return Verdict(g.task, None, "no run recorded yet")
    n = g.sizes[0]
    if (v := _need(g, n, "frozen", "finetune")) is not None:
        return v
    fr, ft = g.stats("frozen", n), g.stats("finetune", n)
    spread = max(fr.std() or 0.0, ft.std() or 0.0)
    diff = fr.mean() - ft.mean()
    return Verdict(g.task, diff >= -spread, f"at {n} images per class: frozen {fr.cell()}, fine-tuned {ft.cell()} "
                                            f"({diff:+.4f}; the larger std over seeds is {spread:.4f})")


def claim_verdicts(grids: Mapping[str, Grid]) -> list[tuple[str, list[Verdict]]]:
    gs = list(grids.values())
    return [(CLAIMS[0], [pretraining_verdict(g) for g in gs]), (CLAIMS[1], [gap_verdict(g) for g in gs]),
            (CLAIMS[2], [v for g in gs for v in discriminative_verdicts(g)]),
            (CLAIMS[3], [frozen_verdict(g) for g in gs])]


def table(g: Grid) -> list[str]:
    head = " | ".join(f"{n} images per class" for n in g.sizes)
    lines = [f"| mode | {head} | fit s (median) |", "|---|" + "---|" * (len(g.sizes) + 1)]
    for mode in [m for m in MODES if m in g.cells] + [m for m in g.cells if m not in MODES]:
        cells = " | ".join(_cell(g, mode, n) for n in g.sizes)
        fits = [r.fit_seconds for n in g.sizes for r in g.stats(mode, n).ok if r.fit_seconds is not None]
        lines.append(f"| {NAMES.get(mode, mode)} | {cells} | {f'{statistics.median(fits):.1f}' if fits else 'n/a'} |")
    return lines


def training_line(g: Grid) -> str:
    """How long each size trained (epochs and optimizer steps, as the records say): the same for
    every mode, so more images per class also means more steps."""
    parts = []
    for n in g.sizes:
        seen = set()
        for stats in (g.stats(m, n) for m in g.cells):
            for r in stats.ok:
                info = r.record.info if r.record is not None else {}
                epochs, bs = info.get("epochs_run"), r.params.get("batch_size")
                images = info.get("transfer", {}).get("images")
                if isinstance(epochs, int) and isinstance(images, int) and isinstance(bs, int) and bs > 0:
                    seen.add((epochs, epochs * (images // min(bs, images))))
        parts.append(f"{n} images per class: " + (", ".join(f"{e} epochs ({k} steps)" for e, k in sorted(seen))
                                                   or "n/a"))
    return "Training per run (the same for every mode): " + "; ".join(parts) + "."


def pretrained_lines(g: Grid) -> list[str]:
    """What the pretrained network is and scored, and that one network served every run."""
    p = g.pretrained
    if not p:
        return ["- no record says what the pretrained network scored (no transfer run recorded yet)"]
    acc = p.get("valid_accuracy")
    classes = p.get("classes") or []
    params = p.get("params") or {}
    out = [f"- `{p.get('variant')}` ({', '.join(f'{k} {v}' for k, v in params.items())}), seed {p.get('seed')}, "
           f"trained on {p.get('n_train')} images of the {len(classes)} source classes ({p.get('epochs_run')} epochs, "
           f"{p.get('train_seconds')} s, stopped: {p.get('stop_reason')})",
           f"- its own valid accuracy on the {len(classes)} source classes ({p.get('n_valid')} held-out train images "
           f"of them): **{_fmt(acc)}** (chance {1 / max(1, len(classes)):.3f})",
           f"- trained in {g.builders} of the {g.users} recorded runs that start from it and reused by the others "
           f"({g.distinct} distinct pretrained score{'s' if g.distinct != 1 else ''} among their records)"]
    return out


def accuracy_panel(g: Grid, metric: str = "test accuracy") -> pp.Panel:
    panel = pp.Panel(f"{g.task}: new classes from few images", "images per class (log)",
                     f"{metric} (mean ± std over seeds)", xlog=True)
    for i, mode in enumerate(m for m in MODES if m in g.cells):
        pts = [(n, g.stats(mode, n).mean(), g.stats(mode, n).std()) for n in g.sizes if g.mean(mode, n) is not None]
        if pts:
            panel.lines.append(pp.Line(NAMES[mode], [p[0] for p in pts], [p[1] for p in pts], [p[2] for p in pts],
                                       {"marker": "o", "color": f"C{i}"}))
    missing = [f"{NAMES.get(m, m)} {n}" for m in g.cells for n in g.sizes if g.mean(m, n) is None]
    if missing:
        panel.note = "no complete runs: " + ", ".join(missing)
    return panel


def draw_accuracy(panels: Sequence[pp.Panel], path: Path, sizes: Sequence[Sequence[int]],
                  n_classes: Sequence[int | None]) -> Path:
    """The main plot: per task, accuracy against images per class (log axis ticked at the suite's
    sizes), a line and a ± std band per mode, chance as a dotted line."""
    from matplotlib.ticker import FixedLocator, NullLocator

    plt = pp.pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(6.4 * len(panels), 4.4), squeeze=False)
    for ax, panel, ticks, k in zip(axes[0], panels, sizes, n_classes):
        for line in panel.lines:
            ax.plot(line.x, line.y, label=line.name, lw=1.8, **line.style)
            lo = [y - e for y, e in zip(line.y, line.err)]
            hi = [y + e for y, e in zip(line.y, line.err)]
            ax.fill_between(line.x, lo, hi, color=line.style.get("color"), alpha=0.15, lw=0)
        if k:
            ax.axhline(1 / k, color="0.5", ls=":", lw=1, label=f"chance ({k} classes)")
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(FixedLocator(list(ticks)))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xticklabels([str(n) for n in ticks])
        ax.set(title=panel.title, xlabel=panel.xlabel, ylabel=panel.ylabel)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
        if panel.note:
            ax.text(0.01, 0.99, panel.note, transform=ax.transAxes, fontsize=7, va="top", color="0.3")
    fig.suptitle("accuracy against images per class, one line per mode (mean ± std over seeds)", fontsize=11)
    fig.tight_layout()
    return pp.save_png(fig, path)


def pretrain_panel(g: Grid) -> pp.Panel:
    rows = [r for r in g.pretrained.get("history", []) if "note" not in r and "valid_accuracy" in r]
    panel = pp.Panel(f"{g.task}: the pretrained network on its source classes", "epoch", "accuracy", xint=True)
    if rows:
        epochs = [r["epoch"] for r in rows]
        panel.lines.append(pp.Line("valid accuracy", epochs, [r["valid_accuracy"] for r in rows]))
        if all("train_error" in r for r in rows):
            panel.lines.append(pp.Line("train accuracy (augmented batches)", epochs,
                                       [1 - r["train_error"] for r in rows], style={"ls": "--"}))
    else:
        panel.note = "no pretraining history recorded"
    return panel


def recipe_lines(runs: Sequence[Run]) -> list[str]:
    """Each mode's fine-tuning settings, as its runs' parameters say."""
    out = []
    for mode in MODES:
        mine = [r for r in runs if _mode(r) == mode]
        if not mine:
            continue
        p = mine[0].params
        keys = ("optimizer", "lr", "schedule", "batch_size", "epochs", "min_steps", "weight_decay", "augment")
        extra = f", lr_decay {p.get('lr_decay')} per stage" if mode == "discriminative" else ""
        out.append(f"- {NAMES[mode]}: `{mine[0].variant}` (" + ", ".join(f"{k} {p.get(k)}" for k in keys) + extra + ")")
    return out


def page(runs: Sequence[Run], methods: Sequence[Mapping[str, Any]] = (), render_command: str = "",
         suite: str = SUITE) -> tuple[str, dict[str, Callable[[Path], Path]]]:
    grids = build(runs)
    names = list(grids)
    out = [f"# {TITLE}", "",
           "The deck's beehive example: a new task with few images. A CIFAR ResNet is pretrained once on 7 of "
           "CIFAR-10's classes; the other 3 classes are the new task, learned from 50, 100 or 500 images per class "
           "(drawn per seed from their train images, the same images for every mode) by the same network trained "
           "from scratch, by the pretrained body frozen under a new linear head, by fine-tuning all of it at one "
           "rate, and by fine-tuning with discriminative rates (each earlier stage at a lower rate). Test accuracy "
           "is on the 3 classes' official test images. Every verdict below is computed from the numbers in the "
           "table.", "", "Data:", ""]
    out += data_section(runs, names) + [""]
    out += ["Fine-tuning (every mode trains at least `epochs` epochs and at least `min_steps` steps):", ""]
    out += recipe_lines(runs) + ["", "## Claims", ""]
    for i, (claim, verdicts) in enumerate(claim_verdicts(grids)):
        out += claim_block(i + 1, claim, verdicts)
    figures: dict[str, Callable[[Path], Path]] = {}
    for t, g in grids.items():
        out += [f"## {t}", "", "The pretrained network:", ""] + pretrained_lines(g) + [""]
        out += ["Test accuracy on the new classes (higher is better), mean ± std over seeds:", ""] + table(g) + [""]
        out += [training_line(g), "The fit time of the runs that trained, or waited for, the shared pretrained "
                "network includes that (hence the median).", ""]
    if names:
        figures[FIGURE] = lambda p: draw_accuracy([accuracy_panel(grids[t]) for t in names], p,
                                                  [grids[t].sizes for t in names], [grids[t].n_classes for t in names])
        figures[PRETRAIN_FIGURE] = lambda p: pp.write_panels([[pretrain_panel(grids[t]) for t in names]], p,
                                                             "the pretrained network, per epoch")
        out += ["## The plot", "", f"![accuracy against images per class]({FIGURE})", "",
                f"![the pretrained network per epoch]({PRETRAIN_FIGURE})", ""]
    measured = sm.run_measures(runs, suite, scale_lines(grids, runs))
    out += ["## What was measured", ""] + [f"- {line}" for line in measured_lines(measured)] + [""]
    out += tail(runs, suite, render_command)
    return "\n".join(out), figures


def scale_lines(grids: Mapping[str, Grid], runs: Sequence[Run]) -> list[str]:
    out = [f"{t}: images per class {', '.join(map(str, g.sizes))}; pretrained valid accuracy "
           f"{_fmt(g.pretrained.get('valid_accuracy'))} on {len(g.pretrained.get('classes') or [])} source classes, "
           f"trained in {g.builders} of {g.users} runs" for t, g in grids.items()]
    return out + [line[2:] for line in recipe_lines(runs)]


def summary(runs: Sequence[Run], methods: Sequence[Mapping[str, Any]] = (), render_command: str = "",
            suite: str = SUITE) -> dict[str, Any]:
    grids = build(runs)
    return sm.document(title=TITLE, claim=CLAIM, claims=[sm.claim_entry(c, v) for c, v in claim_verdicts(grids)],
                       figures=[FIGURE, PRETRAIN_FIGURE] if grids else [],
                       measured=sm.run_measures(runs, suite, scale_lines(grids, runs)), command=render_command,
                       data_commands=commands(runs))


def write(runs: Sequence[Run], methods: Sequence[Mapping[str, Any]], out_dir: Path, render_command: str = "",
          suite: str = SUITE) -> list[Path]:
    """OUT/README.md, OUT/accuracy-vs-images.png, OUT/pretraining.png and OUT/summary.json."""
    text, figures = page(runs, methods, render_command, suite)
    written = write_page(out_dir, text, figures)
    return written + [sm.write_summary(out_dir, summary(runs, methods, render_command, suite))]
