"""Safe archive reading and extraction: no member may land outside the folder it belongs to.

Every member is checked before anything is written (no absolute path, no ``..``, no link or
device); tar extraction also goes through the standard library's ``filter="data"``. Archives are
unpacked into a temporary folder beside the destination and moved into place, so a
reader never sees half a release. Only open archives whose checksum was verified
(``bench.data.download``).
"""
from __future__ import annotations

import os
import re
import shutil
import tarfile
import uuid
import zipfile
from pathlib import Path

MAX_UNPACKED_BYTES = 8 << 30  # refuse archives that claim to unpack to more


class UnsafeArchive(ValueError):
    """An archive member would land outside the extraction folder (absolute path, ``..``, link)."""


def check_member_name(name: str) -> None:
    parts = re.split(r"[\\/]", name)
    if (not name or name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) or ".." in parts
            or "\0" in name):
        raise UnsafeArchive(f"refused archive member {name!r}: absolute path or '..' outside the "
                            f"extraction folder")


def tar_members(tar: tarfile.TarFile, source: str | os.PathLike = "") -> list[tarfile.TarInfo]:
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


def zip_members(zf: zipfile.ZipFile, source: str | os.PathLike = "",
                max_bytes: int = MAX_UNPACKED_BYTES) -> list[zipfile.ZipInfo]:
    """Every member of ``zf``, after checking all of them (names, no symbolic links, total size)."""
    members = zf.infolist()
    for info in members:
        try:
            check_member_name(info.filename)
        except UnsafeArchive as e:
            raise UnsafeArchive(f"{source}: {e}") from None
        if (info.external_attr >> 16) & 0o170000 == 0o120000:
            raise UnsafeArchive(f"{source}: refused archive member {info.filename!r}: a symbolic link")
    if sum(i.file_size for i in members) > max_bytes:
        raise UnsafeArchive(f"{source}: claims to unpack to more than {max_bytes >> 30} GiB")
    return members


def _scratch(dest_root: Path, name: str) -> Path:
    tmp = dest_root / f".{name}.extract-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir(parents=True)
    return tmp


def _move_into_place(src: Path, final: Path) -> Path:
    """``src`` becomes ``final`` in one rename; an existing ``final`` only gets what it lacks."""
    try:
        os.replace(src, final)  # new (or empty) folder: one atomic move
    except OSError:
        for path in sorted(src.rglob("*")):
            target = final / path.relative_to(src)
            if path.is_file() and not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(path, target)
    return final


def extract_tar(tar_path: str | os.PathLike, dest_root: str | os.PathLike, name: str) -> Path:
    """Extract a (verified) tar archive so that ``<dest_root>/<name>/`` holds its folder ``name``
    (or all of it, when it has no such top folder); returns that folder."""
    dest_root = Path(dest_root)
    with tarfile.open(tar_path) as tar:
        tar_members(tar, tar_path)
        tmp = _scratch(dest_root, name)
        try:
            tar.extractall(tmp, filter="data")
            return _move_into_place(tmp / name if (tmp / name).is_dir() else tmp, dest_root / name)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def extract_zip(zip_path: str | os.PathLike, dest_root: str | os.PathLike, name: str,
                required: str = "", max_bytes: int = MAX_UNPACKED_BYTES) -> Path:
    """Extract a (verified) zip archive so that ``<dest_root>/<name>/`` holds its folder ``name``
    (or all of it); ``required``: a file that must be in it. Returns that folder."""
    dest_root = Path(dest_root)
    try:
        zf = zipfile.ZipFile(zip_path)
    except zipfile.BadZipFile as e:
        raise ValueError(f"{zip_path}: not a zip archive ({e})") from e
    with zf:
        members = zip_members(zf, zip_path, max_bytes)
        tmp = _scratch(dest_root, name)
        try:
            root = tmp.resolve()
            for info in members:
                target = (tmp / info.filename).resolve()
                if root not in target.parents and target != root:  # belt and braces
                    raise UnsafeArchive(f"{zip_path}: refused archive member {info.filename!r}: outside the folder")
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
            src_folder = tmp / name if (tmp / name).is_dir() else tmp
            if required and not (src_folder / required).exists():
                raise ValueError(f"{zip_path}: the archive has no {name}/{required}")
            return _move_into_place(src_folder, dest_root / name)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
