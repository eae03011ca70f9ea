"""Where data and caches live (flag, then environment variable, then the per-user folder), and how
bench writes into them: private folders, atomic writes, never through a planted link."""
from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from pathlib import Path
from typing import BinaryIO, Iterator


def data_dir(explicit: str | os.PathLike | None = None) -> Path:
    if explicit:
        return Path(explicit).expanduser()
    if os.environ.get("BENCH_DATA"):
        return Path(os.environ["BENCH_DATA"]).expanduser()
    from platformdirs import user_data_dir  # imported late: scripts without it never get here

    return Path(user_data_dir("bench"))


def cache_dir(explicit: str | os.PathLike | None = None) -> Path:
    """A writable folder for converted data and artifacts; data folders may be read-only."""
    if explicit:
        return Path(explicit).expanduser()
    if os.environ.get("BENCH_CACHE"):
        return Path(os.environ["BENCH_CACHE"]).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("bench"))


# -- writing into cache and results folders without following planted links ---------------------

class UnsafePath(OSError):
    """A link or special file where bench keeps its own files: refused, never followed."""


def refused(path: Path, what: str) -> UnsafePath:
    """The error for ``what`` found at ``path``, saying what to do."""
    return UnsafePath(f"{path}: {what}; bench never follows links in its cache and results folders, "
                      f"and it did not make this. Remove it and run again.")


def private_dir(folder: str | os.PathLike, allow_link: bool = False) -> Path:
    """``folder``, made with every missing parent readable by this user only (mode 0700).

    For caches other users must not read or plant files in. A folder that exists keeps its mode
    (it may belong to someone else); a symlink there is refused unless ``allow_link``."""
    folder = Path(folder)
    missing = []
    p = folder
    while not os.path.lexists(p) and p != p.parent:
        missing.append(p)
        p = p.parent
    for p in reversed(missing):
        try:
            os.mkdir(p, 0o700)
        except FileExistsError:  # made meanwhile by another process: checked below like any other
            pass
    if folder.is_symlink() and not allow_link:
        raise refused(folder, "the folder is a symbolic link")
    if not folder.is_dir():
        raise NotADirectoryError(f"{folder}: expected a folder, found a file; move it away and run again")
    return folder


def open_nofollow(path: str | os.PathLike):
    """Open an existing plain file for reading (binary); a link, FIFO or device there is refused
    (:class:`UnsafePath`) and never opened through. Raises FileNotFoundError when absent."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        if e.errno in (errno.ELOOP, errno.EMLINK):
            raise refused(Path(path), "a symbolic link is planted there") from None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise refused(Path(path), "not a plain file (a FIFO or device)")
    return os.fdopen(fd, "rb")


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, private: bool = True) -> Iterator[BinaryIO]:
    """A binary file that becomes ``path`` in one rename when the block ends without an error.

    The temporary file is made by ``mkstemp`` beside ``path`` (O_EXCL, an unguessable name, never
    through a link), so readers never see half a file and a link planted at ``path`` is replaced,
    not written through. Mode 0600, or 0644 when not ``private`` (results and data files, shared).
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            if not private:
                os.fchmod(f.fileno(), 0o644)
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_file(path: str | os.PathLike, data: str | bytes, private: bool = False) -> Path:
    """Write ``data`` (text as UTF-8) to ``path`` atomically; a link planted there is replaced,
    never written through. Mode 0644 (results are shared), 0600 when ``private``."""
    with atomic_write(path, private=private) as f:
        f.write(data.encode() if isinstance(data, str) else data)
    return Path(path)
