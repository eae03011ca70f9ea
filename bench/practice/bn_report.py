"""The page `bench practice bn` writes: README.md (the claims, a verdict per claim computed from the
records, the tables, the diverged runs, the commands) and the PNGs of bench.practice.bn_plots."""
from __future__ import annotations

from pathlib import Path

from typing import Any

from bench.data.paths import write_file
from bench.practice import bn_plots
from bench.practice import summary as sm
from bench.practice.bn import SLACK, Grid, arm_name, grid_claims, grid_verdicts, headline, history_key, label
from bench.practice.bn_ranges import Ranges, range_claims, range_verdicts, spread_text, y_range_text
from bench.practice.suite_runs import DIVERGED, MISSING, Run, fmt_lr
from bench.practice.suite_runs import commands as run_commands

TITLE = "In practice: batchnorm and high learning rates"

CLAIM = ("Batchnorm flattens the loss surface, so a network trains at higher learning rates, and so trains "
         "faster. Its learned scale and shift (like a sigmoid y-range on the output) also let a network hit "
         "a target's range, e.g. ratings of 1 to 5.")
STATUS_WORDS = {MISSING: "not run", "failed": "failed", "timeout": "timeout", "oom": "oom", "crashed": "crashed"}


def slug(section: str, taken: set[str]) -> str:
    """A file-name stem for a section: the dataset's name, numbered when it repeats."""
    base = "".join(ch if ch.isalnum() or ch == "-" else "-" for ch in section.split("[")[0].split("/")[0]) or "section"
    name, k = base, 2
    while name in taken:
        name, k = f"{base}-{k}", k + 1
    taken.add(name)
    return name


def _setup(runs: list[Run]) -> str:
    """Split, sizes, seeds, threads and hardware, from the records."""
    recs = [r.record for r in runs if r.record is not None]
    seeds = sorted({r.seed for r in runs})
    parts = [f"seeds {', '.join(map(str, seeds))}"]
    if recs:
        split = recs[0].split
        sizes = ", ".join(f"{k} {v:,}" for k, v in split.get("sizes", {}).items())
        parts.insert(0, f"split `{split.get('name', '?')}`, fingerprint `{split.get('fingerprint', '?')}` ({sizes})")
        threads = "/".join(sorted({str(r.threads) for r in recs}))
        hardware = ", ".join(sorted({r.hardware or "?" for r in recs}))
        devices = ", ".join(sorted({r.device or "?" for r in recs}))
        torch = ", ".join(sorted({r.versions.get("torch", "?") for r in recs}))
        parts.append(f"{threads} thread(s) per run on {hardware} ({devices}, torch {torch})")
    return "; ".join(parts)


def _fixed(runs: list[Run], swept: str) -> str:
    """The parameters the suite set other than the swept one, as `k=v` (the same for both arms)."""
    keys = sorted({k for r in runs for k in r.overrides if k != swept})
    vals = []
    for k in keys:
        seen = {repr(r.overrides.get(k)) for r in runs}
        vals.append(f"`{k}={runs[0].overrides.get(k)}`" if len(seen) == 1 else f"`{k}` varies")
    return ", ".join(vals) or "none"


def _counts(runs: list[Run]) -> str:
    """"diverged 2/3", "failed 1/3", "not run 3/3" for the runs of a cell that gave no number."""
    n, words = len(runs), []
    div = sum(r.status == DIVERGED for r in runs)
    if div:
        words.append(f"diverged {div}/{n}")
    for status, word in STATUS_WORDS.items():
        k = sum(r.status == status for r in runs)
        if k:
            words.append(f"{word} {k}/{n}")
    return ", ".join(words)


def heat_table(g: Grid) -> list[str]:
    lines = ["| | " + " | ".join(f"lr {lr:g}" for lr in g.lrs) + " |", "|---" * (len(g.lrs) + 1) + "|"]
    for bn in (True, False):
        best = g.best_test(bn)
        cells = []
        for lr in g.lrs:
            runs = g.cell(bn, lr)
            m, s = g.test_metric(bn, lr)
            text = "" if m is None else f"{m:.3f}" + (f" ± {s:.3f}" if s is not None else "")
            if text and best and best[0] == lr:
                text = f"**{text}**"
            cells.append("; ".join(filter(None, [text, _counts(runs)])) or "—")
        lines.append(f"| {g.variant(bn)} ({arm_name(bn)}) | " + " | ".join(cells) + " |")
    return lines


def time_table(g: Grid) -> list[str]:
    lines = ["| | " + " | ".join(f"lr {lr:g}" for lr in g.lrs) + " |", "|---" * (len(g.lrs) + 1) + "|"]
    for bn in (True, False):
        cells = []
        for lr in g.lrs:
            k, n, epochs, seconds = g.time_to_target(bn, lr)
            final = g.final(bn, lr)
            if epochs is not None:
                text = f"{epochs:.3g} ep, {seconds:.3g} s"
            else:
                text = "; ".join(filter(None, [f"reached {k}/{n}" if n else "", _counts(g.cell(bn, lr))])) or "—"
            if final is not None:
                text += f" (final {final:.3g})"
            cells.append(text)
        lines.append(f"| {g.variant(bn)} ({arm_name(bn)}) | " + " | ".join(cells) + " |")
    return lines


def diverged_lines(runs: list[Run]) -> list[str]:
    div = [r for r in runs if r.status == DIVERGED]
    if not div:
        return ["No run diverged."]
    div.sort(key=lambda r: (r.variant, r.lr, r.seed))
    return ["Diverged runs (recorded as failed when their predictions were NaN, else read from the history):", ""] + [
        f"- {r.variant}, lr {fmt_lr(r.lr)}, seed {r.seed}: {r.why}" for r in div]


def grid_section(g: Grid, stem: str, target_given: bool) -> list[str]:
    how = "given with --target" if target_given else (
        f"the weaker arm's best mean final {g.key} {'/' if g.lower else 'x'} {SLACK:g}")
    out = [f"## {g.section}: {g.variant(True)} vs {g.variant(False)}", "",
           f"{_setup(g.runs)}. Fixed for both arms: {_fixed(g.runs, 'lr')}; the learning rate is swept.", ""]
    out += [f"- {v}" for v in grid_verdicts(g)] + [""]
    out += [f"Test {label(g.metric)} (mean ± std over the seeds that finished without diverging; bold: the arm's "
            "best rate):", ""]
    out += heat_table(g) + [""]
    if g.target is not None:
        out += [f"Epochs and seconds (training plus the per-epoch validation) until {g.key} first reaches the "
                f"target {g.target:.4g} ({how}); means over seeds, only where every seed reaches it; in brackets "
                f"the mean final {g.key}. An arm "
                "\"trains\" at a rate when every seed finishes without diverging and its mean final score reaches "
                "the target.", ""]
        out += time_table(g) + [""]
    out += diverged_lines(g.runs) + [
        "", f"![{g.section}: test {label(g.metric)} over learning rate and batchnorm]({stem}-heatmap.png)", ""]
    lr = g.survived_lr()
    if lr is not None:
        out += [f"![{g.section}: learning curves at lr {lr:g}]({stem}-curves.png)", ""]
    else:
        out += ["No rate at which every run of both arms finished without diverging: no learning curves.", ""]
    return out


def range_section(rg: Ranges, stem: str) -> list[str]:
    out = [f"## {rg.section}: y-range and batchnorm", "",
           f"{_setup(rg.runs)}. Fixed: {_fixed(rg.runs, 'y_range')}. The plugin's output is always a sigmoid "
           "scaled to its `y_range`; \"no range\" cannot be expressed, so a very wide range stands in for it "
           "(near the ratings the sigmoid is almost linear, with a slope of a quarter of the range's width).", ""]
    out += [f"- {v}" for v in range_verdicts(rg)] + [""]
    out += [f"| variant | y-range | test {label(rg.metric)} | {rg.key}, epoch 1 | {rg.key}, last epoch | runs |",
            "|---|---|---|---|---|---|"]
    for v, yr in rg.settings:
        runs, counts = rg.cell(v, yr), _counts(rg.cell(v, yr))
        scores = [spread_text(rg.values(v, yr, what, epoch)) for what, epoch in
                  ((rg.metric, None), (rg.key, 1), (rg.key, -1))]
        out.append(f"| {v} | {yr} | {' | '.join(scores)} | {sum(r.ok for r in runs)}/{len(runs)} usable"
                   f"{'; ' + counts if counts else ''} |")
    if any(r.status == DIVERGED for r in rg.runs):
        out += [""] + diverged_lines(rg.runs)
    out += ["", f"![{rg.section}: curves with and without a y-range]({stem}-curves.png)", ""]
    return out


def readme(parts: list[Grid | Ranges], suite: str, runs: list[Run], command: str = "", target_given=()) -> str:
    out = [f"# {TITLE}", "", f"**Claim.** {CLAIM}", "",
           f"Suite `{suite}`: {len(runs)} planned runs, {sum(r.ok for r in runs)} finished without diverging, "
           f"{sum(r.status == DIVERGED for r in runs)} diverged, "
           f"{sum(r.status not in ('ok', MISSING, DIVERGED) for r in runs)} failed otherwise, "
           f"{sum(r.status == MISSING for r in runs)} not run yet. Every verdict below is computed from these "
           "records by `bench practice bn`; \"at this scale\" means these data subsets, epochs and seeds.", ""]
    taken: set[str] = set()
    for part in parts:
        stem = slug(part.section, taken)
        if isinstance(part, Grid):
            out += grid_section(part, stem, part.key in target_given)
        else:
            out += range_section(part, stem)
    left = sorted({r.section for r in runs} - {p.section for p in parts})
    if left:
        out += [f"Not shown (no per-epoch history recorded yet, or neither a rate grid nor y-ranges): "
                f"{', '.join(left)}.", ""]
    commands = sorted({r.record.command for r in runs if r.record is not None and r.record.command})
    commands = commands or [f"bench run --suite {suite} --data-dir DATA --results-dir results/practice --jobs 2 --threads 1"]
    out += ["## Commands", "", "```bash"] + commands
    out += ([command] if command else []) + ["```", ""]
    return "\n".join(out)


def figures(parts: list[Grid | Ranges]) -> dict[str, Any]:
    """File name -> a function drawing it at a path: per grid a heatmap and (when a rate survives
    in both arms) its curves, per y-range section its curves."""
    out: dict[str, Any] = {}
    taken: set[str] = set()
    for part in parts:
        stem = slug(part.section, taken)
        if isinstance(part, Grid):
            out[f"{stem}-heatmap.png"] = lambda p, g=part: bn_plots.heatmap(g, p)
            lr = part.survived_lr()
            if lr is not None:
                out[f"{stem}-curves.png"] = lambda p, g=part, lr=lr: bn_plots.curves(g, lr, p)
        else:
            out[f"{stem}-curves.png"] = lambda p, rg=part: bn_plots.range_curves(rg, p)
    return out


def summary(parts: list[Grid | Ranges], suite: str, runs: list[Run], command: str = "") -> dict[str, Any]:
    """summary.json: each claim with its verdict per section, as the page words it."""
    by_claim: dict[str, list] = {}
    scale = []
    for part in parts:
        if isinstance(part, Grid):
            found = grid_claims(part)
            scale.append(f"{part.section}: {part.variant(True)} vs {part.variant(False)} at lr "
                         f"{', '.join(f'{lr:g}' for lr in part.lrs)}; fixed: {_fixed(part.runs, 'lr')}")
        else:
            found = range_claims(part)[0]
            scale.append(f"{part.section}: {', '.join(dict.fromkeys(v for v, _ in part.settings))} with y-ranges "
                         f"{', '.join(dict.fromkeys(yr for _, yr in part.settings))}")
        for claim, verdict in found:
            by_claim.setdefault(claim, []).append(verdict)
    return sm.document(title=TITLE, claim=CLAIM, claims=[sm.claim_entry(c, v) for c, v in by_claim.items()],
                       figures=list(figures(parts)), measured=sm.run_measures(runs, suite, scale),
                       command=command, data_commands=run_commands(runs))


def write_files(parts: list[Grid | Ranges], suite: str, runs: list[Run], out_dir: Path, command: str = "",
                target_given=()) -> list[Path]:
    """OUT/README.md, per section OUT/<dataset>-heatmap.png and OUT/<dataset>-curves.png, and
    OUT/summary.json."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [write_file(out_dir / "README.md", readme(parts, suite, runs, command, target_given))]
    paths += [draw(out_dir / name) for name, draw in figures(parts).items()]
    return paths + [sm.write_summary(out_dir, summary(parts, suite, runs, command))]


def sections(runs: list[Run]) -> list[Grid | Ranges]:
    """A Grid per dataset split with two or more rates and both arms; else a Ranges when it has
    two or more y-ranges; other sections are left out."""
    out: list[Grid | Ranges] = []
    for name in dict.fromkeys(r.section for r in runs):
        rs = [r for r in runs if r.section == name]
        key, metric = history_key(rs), headline(rs)
        if key is None or metric is None:
            continue
        lrs = {r.lr for r in rs}
        if len(lrs) >= 2 and {r.batchnorm for r in rs} == {True, False}:
            out.append(Grid(name, rs, key, metric))
        elif len({y_range_text(r.params.get("y_range")) for r in rs}) >= 2:
            out.append(Ranges(name, rs, key, metric))
    return out


def build(runs: list[Run], targets: dict[str, float] | None = None) -> list[Grid | Ranges]:
    """The page's sections, each grid's target set: the one given for its history key, else the default."""
    parts = sections(runs)
    for p in parts:
        if isinstance(p, Grid):
            p.target = (targets or {}).get(p.key, p.default_target())
    return parts

