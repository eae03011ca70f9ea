"""The result store: one JSON file per run record, written atomically, read tolerantly."""
from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Iterator

from .paths import open_nofollow
from .spec import RunRecord


class Store:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.runs = self.root / "runs"
        self.corrupt: list[tuple[Path, str]] = []

    def path(self, key: str) -> Path:
        return self.runs / f"{key}.json"

    def get(self, key: str) -> RunRecord | None:
        p = self.path(key)
        if not p.exists():
            return None
        return self._read(p)

    def has_ok(self, key: str) -> bool:
        rec = self.get(key)
        return rec is not None and rec.status == "ok"

    def put(self, record: RunRecord) -> Path:
        """Write to a temporary file in the same folder, then rename: readers never see half a record."""
        self.runs.mkdir(parents=True, exist_ok=True)
        target = self.path(record.key)
        fd, tmp = tempfile.mkstemp(dir=self.runs, prefix=f".{record.key}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(record.to_dict(), f, indent=1, sort_keys=True, default=str)
                f.write("\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target

    def _read(self, p: Path) -> RunRecord | None:
        try:
            with open_nofollow(p) as f:  # a link planted in a (committed) results folder is not followed
                data = json.loads(f.read())
            if not isinstance(data, dict):
                raise ValueError(f"expected a JSON object, got {type(data).__name__}")
            return RunRecord.from_dict(data)
        except (ValueError, TypeError, OSError) as exc:
            self.corrupt.append((p, str(exc)))
            print(f"warning: skipping corrupt record {p}: {exc}", file=sys.stderr)
            return None

    def records(self) -> Iterator[RunRecord]:
        if not self.runs.is_dir():
            return
        for p in sorted(self.runs.glob("*.json")):
            rec = self._read(p)
            if rec is not None:
                yield rec
