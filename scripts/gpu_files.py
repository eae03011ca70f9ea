"""Raw data files that travel to a GPU machine in parts, and the plan of which device call carries what.

A device call carries at most 64 MiB (the working tree included), so ``pack_files`` gzips each
raw file (Rossmann's 38 MB train.csv becomes ~7 MB), cuts it into parts of at most ``part_mib``
MiB and writes ``manifest.json`` with the sha256 of every part and of every whole file.
``unpack_files`` refuses a missing or changed part (naming it), joins and gunzips each file into
a data folder (skipped when a verified copy is there) and checks the whole file's sha256.
``carry_plan`` packs the prepared files into device calls of at most ``limit_mib`` and 8 paths.
Standard library only (the GPU machine has no click, tqdm or platformdirs).
"""
from __future__ import annotations

import gzip
import hashlib
import json
import os
import tempfile
from pathlib import Path

MANIFEST = "manifest.json"
MiB = 1 << 20


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(MiB), b""):
            h.update(block)
    return h.hexdigest()


def pack_files(src: Path, names: list[str], out: Path, part_mib: float = 50.0, optional: tuple = ()) -> Path:
    """``src/<name>`` for each name as gzip parts ``out/<name>.gz.NNN`` of at most ``part_mib`` MiB,
    plus ``out/manifest.json``; parts of an earlier manifest in ``out`` are removed first. A name in
    ``optional`` is left out when ``src`` lacks it; any other missing file stops, named."""
    src, out = Path(src), Path(out)
    names = [n for n in names if n not in optional or (src / n).is_file()]
    missing = [str(src / n) for n in names if not (src / n).is_file()]
    if missing:
        raise SystemExit(f"not found: {', '.join(missing)}; point the option at the folder that holds them")
    _remove_old(out)
    out.mkdir(parents=True, exist_ok=True)
    limit = max(1, int(part_mib * MiB))
    manifest: dict = {"format": 1, "files": {}}
    for name in names:
        data = (src / name).read_bytes()
        packed = gzip.compress(data, compresslevel=6, mtime=0)  # mtime 0: the same input, the same parts
        parts = []
        for i, lo in enumerate(range(0, len(packed), limit)):
            chunk = packed[lo:lo + limit]
            path = out / f"{name}.gz.{i:03d}"
            path.write_bytes(chunk)
            parts.append({"file": path.name, "bytes": len(chunk), "sha256": sha256_bytes(chunk)})
        manifest["files"][name] = {"bytes": len(data), "sha256": sha256_bytes(data), "parts": parts}
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1))
    return out / MANIFEST


def _remove_old(out: Path) -> None:
    """The parts an earlier ``pack_files`` left in ``out`` (only the files its manifest names)."""
    mpath = out / MANIFEST
    if not mpath.is_file():
        return
    for entry in json.loads(mpath.read_text()).get("files", {}).values():
        for part in entry.get("parts", []):
            (out / Path(part["file"]).name).unlink(missing_ok=True)
    mpath.unlink()


def read_manifest(folder: Path) -> dict:
    mpath = Path(folder) / MANIFEST
    if not mpath.is_file():
        raise SystemExit(f"{mpath} not found: prepare the data first (scripts/gpu_all.py prepare) "
                         f"and carry {folder} to this machine")
    return json.loads(mpath.read_text())


def check_parts(folder: Path) -> list[str]:
    """What is wrong with the parts in ``folder`` (this module's manifest or gpu_vision's): one line
    per missing or changed part; empty when all are there and intact."""
    folder = Path(folder)
    problems = []
    manifest = read_manifest(folder)
    for entry in (manifest.get("files") or manifest.get("arrays") or {}).values():  # ours, or gpu_vision's
        for part in entry["parts"]:
            path = folder / Path(part["file"]).name  # a name in the folder, never a path elsewhere
            if not path.is_file():
                problems.append(f"{path}: missing (listed in {folder / MANIFEST}); carry it or prepare again")
            elif sha256_file(path) != part["sha256"]:
                problems.append(f"{path}: sha256 differs from {folder / MANIFEST}; prepare the parts again")
    return problems


def unpack_files(folder: Path, dest: Path) -> Path:
    """Every file of ``folder``'s manifest, verified, as ``dest/<name>``; returns ``dest``."""
    folder, dest = Path(folder), Path(dest)
    problems = check_parts(folder)
    if problems:
        raise SystemExit("\n".join(problems))
    dest.mkdir(parents=True, exist_ok=True)
    for name, entry in read_manifest(folder)["files"].items():
        target = dest / Path(name).name
        if target.is_file() and not target.is_symlink() and sha256_file(target) == entry["sha256"]:
            continue
        packed = b"".join((folder / Path(p["file"]).name).read_bytes() for p in entry["parts"])
        data = gzip.decompress(packed)
        if sha256_bytes(data) != entry["sha256"]:
            raise SystemExit(f"{folder}: {name} joined from its parts differs from {folder / MANIFEST}; "
                             "prepare the parts again")
        fd, tmp = tempfile.mkstemp(dir=dest, prefix=f".{target.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, target)  # readers never see half a file
    return dest


def carry_plan(root: Path, folders: list[Path], limit_mib: float = 56.0, max_paths: int = 8
               ) -> list[tuple[list[str], int]]:
    """Device calls that carry every file under ``folders`` (paths relative to ``root``): at most
    ``limit_mib`` MiB and ``max_paths`` paths each; a folder that fits one call travels whole.
    The lightest call comes last: it is the one that also runs the benchmark."""
    root = Path(root).resolve()

    def rel(p: Path) -> str:
        return os.path.relpath(Path(p).resolve(), root)

    items: list[tuple[str, int]] = []
    for folder in folders:
        files = sorted(p for p in Path(folder).rglob("*") if p.is_file())
        size = sum(p.stat().st_size for p in files)
        if size <= limit_mib * MiB:
            items.append((rel(folder), size))
        else:
            items += [(rel(p), p.stat().st_size) for p in files]
    calls: list[list] = []  # [paths, bytes]
    for path, size in sorted(items, key=lambda x: -x[1]):  # first fit, largest first
        if size > limit_mib * MiB:
            raise SystemExit(f"{path} is {size / MiB:.1f} MiB, more than one call carries ({limit_mib} MiB); "
                             "prepare it in smaller parts (--part-mib)")
        call = next((c for c in calls if c[1] + size <= limit_mib * MiB and len(c[0]) < max_paths), None)
        if call is None:
            calls.append([[path], size])
        else:
            call[0].append(path)
            call[1] += size
    return [(paths, used) for paths, used in sorted(calls, key=lambda c: -c[1])]
