"""Committed expectations of a suite's numbers, and the check that a fresh run still gives them.

``bench table --suite smoke --write-expected`` writes ``results/smoke/expected.json``: every run
of the suite keyed by its identity (dataset/split, variant and the suite's parameters, seed) with
its status and metrics. ``bench table --suite smoke --check --results-dir FRESH`` compares a
fresh run's records with that file within per-metric relative tolerances and lists every
difference (times are never compared). CI runs the check after regenerating the smoke results.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.core.metrics import METRICS
from bench.data.paths import write_file
from bench.plugins.registry import Registry
from bench.core.spec import RunSpec
from bench.results.store import Store
from bench.run.suite import Suite
from bench.report import tolerances
from bench.report.selection import suite_arg, supported
from bench.report.table import chosen_records

FORMAT = 1


def regenerate_command(suite: str) -> str:
    return (f"bench run --suite {suite} --force && bench table --suite {suite} --write-expected"
            f" && bench report --suite {suite}")


def default_path(suite: Suite) -> Path:
    return Path("results") / suite.name / "expected.json"


def run_key(spec: RunSpec) -> str:
    """A run's identity in words: stable while plugin defaults change, readable in a diff."""
    dparams = ", ".join(f"{k}={v}" for k, v in spec.dataset_params)
    over = ", ".join(f"{k}={v}" for k, v in spec.overrides)
    draw = f" split seed {spec.split_seed}" if spec.split_seed else ""  # 0: the keys of before
    return (f"{spec.dataset}{'[' + dparams + ']' if dparams else ''}/{spec.split}{draw} | "
            f"{spec.method}{'[' + over + ']' if over else ''} | seed {spec.seed}")


def snapshot(suite: Suite, registry: Registry, store: Store) -> dict[str, Any]:
    """What the suite's table shows now, run by run: status and metrics (no times)."""
    runs: dict[str, Any] = {}
    chosen = chosen_records(suite, registry, store)
    spread = tolerances.from_seeds(chosen)
    for spec, rec in chosen:
        entry: dict[str, Any] = {"label": spec.label, "variant": spec.method}
        if not supported(registry, spec):
            entry["status"] = "n/a"  # the method does not support this task kind; never run
        elif rec is None:
            entry["status"] = "missing"
        else:
            entry["status"] = rec.status
            entry["metrics"] = dict(sorted(rec.metrics.items())) if rec.status == "ok" else {}
            if rec.status == "ok" and tolerances.row_of(spec) in spread:
                entry["seed_rtol"] = dict(sorted(spread[tolerances.row_of(spec)].items()))
        runs[run_key(spec)] = entry
    return {"format": FORMAT, "suite": suite.name,
            "regenerate": regenerate_command(suite_arg(suite, registry)), "runs": dict(sorted(runs.items()))}


def write(path: Path, snap: dict[str, Any]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_file(path, json.dumps(snap, indent=1, sort_keys=False) + "\n")
    return path


def read(path: Path) -> dict[str, Any]:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no committed expectations at {path}; write them with "
                                f"`bench table --suite SUITE --write-expected`")
    try:
        data = json.loads(path.read_text())
    except ValueError as exc:
        raise ValueError(f"{path} is not valid JSON ({exc}); regenerate it") from None
    if not isinstance(data, dict) or not isinstance(data.get("runs"), dict):
        raise ValueError(f"{path} has no `runs` object; regenerate it")
    return data


def tolerance(suite: Suite, entry: dict[str, Any], metric: str) -> float:
    """Relative tolerance: the suite's per-row setting, else its per-metric one, else what the
    committed entry's seeds justify (bench.report.tolerances), else the metric's own."""
    table = suite.table.tolerance
    for who in (entry.get("label"), entry.get("variant")):
        per = table.get(who) if who else None
        if isinstance(per, dict) and metric in per:
            return float(per[metric])
    if isinstance(table.get(metric), (int, float)):
        return float(table[metric])
    from_seeds = tolerances.seed_tolerance(entry, metric)
    if from_seeds is not None:
        return max(from_seeds, METRICS[metric].check_rtol if metric in METRICS else 1e-6)
    return METRICS[metric].check_rtol if metric in METRICS else 1e-6


@dataclass(frozen=True)
class Difference:
    kind: str  # changed | status | added | removed
    run: str
    detail: str

    def line(self) -> str:
        return f"  {self.kind.upper():8} {self.run}\n           {self.detail}"


def _close(a: float, b: float, rtol: float) -> bool:
    if a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)):
        return True  # equal infinities too: their difference is NaN
    return abs(a - b) <= rtol * max(abs(a), abs(b)) + 1e-12


def compare(committed: dict[str, Any], now: dict[str, Any], suite: Suite) -> list[Difference]:
    """Every difference between two snapshots, in run order."""
    old, new = committed["runs"], now["runs"]
    diffs: list[Difference] = []
    for run in sorted(set(old) | set(new)):
        a, b = old.get(run), new.get(run)
        if b is None:
            diffs.append(Difference("removed", run, "committed, but the suite no longer has this run"))
            continue
        if a is None:
            diffs.append(Difference("added", run, f"in the suite now ({b['status']}), not in the committed file"))
            continue
        if a["status"] != b["status"]:
            diffs.append(Difference("status", run, f"committed {a['status']}, now {b['status']}"))
            continue
        ma, mb = a.get("metrics", {}), b.get("metrics", {})
        for m in sorted(set(ma) | set(mb)):
            if m not in mb or m not in ma:
                diffs.append(Difference("changed", run, f"{m}: committed {ma.get(m, 'absent')}, "
                                                         f"now {mb.get(m, 'absent')}"))
                continue
            tol = tolerance(suite, a, m)  # the committed entry: its seeds' spread
            if not _close(float(ma[m]), float(mb[m]), tol):
                rel = abs(ma[m] - mb[m]) / max(abs(ma[m]), 1e-12)
                diffs.append(Difference("changed", run, f"{m}: committed {ma[m]!r}, now {mb[m]!r} "
                                                         f"(relative difference {rel:.2g} > tolerance {tol:g})"))
    return diffs


def report(diffs: list[Difference], path: Path, suite: Suite, n_runs: int, regenerate: str | None = None,
           committed: dict[str, Any] | None = None) -> str:
    """One line saying how many committed runs a fresh run reproduced (of the committed runs with
    numbers, when ``committed`` is given: a run missing then and now reproduces nothing), then
    every difference."""
    ok = ({run for run, e in committed["runs"].items() if e.get("status") == "ok"} if committed is not None
          else None)
    moved_runs = {d.run for d in diffs if d.kind != "added"}
    total = len(ok) if ok is not None else n_runs
    moved = len(moved_runs & ok) if ok is not None else len(moved_runs)
    if not diffs:
        return (f"{suite.name}: reproduced {total}/{total} committed runs within tolerance (all {n_runs} runs "
                f"match {path})")
    lines = [f"{suite.name}: reproduced {total - moved}/{total} committed runs within tolerance; "
             f"{len(diffs)} difference(s) against the committed numbers in {path}:"]
    lines += [d.line() for d in diffs]
    lines += ["", "If the change is intended, regenerate the committed results and commit them:",
              f"  {regenerate or regenerate_command(suite.name)}",
              "Tolerances are relative, per metric (bench/core/metrics.py), loosened per suite in [table.tolerance]."]
    return "\n".join(lines)
