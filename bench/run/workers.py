"""Worker processes: each run executes in a long-lived worker, supervised by the parent.

A worker (forked from a clean fork server, never from the parent: torch and CUDA are not
fork-safe, and the server imports neither) loads only the plugin files its runs need, loads a
dataset split once, and executes one spec at a time, sending back the record. The parent
watches each worker: when one dies (segfault, ``os._exit``, a signal), passes its run's time
limit or its memory limit, the parent kills it, writes the run's record itself (``crashed`` /
``timeout`` / ``oom``, with the reason and the tail of the worker's stderr) and starts a fresh
worker for the next run. Records are written by the parent only, atomically, so
a killed worker or parent never leaves half a record.

Memory is watched by polling the worker's resident set size (psutil) rather than with RLIMIT_AS,
which breaks CUDA and any library that reserves large virtual mappings (torch).

The supervisor is hand-written: concurrent.futures and multiprocessing.Pool cannot kill one worker at
its limit and carry on (a dead worker breaks a ProcessPoolExecutor and hangs a Pool's task), nor say
why it died.
"""
from __future__ import annotations

import dataclasses
import multiprocessing as mp
import multiprocessing.connection
import os
import shutil
import signal
import stat
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from bench.core.spec import RunRecord

POLL_S = 0.05  # how often the parent checks deadlines and memory
TAIL_LINES = 40


from bench.run.worker_process import pid_alive, worker_main
from bench.run.worker_start import worker_context


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children, in MiB; 0 when the process is gone."""
    try:
        p = psutil.Process(pid)
        procs = [p, *p.children(recursive=True)]
        return sum(q.memory_info().rss for q in procs if q.is_running()) / 2**20
    except psutil.Error:
        return 0.0


def gpu_slots(device: str, n: int) -> list[tuple[str, str] | None]:
    """Which GPU each of ``n`` workers sees, round robin: (its CUDA_VISIBLE_DEVICES value, the
    device name this process knows it by, for the record); None on CPU."""
    if not device.startswith("cuda"):
        return [None] * n
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        ids = [v.strip() for v in visible.split(",") if v.strip()]
    else:
        import torch

        ids = [str(i) for i in range(torch.cuda.device_count())]
    if not ids:
        return [None] * n
    if ":" in device:  # one named GPU for everyone
        return [(ids[int(device.split(":", 1)[1])], device)] * n
    return [(ids[i % len(ids)], f"cuda:{i % len(ids)}") for i in range(n)]


@dataclass
class LoadJob:
    """Loading one dataset split in a worker, under a run's limits, for its fingerprint and sizes.

    ``result`` ends as ("ok", TaskMeta), ("skipped", why: files missing) or (status, why) with a
    run status: failed (the loader raised), crashed, timeout, oom."""

    spec: object
    files: list
    entry_points: bool
    timeout: float | None = None
    memory_limit_mb: float | None = None
    result: tuple | None = None


@dataclass
class _Worker:
    slot: int
    proc: mp.process.BaseProcess
    conn: mp.connection.Connection
    log: Path
    gpu: tuple[str, str] | None
    job: object = None
    dispatched: float = 0.0  # when the current job was sent (its data loading starts then)
    started: float | None = None  # when the current run began fitting (after its data loaded)
    offset: int = 0  # where the current run's stderr begins in the log
    peak_mb: float = 0.0


def tail(path: Path, offset: int = 0, lines: int = TAIL_LINES) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.rstrip().splitlines()[-lines:])[-6000:]


LOGDIR_PREFIX = "bench-workers-"


def _host() -> str:
    """This machine's name in a log folder's name: /tmp may be shared with other hosts or
    containers whose process ids mean nothing here."""
    import re
    import socket

    return re.sub(r"[^A-Za-z0-9.]", "_", socket.gethostname())[:40] or "host"


def clean_stale_logdirs(tmp: str | None = None) -> int:
    """Remove worker log folders left by a `bench run` that was killed (its pid is gone); only
    this user's real folders, never a link. Returns how many were removed."""
    removed = 0
    base = Path(tmp or tempfile.gettempdir())
    for d in base.glob(f"{LOGDIR_PREFIX}*@{_host()}-*"):
        try:
            st = d.lstat()
            pid = int(d.name[len(LOGDIR_PREFIX):].split("@", 1)[0])
        except (OSError, ValueError):
            continue
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or pid_alive(pid):
            continue
        shutil.rmtree(d, ignore_errors=True)
        removed += 1
    return removed


def _signal_name(code: int) -> str:
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


class LocalExecutor:
    """``--jobs N`` worker processes on this machine, one GPU each when there are GPUs."""

    def __init__(self, opts, registry):
        self.opts, self.registry = opts, registry
        self.n = max(1, int(opts.jobs))
        self.gpus = gpu_slots(opts.device, self.n)
        self.ctx = worker_context()
        self.workers: list[_Worker | None] = [None] * self.n
        clean_stale_logdirs()
        self.logdir = Path(tempfile.mkdtemp(prefix=f"{LOGDIR_PREFIX}{os.getpid()}@{_host()}-"))
        self.started_count = 0

    # -- lifecycle
    def _start(self, slot: int) -> _Worker:
        gpu = self.gpus[slot]
        opts = dataclasses.replace(self.opts, show_progress=False)
        if gpu is not None:  # the worker sees one GPU, as cuda:0; the record names which
            opts = dataclasses.replace(opts, device="cuda", device_label=gpu[1])
        self.started_count += 1
        log = self.logdir / f"worker-{slot}-{self.started_count}.log"
        ours, theirs = self.ctx.Pipe()
        proc = self.ctx.Process(target=worker_main, name=f"bench-worker-{slot}",
                                args=(theirs, str(log), self.registry.sources, opts,
                                      gpu[0] if gpu else None, os.getpid(), dict(os.environ), os.getcwd()))
        proc.start()
        theirs.close()
        w = _Worker(slot, proc, ours, log, gpu)
        self.workers[slot] = w
        return w

    def _stop(self, w: _Worker, kill: bool = False) -> None:
        if not kill and w.proc.is_alive():
            try:
                w.conn.send(None)
            except OSError:
                pass
            w.proc.join(2)
        self._kill(w)
        w.conn.close()
        if self.workers[w.slot] is w:
            self.workers[w.slot] = None

    def _kill(self, w: _Worker) -> None:
        """Kill the worker and its process group (whatever its plugins started)."""
        try:
            os.killpg(w.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError, TypeError):
            pass
        if w.proc.is_alive():
            w.proc.kill()
        w.proc.join(5)

    # -- one run
    def _dispatch(self, w: _Worker, job) -> None:
        w.job, w.started, w.peak_mb, w.dispatched = job, None, 0.0, time.monotonic()
        w.offset = w.log.stat().st_size if w.log.exists() else 0
        if isinstance(job, LoadJob):
            w.conn.send(("load", job.spec, job.files, job.entry_points))
            return
        files = [p for p in (job.method_origin.path, job.dataset_origin.path) if p]
        entry_points = job.method_origin.path is None or job.dataset_origin.path is None
        w.conn.send(("run", job.spec, files, entry_points))

    def load(self, job: LoadJob) -> tuple:
        """Load a dataset split in worker 0 under the job's limits and return ``job.result``; the
        worker keeps the data for the runs that follow."""
        w = self.workers[0]
        if w is None or not w.proc.is_alive():
            if w is not None:
                self._stop(w, kill=True)
            w = self._start(0)
        try:
            self._dispatch(w, job)
        except OSError:
            self._stop(w, kill=True)
            w = self._start(0)
            self._dispatch(w, job)
        while job.result is None:
            self._supervise([w], None)
        return job.result

    def close(self) -> None:
        """Stop every worker and remove their logs (also what `run` does when it ends)."""
        for w in list(self.workers):
            if w is not None:
                self._stop(w, kill=w.job is not None)
        shutil.rmtree(self.logdir, ignore_errors=True)

    def _fail(self, w: _Worker, status: str, error: str) -> RunRecord:
        from bench.run.execute import now, base_record

        job = w.job
        rec = base_record(self.registry, job.spec, job.meta,
                          dataclasses.replace(self.opts, device_label=self._label(w)))
        rec.key, rec.status, rec.error = job.key, status, error
        if w.started is not None:
            rec.info["seconds_before_end"] = round(time.monotonic() - w.started, 3)
        if w.peak_mb:
            rec.info["peak_worker_rss_mb"] = round(w.peak_mb, 1)
        rec.finished_at = now()
        return rec

    def _label(self, w: _Worker) -> str:
        return w.gpu[1] if w.gpu is not None else self.opts.device

    def _end_load(self, w: _Worker, status: str, text: str) -> None:
        job, w.job = w.job, None
        if status not in ("ok", "skipped"):
            tail_text = tail(w.log, w.offset)
            if tail_text:
                text += f"\nlast lines the worker wrote:\n{tail_text}"
        job.result = (status, text)

    def _finish(self, w: _Worker, rec: RunRecord, finished) -> None:
        job, w.job = w.job, None
        if rec.status != "ok":
            text = tail(w.log, w.offset)
            if text:
                rec.info["stderr_tail"] = text
        finished(job, rec)

    def _kill_and_record(self, w: _Worker, status: str, error: str, finished) -> None:
        self._kill(w)
        if isinstance(w.job, LoadJob):
            self._end_load(w, status, error)
        else:
            self._finish(w, self._fail(w, status, error), finished)
        self._stop(w, kill=True)

    # -- the supervision loop
    def run(self, queue, finished) -> None:
        """Run every job of the queue; ``finished(job, record)`` as each ends."""
        try:
            while True:
                for slot in range(self.n):
                    w = self.workers[slot]
                    if w is not None and w.job is not None:
                        continue
                    job = queue.next() if len(queue) else None
                    if job is None:
                        break
                    if w is None or not w.proc.is_alive():
                        if w is not None:
                            self._stop(w, kill=True)
                        w = self._start(slot)
                    try:
                        self._dispatch(w, job)
                    except OSError:  # it died idle, just now: a fresh one takes the job
                        self._stop(w, kill=True)
                        self._dispatch(self._start(slot), job)
                busy = [w for w in self.workers if w is not None and w.job is not None]
                if not busy:
                    if not len(queue):
                        return
                    continue  # everything left is held by another process: queue.next() waits
                self._supervise(busy, finished)
        finally:
            self.close()

    def _supervise(self, busy: list[_Worker], finished) -> None:
        by_conn = {w.conn: w for w in busy}
        by_sentinel = {w.proc.sentinel: w for w in busy}
        ready = mp.connection.wait([*by_conn, *by_sentinel], timeout=POLL_S)
        for r in ready:
            if r in by_conn:
                w = by_conn[r]
                self._receive(w, finished)
        for r in ready:
            w = by_sentinel.get(r)
            if w is not None and w.job is not None:
                while w.job is not None and w.conn.poll() and self._receive(w, finished):
                    pass  # read what it said before dying
                if w.job is not None:
                    w.proc.join(1)
                    self._died(w, finished)
        now = time.monotonic()
        for w in busy:
            job = w.job
            if job is None:
                continue
            if w.started is None:  # loading its data: the same limit, counted from dispatch
                if job.timeout is not None and now - w.dispatched > job.timeout:
                    self._kill_and_record(w, "timeout", f"loading {job.spec.dataset}/{job.spec.split} passed "
                                          f"the time limit of {job.timeout:g}s and was killed", finished)
                    continue
            elif job.timeout is not None and now - w.started > job.timeout:
                self._kill_and_record(w, "timeout", f"passed its time limit of {job.timeout:g}s and was killed",
                                      finished)
                continue
            if job.memory_limit_mb is not None:
                rss = rss_mb(w.proc.pid)
                w.peak_mb = max(w.peak_mb, rss)
                if rss > job.memory_limit_mb:
                    self._kill_and_record(w, "oom", f"worker memory reached {rss:.0f} MB, over its limit of "
                                          f"{job.memory_limit_mb:g} MB, and was killed", finished)

    def _receive(self, w: _Worker, finished) -> bool:
        """Handle one message; False when the pipe is closed (the worker is gone)."""
        try:
            msg = w.conn.recv()
        except (EOFError, OSError):
            return False
        if msg[0] == "started":
            w.started = time.monotonic()
        elif msg[0] == "done":
            self._finish(w, RunRecord.from_dict(msg[1]), finished)
        elif isinstance(w.job, LoadJob):
            if msg[0] == "meta":
                from bench.run.execute import TaskMeta

                w.job, job = None, w.job
                job.result = ("ok", TaskMeta(**{**msg[1], "metrics": tuple(msg[1]["metrics"])}))
            else:
                self._end_load(w, "skipped" if msg[0] == "missing" else "failed", msg[1])
        elif msg[0] in ("error", "missing"):
            self._finish(w, self._fail(w, "failed", msg[1]), finished)
        return True

    def _died(self, w: _Worker, finished) -> None:
        code = w.proc.exitcode
        if code is not None and code < 0:
            how = f"killed by {_signal_name(code)}"
            if code == -signal.SIGKILL:
                how += " (from outside bench: the system may have run out of memory)"
        else:
            how = f"exited with status {code}"
        if isinstance(w.job, LoadJob):
            self._end_load(w, "crashed", f"the worker process {how} while loading "
                                         f"{w.job.spec.dataset}/{w.job.spec.split}")
        else:
            self._finish(w, self._fail(w, "crashed", f"the worker process {how} during this run"), finished)
        self._stop(w, kill=True)
