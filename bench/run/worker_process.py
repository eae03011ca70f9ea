"""The worker process's side: what runs inside each worker that bench.run.workers supervises.

A worker leads its own process group (killing it kills what its plugins started), dies with its
parent, sends its output to a log file the parent tails, loads a dataset split once and executes
one spec at a time, sending back the record."""
from __future__ import annotations

import dataclasses
import faulthandler
import os
import signal
import sys
import threading
import time

from bench.core import environment as env


_WORKER_PID = 0


def _kill_group() -> None:
    """End this worker and every process a plugin started from it (they share its group)."""
    try:
        os.killpg(0, signal.SIGKILL)
    finally:
        os._exit(1)


def _on_sigterm(signum, frame) -> None:
    """In the worker: the parent is gone (or asked), so take the group down. In a process a plugin
    forked from it (a multiprocessing pool ends its workers with SIGTERM): just end that one."""
    if os.getpid() == _WORKER_PID:
        _kill_group()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


def _die_with_parent(parent_pid: int) -> None:
    """A worker, and the processes its plugins started, must not outlive the parent (a SIGKILLed
    `bench run` included): the kernel sends SIGTERM when the parent dies, and the worker takes
    its whole process group down; a watchdog thread covers systems without prctl."""
    global _WORKER_PID
    _WORKER_PID = os.getpid()
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass

    def watch() -> None:  # where prctl is missing; also covers a parent gone before prctl
        # the parent by pid: a worker forked from the fork server is not the parent's child
        while pid_alive(parent_pid):
            time.sleep(1.0)
        _kill_group()

    threading.Thread(target=watch, daemon=True).start()


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (one we may not signal counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def worker_main(conn, log_path: str, sources: dict, opts, gpu: str | None, parent_pid: int,
                environ: dict | None = None, cwd: str | None = None) -> None:
    os.setpgrp()  # the worker leads a process group: killing it kills what its plugins started
    if environ is not None:  # forked from the fork server: take the parent's environment and folder
        os.environ.clear()   # as they are now (the server kept those of when it started)
        os.environ.update(environ)
    if cwd is not None:
        os.chdir(cwd)
    if gpu is not None:  # before anything imports torch
        os.environ["CUDA_VISIBLE_DEVICES"] = gpu
    env.set_thread_env(opts.threads)  # before numpy / torch load; each run sets them again
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    _die_with_parent(parent_pid)
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    sys.stdout.reconfigure(line_buffering=True)
    faulthandler.enable(all_threads=False)  # a segfault leaves the Python stack in the log

    from bench.core.dataset import FilesMissing
    from bench.plugins.registry import partial
    from bench.run.execute import TaskMeta, execute, forget_tasks, load_task

    registry, loaded = None, None
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        op, spec, files, entry_points = msg
        registry = partial(sources, files, entry_points, into=registry)
        which = (spec.dataset, spec.dataset_params, spec.split, spec.split_seed)
        if which != loaded:  # keep one dataset split in memory at a time
            forget_tasks()
        try:
            task = load_task(registry, spec, opts.data_dir, opts.cache_dir)
            loaded = which
        except FilesMissing as exc:
            conn.send(("missing", str(exc)))
            continue
        except Exception as exc:
            conn.send(("error", f"loading {spec.dataset}/{spec.split} failed: {type(exc).__name__}: {exc}"))
            continue
        if op == "load":
            conn.send(("meta", dataclasses.asdict(TaskMeta.of(spec, task))))
            continue
        conn.send(("started",))
        rec = execute(registry, spec, task, opts)
        sys.stdout.flush()
        conn.send(("done", rec.to_dict()))
