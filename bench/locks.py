"""Cross-process claims: an advisory lock (flock) on a small file, held while work is in progress.

Used to make sure two `bench run` processes on one results folder never execute the same run,
and two workers never build the same cached artifact at once. The kernel drops the lock when
its holder dies, so a killed process never leaves a stale claim behind. POSIX only (fcntl).
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from pathlib import Path
from typing import Any, Iterator


class Claim:
    """A held lock on ``path``; ``release`` removes the file and drops the lock."""

    def __init__(self, path: Path, fd: int):
        self.path = path
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):  # gone, or its folder turned read-only: the lock still drops
            os.unlink(self.path)  # unlink while holding: a waiter re-checks the inode (see _lock)
        os.close(self._fd)
        self._fd = None


def _lock(path: Path, blocking: bool) -> int | None:
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(fd)
            return None
        try:  # the previous holder may have unlinked the file after we opened it: retry on the new one
            current = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            current = False
        if current:
            return fd
        os.close(fd)


def owner_note(**extra: Any) -> dict[str, Any]:
    return {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time(), **extra}


def try_claim(path: Path, note: dict[str, Any] | None = None) -> Claim | None:
    """Take the claim on ``path`` now, or return None when another live process holds it."""
    fd = _lock(Path(path), blocking=False)
    if fd is None:
        return None
    os.ftruncate(fd, 0)
    os.write(fd, json.dumps(note or owner_note()).encode())
    return Claim(Path(path), fd)


def holder(path: Path) -> dict[str, Any]:
    """Who holds a claim, as written by its owner ({} when unknown)."""
    try:
        return json.loads(Path(path).read_text() or "{}")
    except (OSError, ValueError):
        return {}


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold the lock on ``path`` for the block, waiting for other holders."""
    fd = _lock(Path(path), blocking=True)
    claim = Claim(Path(path), fd)
    try:
        yield
    finally:
        claim.release()
