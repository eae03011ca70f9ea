"""Cross-process claims: an advisory lock (flock) on a small file, held while work is in progress.

Used to make sure two `bench run` processes on one results folder never execute the same run,
and two workers never build the same cached artifact at once. The kernel drops the lock when
its holder dies, so a killed process never leaves a stale claim behind. POSIX only (fcntl).

Claim and lock files live in shared folders (a results folder is committed), so they are opened
with O_NOFOLLOW: a link (or a FIFO, or a hard link to some other file) planted at their path is
refused with :class:`bench.data.paths.UnsafePath`, and whatever it points at is never opened, truncated
or unlinked.

fcntl, not filelock or portalocker: they would take the flock, but a claim also records its holder,
is unlinked on release and re-checked by inode when taken, and refuses what is planted at its path;
that is the rest of this module, and none of those libraries does it.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import socket
import stat
import time
from pathlib import Path
from typing import Any, Iterator

from bench.data.paths import open_nofollow, refused


class Claim:
    """A held lock on ``path``; ``release`` removes the file and drops the lock."""

    def __init__(self, path: Path, fd: int):
        self.path = path
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is None:
            return
        if _same_file(self.path, self._fd):  # never unlink what someone put there since
            with contextlib.suppress(OSError):  # gone, or its folder turned read-only: the lock still drops
                os.unlink(self.path)  # unlink while holding: a waiter re-checks the inode (see _lock)
        os.close(self._fd)
        self._fd = None


def _same_file(path: Path, fd: int) -> bool:
    """Is ``path`` itself (not a link's target) the file open as ``fd``?"""
    try:
        st = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)


def _open_lock_file(path: Path) -> int:
    """Open (creating) the lock file at ``path`` itself, never through a link."""
    if path.parent.is_symlink():
        raise refused(path.parent, "the folder is a symbolic link")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o644)
    except OSError as e:
        if e.errno in (errno.ELOOP, errno.EMLINK):
            raise refused(path, "a symbolic link is planted there") from None
        raise
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_nlink > 1:
        os.close(fd)
        raise refused(path, "not a plain file of its own (a FIFO, device or hard link)")
    return fd


def _lock(path: Path, blocking: bool) -> int | None:
    while True:
        fd = _open_lock_file(path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(fd)
            return None
        # the previous holder may have unlinked the file after we opened it: retry on the new one
        if _same_file(path, fd):
            return fd
        os.close(fd)


def owner_note(**extra: Any) -> dict[str, Any]:
    return {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time(), **extra}


def try_claim(path: Path, note: dict[str, Any] | None = None) -> Claim | None:
    """Take the claim on ``path`` now, or return None when another live process holds it."""
    fd = _lock(Path(path), blocking=False)
    if fd is None:
        return None
    claim = Claim(Path(path), fd)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps(note or owner_note()).encode())
    except BaseException:  # a full disk: let go of the lock and the file, then say why
        claim.release()
        raise
    return claim


def holder(path: Path) -> dict[str, Any]:
    """Who holds a claim, as written by its owner ({} when unknown)."""
    try:
        with open_nofollow(path) as f:
            return json.loads(f.read(1 << 16) or b"{}")
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
