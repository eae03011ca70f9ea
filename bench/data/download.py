"""One verified download: a URL streamed into a temporary file beside its destination while it is
hashed, kept (renamed into place) only when the digest is the pinned one.

The rule (DESIGN.md, Data): never open an archive whose checksum has not been checked. A file
that is refused is deleted, never opened; the error names the URL, the file and both digests.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from bench.core.dataset import FilesMissing
from bench.data.paths import private_dir

DOWNLOAD_TIMEOUT_S = 60


class ChecksumMismatch(ValueError):
    """A file does not have its pinned checksum; it is refused (and a fresh download deleted)."""


def file_checksum(path: str | os.PathLike, algo: str = "sha256") -> str:
    """The hex digest of a file, read in blocks (``hashlib.file_digest``)."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, algo).hexdigest()


def verify(path: str | os.PathLike, algo: str, expected: str, how_to_fix: str = "") -> None:
    """Raise :class:`ChecksumMismatch` unless ``path`` has the ``algo`` digest ``expected``."""
    got = file_checksum(path, algo)
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


def download_root(data_dir: Path, cache_dir: Path, what: str, how_to_fix: str) -> Path:
    """Where a download goes: the data folder when it is writable, else ``<cache>/downloads``
    (private); :class:`bench.FilesMissing` when neither is."""
    data_dir, cache_dir = Path(data_dir), Path(cache_dir)
    if writable(data_dir):
        return data_dir
    dest = cache_dir / "downloads"
    if not writable(dest, private=True):
        raise FilesMissing(f"{what}: neither {data_dir} nor {dest} is writable, so nothing can be "
                           f"downloaded. {how_to_fix}")
    return dest


def download(url: str, dest: str | os.PathLike, algo: str, expected: str, what: str, how_to_fix: str) -> Path:
    """Download ``url`` to ``dest`` (atomically: a temporary file, then one rename) when its
    ``algo`` digest is ``expected``.

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
            reason = e.reason if type(e) is urllib.error.URLError else e  # HTTPError: "HTTP Error 404: ..."
            raise FilesMissing(f"{what}: the download of {url} failed ({reason}); offline? "
                               f"{how_to_fix}") from e
        got = digest.hexdigest()
        if got != expected:
            raise ChecksumMismatch(f"{url}: {algo} {got} is not the expected {expected}; the download "
                                   f"(for {dest}) was refused and deleted, never opened. {how_to_fix}")
        os.replace(tmp, dest)
        return dest
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
