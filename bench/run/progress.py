"""Progress of a suite run: done / failed / remaining and an ETA, as a bar on a terminal and as
one line per finished run otherwise (logs, CI).

The ETA weighs each run by how long runs of the same method variant on the same dataset took
before (the store's ok records): one slow network after a few quick baselines is not "a run
like the others"; the time a run takes beyond its record (worker start, data loading) is measured
as runs finish and added per run. Runs without a past record count as the average of those with
one (or, when none has one, every run counts the same: elapsed time per finished run)."""
from __future__ import annotations

import datetime as dt
import statistics
import sys
import time
from collections import defaultdict
from typing import Callable, Iterable

from bench.core.spec import FAILED, RunRecord

SHORTEST = 0.05  # seconds a run counts for at least: a recorded 0.00 s fit must not weigh nothing


def _clock(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def duration(rec: RunRecord) -> float | None:
    """Seconds one ok run took: its worker's span (started to finished, whole seconds) or its fit +
    predict seconds, whichever is longer; None when the record says neither."""
    timed = None
    if rec.fit_seconds is not None:
        timed = rec.fit_seconds + (rec.predict_seconds or 0.0)
    try:
        span = (dt.datetime.fromisoformat(rec.finished_at) - dt.datetime.fromisoformat(rec.started_at)).total_seconds()
    except (TypeError, ValueError):
        span = None
    known = [t for t in (timed, span) if t is not None and t >= 0]
    return max(known) if known else None


def past_durations(records: Iterable[RunRecord]) -> dict[tuple[str, str], float]:
    """{(method variant, dataset): median seconds} over the ok records given."""
    seen: dict[tuple[str, str], list[float]] = defaultdict(list)
    for rec in records:
        d = duration(rec) if rec.status == "ok" else None
        if d is not None and "method" in rec.spec and "dataset" in rec.spec:
            seen[(rec.spec["method"], rec.spec["dataset"])].append(d)
    return {k: statistics.median(v) for k, v in seen.items()}


class Progress:
    """``estimates``: {run key: seconds it is expected to take, or None}, for the ETA; ``workers``:
    runs executing at once (the ETA before the first run finishes divides by it)."""

    def __init__(self, total: int, show: bool = True, echo: Callable[[str], None] = print,
                 estimates: dict[str, float | None] | None = None, workers: int = 1,
                 clock: Callable[[], float] = time.perf_counter):
        self.total, self.done, self.failed = total, 0, 0
        self.echo, self.clock, self.workers = echo, clock, max(1, workers)
        self.t0 = clock()
        known = [max(v, SHORTEST) for v in (estimates or {}).values() if v is not None]
        self.learned = bool(known)
        self.fill = statistics.mean(known) if known else 1.0  # a run without a past record
        self.weights = {k: (self.fill if v is None else max(v, SHORTEST)) for k, v in (estimates or {}).items()}
        self.done_work = 0.0
        self.bar = None
        if show and total and sys.stderr.isatty():
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, unit="run", dynamic_ncols=True,  # our ETA, not tqdm's count-based one
                            bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]")

    @property
    def remaining(self) -> int:
        return self.total - self.done

    def remaining_work(self) -> float:
        unnamed = self.remaining - len(self.weights)  # runs the estimates did not name
        return sum(self.weights.values()) + max(0, unnamed) * self.fill

    def eta(self) -> float | None:
        """Seconds left. With past records: the recorded seconds of the runs left (per worker),
        scaled down when runs go faster than recorded, plus the time per run that the records do
        not hold (starting a worker, loading data, scoring), measured on the runs so far: a
        0.01 s record is not a 0.01 s run. Without: elapsed time per finished run, times the runs
        left. Before any run finished, the recorded seconds alone (or nothing)."""
        if not self.learned:
            return None if not self.done else (self.clock() - self.t0) / self.done * self.remaining
        ahead = self.remaining_work() / self.workers
        if not self.done:
            return ahead
        elapsed, expected = self.clock() - self.t0, self.done_work / self.workers
        if elapsed <= expected:  # faster than the records: the same pace for what is left
            return ahead * elapsed / expected
        return ahead + (elapsed - expected) / self.done * self.remaining

    def advance(self, status: str, message: str, key: str | None = None) -> None:
        self.done += 1
        self.failed += status in FAILED
        self.done_work += self.weights.pop(key, self.fill) if key is not None else self.fill
        eta = self.eta()
        if self.bar is not None:
            self.bar.write(message)
            self.bar.set_postfix(done=self.done, failed=self.failed, remaining=self.remaining,
                                 **({"ETA": _clock(eta)} if eta is not None and self.remaining else {}),
                                 refresh=False)
            self.bar.update(1)
            return
        self.echo(f"{message} [{self.done}/{self.total} done, {self.failed} failed, {self.remaining} left"
                  + (f", ETA {_clock(eta)}" if eta is not None and self.remaining else "") + "]")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
