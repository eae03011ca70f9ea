"""What every practice page built from a suite says the same way: verdicts, the recipe of a
task's runs, the provenance and command sections, and writing the page with its figures."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from bench.data.paths import write_file
from bench.practice.suite_runs import Run, commands, dataset_line, provenance

WORDS = {True: "holds", False: "does not hold", None: "cannot be judged yet"}  # one claim on one task
RECIPE_KEYS = ("optimizer", "lr", "momentum", "weight_decay", "epochs", "batch_size", "schedule", "widths")


@dataclass
class Verdict:
    """One claim on one task: holds (True), does not (False) or cannot be judged (None), and the
    numbers that say so."""

    task: str
    holds: bool | None
    evidence: str

    @property
    def word(self) -> str:
        return WORDS[self.holds]

    def line(self) -> str:
        return f"**{self.task}**: {self.word} at this scale: {self.evidence}"


def summary_word(verdicts: Sequence[Verdict]) -> str:
    """How a claim fared over the tasks: holds on all, on some, on none (of those judged)."""
    judged = [v for v in verdicts if v.holds is not None]
    if not judged:
        return "cannot be judged yet"
    held = sum(bool(v.holds) for v in judged)
    if held == len(judged):
        return "holds" if len(judged) == len(verdicts) else "holds where judged"
    return "does not hold" if held == 0 else "holds on some tasks only"


def claim_block(number: int, claim: str, verdicts: Sequence[Verdict]) -> list[str]:
    """'### Claim N: ... (holds)' then one bullet per task."""
    return [f"### Claim {number}: {claim}", "", f"Verdict: **{summary_word(verdicts)}** at this scale.", ""] + \
        [f"- {v.line()}" for v in verdicts] + [""]


def metric_label(runs: Sequence[Run]) -> str:
    """The headline metric's label as the records name it (MAPE, Accuracy), else its name."""
    for r in runs:
        if r.record is not None and r.metric:
            return str(r.record.dataset.get("metric_info", {}).get(r.metric, {}).get("label") or r.metric)
    return "metric"


def direction(runs: Sequence[Run]) -> str:
    lower = next((r.lower_is_better for r in runs if r.record is not None), True)
    return "lower is better" if lower else "higher is better"


def recipe(runs: Sequence[Run]) -> str:
    """The method and the training settings its runs share (variant, epochs, batch, ...)."""
    recs = [r for r in runs if r.record is not None] or list(runs)
    if not recs:
        return "n/a"
    variant = recs[0].record.spec.get("method") if recs[0].record is not None else "?"
    shared = []
    adaptive = {str(r.params.get("optimizer")) for r in recs} <= {"adam", "adamw"}
    for key in RECIPE_KEYS:
        if key == "momentum" and adaptive:  # SGD's and RMSprop's; Adam's betas are their own
            continue
        values = {repr(r.params.get(key)) for r in recs}
        if len(values) == 1 and recs[0].params.get(key) is not None:
            shared.append(f"{key} {recs[0].params[key]}")
    return f"`{variant}`" + (f" ({', '.join(shared)})" if shared else "")


def data_section(runs: Sequence[Run], tasks: Sequence[str]) -> list[str]:
    return [f"- {t}: {dataset_line([r for r in runs if r.task == t])}" for t in tasks]


def tail(runs: Sequence[Run], suite: str, render_command: str) -> list[str]:
    """Provenance bullets and the exact commands: the `bench run` lines of the records, then the
    command that wrote the page."""
    out = ["## Provenance", ""] + provenance(runs) + ["", "## Commands", "",
                                                      "The runs (as recorded in their records):", "", "```bash"]
    out += commands(runs) or [f"bench run --suite {suite} --data-dir DATA   # nothing recorded yet"]
    out += ["```", "", "This page:", "", "```bash", render_command or "(not recorded)", "```", ""]
    return out


def write_page(out_dir: Path, text: str, figures: dict[str, Callable[[Path], Path]]) -> list[Path]:
    """OUT/README.md and every figure (name -> a function that draws it at a path)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [draw(out_dir / name) for name, draw in figures.items()]
    return [write_file(out_dir / "README.md", text)] + written
