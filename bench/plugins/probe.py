"""Imports plugin candidates in a child process before bench imports them itself.

A plugin file runs arbitrary code at import: one that calls ``os._exit``, segfaults or hangs
would take the whole command (``bench list``, ``bench table``) down with it. ``screen`` imports
the candidates one at a time in a fresh interpreter (spawned, never forked) that reports each
import on a private pipe; when that child dies or stalls, the file it was importing is the
culprit, gets a verdict with the reason, and a new child carries on with the rest. Only the
survivors are imported in the calling process (an ordinary exception at import is a survivor:
the registry lists it as broken with its traceback, as before).

Verdicts are cached as JSON, one file per candidate, in ``<cache folder>/plugin-probe/``,
keyed by the Python executable, bench's version and the candidate's content hash, so everyday
commands spawn nothing; an edit to the file probes it again. A verdict is data, never code.

Hand-written on subprocess: no library imports candidates one by one in a child that may die and
names the one that killed it.
"""
from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import traceback
import uuid
from pathlib import Path
from typing import IO, Any, Iterable
from bench.plugins.probe_cache import cache_folder, read_verdict, with_cache_note, write_verdict
from bench.plugins.candidates import Candidate
from bench.plugins.loader import import_path

TIMEOUT_ENV = "BENCH_PROBE_TIMEOUT"
DEFAULT_TIMEOUT_S = 120.0
STARTUP_TIMEOUT_S = 120.0  # the child imports bench (and its dependencies) before any plugin
STDERR_TAIL_LINES = 12


class ProbeError(Exception):
    """A setting of the probe is wrong (say, the timeout); the message names it."""


def timeout_s() -> float:
    raw = os.environ.get(TIMEOUT_ENV, "")
    if not raw:
        return DEFAULT_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise ProbeError(f"{TIMEOUT_ENV}={raw!r}: expected a positive number of seconds "
                         f"(the longest one plugin may take to import; default {DEFAULT_TIMEOUT_S:g})")
    return value


def default_cache_root() -> Path:
    """The cache folder the verdicts go under (``BENCH_CACHE``, else the per-user cache)."""
    from bench.data import paths

    return paths.cache_dir()


def screen(candidates: Iterable[Candidate], cache: Path | None = None) -> dict[str, str]:
    """The candidates that must not be imported here, each with the reason: ``{id: reason}``.

    Cached verdicts (under ``cache``, default ``default_cache_root()``) are reused; the rest are
    probed in child processes and cached."""
    timeout_s()  # a wrong setting is reported even when every verdict is cached
    folder = cache_folder(cache if cache is not None else default_cache_root())
    fatal: dict[str, str] = {}
    todo = []
    for cand in candidates:
        verdict = read_verdict(folder, cand) if folder else None
        if verdict is None:
            todo.append(cand)
        elif verdict["verdict"] == "fatal":
            fatal[cand.id] = with_cache_note(verdict["reason"], folder, cand)
    if not todo:
        return fatal
    verdicts = probe(todo)
    if verdicts is None:
        return fatal  # no probe could start; see probe()
    run_id = uuid.uuid4().hex
    for cand in todo:
        reason = verdicts.get(cand.id)
        if folder:
            write_verdict(folder, cand, reason, run_id)
        if reason is not None:
            fatal[cand.id] = with_cache_note(reason, folder, cand)
    return fatal


# --- the child ----------------------------------------------------------------------------------

_CHILD = ("import json, sys; request = json.loads(sys.stdin.readline()); sys.path[:] = request['sys_path']; "
          "from bench.plugins.probe import child_main; child_main(request)")


def child_main(request: dict[str, Any]) -> None:
    """Runs in the probe process: import each candidate, reporting on a private copy of stdout
    (whatever the plugins print goes to stderr), then leave without running exit handlers or
    waiting on threads a plugin started."""
    channel = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)

    def say(**msg: Any) -> None:
        channel.write(json.dumps(msg) + "\n")
        channel.flush()

    from importlib import metadata

    say(ready=True)
    for item in request["candidates"]:
        sys.stdout.flush()
        sys.stderr.flush()
        say(begin=item["id"], stderr_at=_stderr_offset())
        try:
            if "path" in item:
                _import_file(item["path"], item["module"])
            else:
                eps = [ep for ep in metadata.entry_points(group=item["group"])
                       if ep.name == item["name"] and ep.value == item["value"]]
                if not eps:
                    raise LookupError(f"entry point {item['group']}:{item['name']} is gone")
                eps[0].load()
        except BaseException as exc:  # noqa: BLE001 - an ordinary failure; the registry reports it
            say(error=item["id"], text="".join(traceback.format_exception_only(type(exc), exc)).strip())
        else:
            say(ok=item["id"])
    say(done=True)
    sys.stderr.flush()
    os._exit(0)


def _stderr_offset() -> int:
    """How much this process has written to stderr (a file): the start of the next plugin's output."""
    try:
        return os.lseek(2, 0, os.SEEK_CUR)
    except OSError:
        return 0


def _import_file(path: str, module: str) -> None:
    """As the registry's ``load_file`` does, a package included (this module must not import the
    registry)."""
    import_path(path, module)


# --- the parent side ----------------------------------------------------------------------------

def probe(candidates: list[Candidate]) -> dict[str, str | None] | None:
    """Import the candidates in child processes: ``{id: None}`` for those that return (or raise),
    ``{id: reason}`` for those that end or stall the process. None when no child could even
    start (bench itself does not import there): the caller then imports as before."""
    limit = timeout_s()
    verdicts: dict[str, str | None] = {}
    remaining = list(candidates)
    while remaining:
        got = _one_child(remaining, limit)
        if not got:
            import warnings

            warnings.warn("bench could not start its plugin probe process; plugins are imported "
                          "unprobed (one that ends the process at import ends this command)", stacklevel=2)
            return None
        verdicts.update(got)
        remaining = [c for c in remaining if c.id not in verdicts]
    return verdicts


def _one_child(candidates: list[Candidate], limit: float) -> dict[str, str | None] | None:
    """One child over the candidates, in order, until it finishes or one of them kills it."""
    request = {"sys_path": list(sys.path), "candidates": [c.request() for c in candidates]}
    by_id = {c.id: c for c in candidates}
    verdicts: dict[str, str | None] = {}
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}  # what a plugin prints before dying reaches the reason
    with tempfile.TemporaryFile() as err:
        try:
            proc = subprocess.Popen([sys.executable, "-X", "faulthandler", "-c", _CHILD], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=err, env=env, start_new_session=True)
        except OSError:
            return None
        try:
            lines = _lines(proc.stdout)
            try:
                proc.stdin.write((json.dumps(request) + "\n").encode())
                proc.stdin.close()
            except BrokenPipeError:
                pass  # the child died at once: the loop below sees it
            current, ready, last_ok, since = None, False, None, 0
            while True:
                try:
                    line = lines.get(timeout=limit if ready else max(limit, STARTUP_TIMEOUT_S))
                except queue.Empty:
                    _kill(proc)
                    if current is None:
                        return verdicts or None
                    verdicts[current] = (f"importing it did not finish within {limit:g} s (the probe "
                                         f"stopped it; set {TIMEOUT_ENV} to allow longer)") + _tail(err, since)
                    return verdicts
                if line is None:  # the child is gone
                    status = proc.wait()
                    culprit = current or last_ok
                    if culprit is None:
                        return verdicts or None
                    how = _how_it_ended(status)
                    verdicts[culprit] = (f"importing it {how}" if current else
                                         f"the process {how} just after importing it (a thread or exit "
                                         "handler it started?)") + _tail(err, since)
                    return verdicts
                msg = _parse(line)
                if msg.get("ready"):
                    ready = True
                elif msg.get("begin") in by_id:
                    at = msg.get("stderr_at")
                    current, since = msg["begin"], at if isinstance(at, int) else 0
                elif msg.get("ok") in by_id or msg.get("error") in by_id:
                    last_ok = msg.get("ok") or msg.get("error")
                    verdicts[last_ok], current = None, None
                elif msg.get("done"):
                    proc.wait()
                    return verdicts
        finally:
            if proc.poll() is None:
                _kill(proc)


def _lines(stream: IO[bytes]) -> "queue.Queue[bytes | None]":
    """The child's report lines, read on a thread so the parent can wait with a timeout."""
    q: queue.Queue[bytes | None] = queue.Queue()

    def pump() -> None:
        with stream:
            for line in iter(stream.readline, b""):
                q.put(line)
        q.put(None)

    threading.Thread(target=pump, daemon=True, name="bench-plugin-probe").start()
    return q


def _parse(line: bytes) -> dict[str, Any]:
    try:
        msg = json.loads(line)
    except ValueError:
        return {}
    return msg if isinstance(msg, dict) else {}


def _kill(proc: subprocess.Popen) -> None:
    """Stop the child and anything it started (it leads its own session)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (AttributeError, ProcessLookupError, PermissionError):  # no process groups (Windows), or gone
        proc.kill()
    proc.wait()


def _how_it_ended(status: int) -> str:
    if status < 0:
        try:
            name = signal.Signals(-status).name
        except ValueError:
            name = f"signal {-status}"
        desc = signal.strsignal(-status) or name
        return f"killed the process ({name}: {desc})"
    return f"ended the process with exit status {status}"


def _tail(err: IO[bytes], since: int) -> str:
    """The end of what the child wrote to stderr from offset ``since`` on (a fault handler's
    traceback names the plugin's line), without the probe's own frames and the list of
    extension modules."""
    err.seek(since)
    noise = ("Extension modules:", "<frozen importlib", f'"{__file__}"', 'File "<string>"')
    lines = [line[:300] for line in err.read().decode("utf-8", "replace").strip().splitlines()
             if not any(n in line for n in noise)]
    text = "\n".join(lines[-STDERR_TAIL_LINES:]).rstrip()
    return "\nlast output of the probe process:\n" + text if text else ""


# --- the verdict cache --------------------------------------------------------------------------

