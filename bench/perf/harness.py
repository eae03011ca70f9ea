"""`bench perf harness`: what running a suite through the harness costs on top of the plugins.

Runs a suite (the smoke suite by default) into a fresh temporary results folder, once per
setting (in-process for reference, worker processes with ``--jobs 1``, ``--jobs 2``, ...), and
compares the wall time of the whole run with the sum of the plugins' own fit + predict seconds
from the records: the harness overhead ratio (1.0 = no overhead; with N jobs, 1/N is ideal).
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from bench.plugins.registry import Registry
from bench.run.suite_runner import run_specs
from bench.run.execute import RunOptions, forget_tasks, load_task
from bench.core.spec import RunSpec
from bench.results.store import Store


def measure(registry: Registry, specs: list[RunSpec], settings: list[str], data_dir: Path, cache_dir: Path,
            device: str = "cpu", echo: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """One row per setting ("inline" or a number of jobs): wall seconds, plugin seconds, ratio."""
    for s in {(s.dataset, s.dataset_params, s.split, s.split_seed): s for s in specs}.values():
        load_task(registry, s, data_dir, cache_dir)  # converted data cached before any timing
    rows = []
    serial_wall = None
    for setting in settings:
        executor, jobs = ("inline", 1) if setting == "inline" else ("local", int(setting))
        forget_tasks()  # every setting loads its data the same way
        with tempfile.TemporaryDirectory(prefix="bench-perf-harness-") as tmp:
            store = Store(Path(tmp))
            opts = RunOptions(data_dir=data_dir, cache_dir=cache_dir, device=device, jobs=jobs,
                              executor=executor, show_progress=False, command="bench perf harness")
            t0 = time.perf_counter()
            summary = run_specs(registry, specs, store, opts, echo=lambda m: None)
            wall = time.perf_counter() - t0
            recs = [r for r in store.records() if r.status == "ok"]
        plugin = sum((r.fit_seconds or 0.0) + (r.predict_seconds or 0.0) for r in recs)
        if executor == "local" and jobs == 1:
            serial_wall = wall
        row = {"setting": "in-process (no isolation)" if executor == "inline" else f"workers, --jobs {jobs}",
               "runs": len(recs), "wall_s": round(wall, 2), "plugin_fit_predict_s": round(plugin, 2),
               "overhead_ratio": round(wall / plugin, 3) if plugin else float("nan"),
               "speedup_vs_jobs_1": round(serial_wall / wall, 2) if serial_wall else None,
               "summary": summary.line()}
        rows.append(row)
        echo(f"{row['setting']:<28} {row['runs']} runs  wall {wall:7.2f}s  plugins {plugin:7.2f}s  "
             f"ratio {row['overhead_ratio']:.3f}  ({summary.line()})")
    return rows
