"""`bench perf cli`: what bench itself costs before and around the plugins' work.

Four figures, each against the target of issue 12 and measured in child processes started the same
way a user starts them: a rendering command's wall time and peak memory (`bench table`, `bench
list`), the peak memory of the parent of `bench run` (its workers excluded), the start of a worker
that runs a tree baseline (spawn, imports, plugin file), and the harness overhead per run on many
tiny runs (wall time minus the plugins' own fit + predict time, per run).

Peak memory is each process's own high-water mark (VmHWM), read by the process itself at exit, so
the parent of `bench run` is measured without its workers.
"""
from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any, Callable

TARGETS = {"bench table --suite smoke": (0.5, 150.0), "bench list": (None, None),
           "parent of bench run": (None, 200.0), "worker start (knn)": (1.0, None),
           "harness overhead per run": (0.020, None)}


# Runs a module as `python -m` would and, at exit, writes its own peak resident size (VmHWM of
# /proc/self/status) to a file. Not ru_maxrss: after fork + exec that still counts the pages the
# forked copy of a large parent (pytest, this command) touched before exec.
_HWM = ("import atexit, runpy, sys; out, mod = sys.argv[1], sys.argv[2]; "
        "atexit.register(lambda: open(out, 'w').write(next(l for l in open('/proc/self/status') "
        "if l.startswith('VmHWM')).split()[1])); sys.argv = [mod] + sys.argv[3:]; "
        "runpy.run_module(mod, run_name='__main__', alter_sys=True)")


def timed(args: list[str], module: str = "bench", cwd: Path | None = None) -> tuple[float, float]:
    """Wall seconds and own peak MB of ``python -m module args`` (its children not counted)."""
    with tempfile.NamedTemporaryFile(prefix="bench-perf-hwm-") as f:
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", _HWM, f.name, module, *args], cwd=cwd,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(f"python -m {' '.join([module, *args])} exited with {proc.returncode}: "
                               f"{proc.stderr.decode(errors='replace')[-2000:]}")
        return wall, int(Path(f.name).read_text() or 0) / 1024  # kB -> MB


def command_cost(args: list[str], repeat: int, module: str = "bench", cwd: Path | None = None) -> dict[str, float]:
    """Median wall seconds and largest own peak memory (MB) of ``python -m module args``."""
    runs = [timed(args, module, cwd) for _ in range(repeat)]
    return {"wall_s": statistics.median(w for w, _ in runs), "peak_mb": max(m for _, m in runs)}


_WORKER_START = textwrap.dedent("""
    import sys, time
    t0 = time.perf_counter()
    import bench.run.worker_process, bench.run.execute
    from bench.plugins.registry import builtin_root, load_file
    load_file(builtin_root() / "plugins" / "knn.py")
    print(round(time.perf_counter() - t0, 4), "torch" in sys.modules)
""")


def worker_start(repeat: int) -> dict[str, Any]:
    """Median seconds from spawning a worker's interpreter to its knn plugin being imported (what
    a tree-baseline worker imports before its first run), and whether torch came with it."""
    walls, torch = [], False
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", _WORKER_START], capture_output=True, text=True, check=True)
        walls.append(time.perf_counter() - t0)
        torch = torch or out.stdout.split()[-1] == "True"
    return {"wall_s": statistics.median(walls), "imports_torch": torch}


_TINY_METHOD = textwrap.dedent('''
    """The majority class: a method that costs nothing, to time the harness around it."""
    import numpy as np

    from bench import Method


    class Majority(Method):
        name = "perf-majority"
        kinds = ("classification",)

        def fit(self, train, valid, ctx):
            values, counts = np.unique(train.y, return_counts=True)
            self.label_ = values[counts.argmax()]
            return self

        def predict(self, data):
            return np.full(len(data), self.label_)
''')


def harness_overhead(n_runs: int, jobs: int = 1) -> dict[str, float]:
    """Seconds the harness adds per run: ``n_runs`` seeds of a do-nothing method on the embedded
    breast-cancer table through `bench run` (worker processes), minus the plugin's own time."""
    from bench.results.store import Store

    with tempfile.TemporaryDirectory(prefix="bench-perf-cli-") as tmp:
        root = Path(tmp)
        (root / "plugins").mkdir()
        (root / "plugins" / "perf_majority.py").write_text(_TINY_METHOD)
        (root / "plugins" / "perf.toml").write_text(
            f'description = "harness overhead"\nseeds = {list(range(n_runs))}\n'
            '[[datasets]]\nname = "breast-cancer"\n[[methods]]\nvariant = "perf-majority"\n')
        wall, _ = timed(["run", "--suite", "perf", "--plugins", str(root / "plugins"), "--results-dir",
                         str(root / "results"), "--cache-dir", str(root / "cache"), "--quiet",
                         "--format", "none", "--jobs", str(jobs)])
        recs = [r for r in Store(root / "results").records() if r.status == "ok"]
    plugin = sum((r.fit_seconds or 0.0) + (r.predict_seconds or 0.0) for r in recs)
    if len(recs) != n_runs:
        raise RuntimeError(f"harness overhead: {len(recs)} of {n_runs} runs finished")
    return {"wall_s": wall, "per_run_s": (wall - plugin) / n_runs, "runs": n_runs}


def measure(results_dir: Path, repeat: int = 5, n_runs: int = 200,
            echo: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """Every figure as a row: what, wall seconds, peak MB, the targets and whether they are met."""
    rows = []

    def row(what: str, wall: float | None, peak: float | None, note: str = "") -> None:
        t_wall, t_peak = TARGETS[what]
        ok = (t_wall is None or (wall is not None and wall <= t_wall)) and \
             (t_peak is None or (peak is not None and peak <= t_peak))
        rows.append({"what": what, "wall_s": None if wall is None else round(wall, 3),
                     "peak_mb": None if peak is None else round(peak, 1),
                     "target": " and ".join(f"≤ {v} {u}" for v, u in ((t_wall, "s"), (t_peak, "MB")) if v),
                     "met": "yes" if ok else "no", "note": note})
        echo(f"{what:<28} {rows[-1]['wall_s']!s:>8} s {rows[-1]['peak_mb']!s:>8} MB  target {rows[-1]['target'] or '-'}"
             f"  {rows[-1]['met']}  {note}")

    table = command_cost(["table", "--suite", "smoke", "--results-dir", str(results_dir)], repeat)
    row("bench table --suite smoke", table["wall_s"], table["peak_mb"], f"median of {repeat}")
    listing = command_cost(["list"], repeat)
    row("bench list", listing["wall_s"], listing["peak_mb"], f"median of {repeat}")
    with tempfile.TemporaryDirectory(prefix="bench-perf-cli-run-") as tmp:
        run = command_cost(["run", "--suite", "smoke", "--results-dir", tmp, "--quiet", "--format", "none"], 1)
    row("parent of bench run", run["wall_s"], run["peak_mb"], "smoke suite, --jobs 1, fresh results folder")
    start = worker_start(repeat)
    row("worker start (knn)", start["wall_s"], None, f"median of {repeat}; imports torch: {start['imports_torch']}")
    over = harness_overhead(n_runs)
    row("harness overhead per run", over["per_run_s"], None, f"{n_runs} tiny runs, --jobs 1, {over['wall_s']:.1f} s in all")
    return rows
