"""The import probe's verdicts, kept per plugin fingerprint in <cache>/plugin-probe/ as JSON (data,
never code): a plugin that imported cleanly once is not probed again until its file changes."""
from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bench.plugins.candidates import Candidate, sha256

CACHE_SUBDIR = "plugin-probe"
CACHE_FORMAT = 1
MAX_VERDICT_BYTES = 64 * 1024


def cache_folder(root: Path) -> Path | None:
    """``root/plugin-probe``, or None (no caching) when it cannot be made or is a link."""
    from bench.data.paths import private_dir

    try:
        return private_dir(Path(root) / CACHE_SUBDIR)  # 0700; a planted link is refused
    except OSError:
        return None


def key(cand: Candidate) -> dict[str, str]:
    from bench.version import __version__

    kind = "file" if cand.path else "entry-point"
    return {"python": sys.executable, "bench": __version__, "kind": kind, "sha256": cand.fingerprint}


def verdict_path(folder: Path, cand: Candidate) -> Path:
    return folder / (sha256(json.dumps(key(cand), sort_keys=True).encode()) + ".json")


def read_verdict(folder: Path, cand: Candidate) -> dict[str, Any] | None:
    """The cached verdict for exactly this candidate, or None; links and odd files are ignored."""
    from bench.data.paths import open_nofollow

    try:
        with open_nofollow(verdict_path(folder, cand)) as f:  # never a link, a FIFO or a device
            raw = f.read(MAX_VERDICT_BYTES + 1)
        data = json.loads(raw) if len(raw) <= MAX_VERDICT_BYTES else None
    except (OSError, ValueError):
        return None
    ok = (isinstance(data, dict) and data.get("format") == CACHE_FORMAT and data.get("key") == key(cand)
          and data.get("verdict") in ("survived", "fatal") and isinstance(data.get("reason", ""), str))
    return data if ok else None


def write_verdict(folder: Path, cand: Candidate, reason: str | None, run_id: str) -> None:
    """Atomically: a temporary file in the same folder, then renamed over the old verdict."""
    record = {"format": CACHE_FORMAT, "key": key(cand), "candidate": cand.id,
              "verdict": "survived" if reason is None else "fatal", "reason": reason or "",
              "probe_run": run_id, "probed_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    from bench.data.paths import atomic_write

    try:
        with atomic_write(verdict_path(folder, cand)) as f:
            f.write(json.dumps(record, indent=1).encode())
    except OSError:
        pass  # no cache this time: the next command probes again


def with_cache_note(reason: str, folder: Path | None, cand: Candidate) -> str:
    if folder is None:
        return reason
    what = "the file changes" if cand.path else "the distribution changes"
    return (f"{reason}\n(seen in a separate probe process, so bench did not import it; this verdict is kept "
            f"in {verdict_path(folder, cand)} until {what}: delete that file to probe again)")
