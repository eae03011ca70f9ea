"""Verified downloads and safe archive reading, shared by dataset plugins that fetch their files.

The rule (DESIGN.md, Data): never open an archive whose checksum has not been checked, and never
let an archive member land outside the folder it belongs to. ``download_verified`` streams a
URL into a temporary file while hashing it and keeps the file only when the digest matches;
``check_tar_members`` refuses a tar archive that has an absolute path, a ``..`` component, a
link or a device among its members.
"""
from __future__ import annotations

import hashlib
import os
import re
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from bench.core.dataset import FilesMissing
from bench.data.paths import private_dir

DOWNLOAD_TIMEOUT_S = 60


class ChecksumMismatch(ValueError):
    """A file does not have its pinned checksum; it is refused (and a fresh download deleted)."""


class UnsafeArchive(ValueError):
    """An archive member would land outside the extraction folder (absolute path, ``..``, link)."""


def file_digest(path: str | os.PathLike, algo: str = "md5") -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, algo).hexdigest()


def verify(path: str | os.PathLike, algo: str, expected: str, how_to_fix: str = "") -> None:
    """Raise :class:`ChecksumMismatch` unless ``path`` has the ``algo`` digest ``expected``."""
    got = file_digest(path, algo)
    if got != expected:
        raise ChecksumMismatch(f"{path}: {algo} {got} is not the expected {expected}; the file was "
                               f"refused and never opened. {how_to_fix}".strip())


def writable(folder: Path, private: bool = False) -> bool:
    """Can we create files in ``folder`` (creating it if needed, mode 0700 when ``private``: a
    cache folder)? Tried with an O_EXCL probe file, not guessed from modes."""
    try:
        if private:
            private_dir(folder)
        else:
            Path(folder).mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".bench-write-probe-")
        os.close(fd)
        os.unlink(probe)
        return True
    except OSError:
        return False


def download_verified(url: str, dest: Path, algo: str, expected: str, what: str, how_to_fix: str) -> Path:
    """Download ``url`` to ``dest`` (atomically) when its ``algo`` digest is ``expected``.

    A failed connection raises :class:`bench.FilesMissing` with ``how_to_fix``; a wrong digest
    raises :class:`ChecksumMismatch` and deletes the download.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")  # O_EXCL
    tmp = Path(name)
    digest = hashlib.new(algo)
    print(f"{what}: downloading {url} into {dest.parent} ...", file=sys.stderr, flush=True)
    try:
        try:
            with os.fdopen(fd, "wb") as f, urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as resp:
                os.fchmod(f.fileno(), 0o644)  # mkstemp makes it 0600; a data file is readable like any download
                for block in iter(lambda: resp.read(1 << 20), b""):
                    digest.update(block)
                    f.write(block)
        except (urllib.error.URLError, OSError, ValueError) as e:
            reason = e.reason if type(e) is urllib.error.URLError else e
            raise FilesMissing(f"{what}: the download of {url} failed ({reason}); offline? "
                               f"{how_to_fix}") from e
        got = digest.hexdigest()
        if got != expected:
            raise ChecksumMismatch(f"{url}: {algo} {got} is not the expected {expected}; the download "
                                   f"was refused and deleted, never opened. {how_to_fix}")
        os.replace(tmp, dest)
        return dest
    finally:
        tmp.unlink(missing_ok=True)


def check_member_name(name: str) -> None:
    parts = re.split(r"[\\/]", name)
    if (not name or name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) or ".." in parts
            or "\0" in name):
        raise UnsafeArchive(f"refused archive member {name!r}: absolute path or '..' outside the "
                            f"extraction folder")


def check_tar_members(tar: tarfile.TarFile, source: str | os.PathLike = "") -> list[tarfile.TarInfo]:
    """Every member of ``tar``, after checking all of them: plain files and folders with
    relative names that stay inside the folder; anything else refuses the whole archive."""
    members = tar.getmembers()
    for m in members:
        try:
            check_member_name(m.name)
        except UnsafeArchive as e:
            raise UnsafeArchive(f"{source}: {e}") from None
        if not (m.isfile() or m.isdir()):
            raise UnsafeArchive(f"{source}: refused archive member {m.name!r}: a link or special file")
    return members
