"""The result store: one JSON file per run record, written atomically, read tolerantly."""
from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterator

from bench.data.paths import open_nofollow
from bench.core.spec import STATUSES, RunRecord


class StoreError(OSError):
    """A results folder (or output file) that cannot be written: read-only, full, no permission.

    Carries one message that names the folder and says what to do; callers print it and stop."""

    def __init__(self, folder: Path, cause: OSError, option: str = "--results-dir", what: str = "results folder"):
        super().__init__(cause.errno, cause.strerror or str(cause))
        self.folder, self.cause, self.option, self.what = Path(folder), cause, option, what

    def __str__(self) -> str:
        reason = f"[Errno {self.cause.errno}] {self.cause.strerror}" if self.cause.errno else str(self.cause)
        if self.cause.errno in (errno.ENOSPC, errno.EDQUOT):
            fix = "free space there"
        elif self.cause.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            fix = "make it writable"
        else:
            fix = "check that folder"
        return f"cannot write to {self.what} {self.folder}: {reason}; {fix} or pass {self.option}"


@contextlib.contextmanager
def writing(folder: Path, option: str = "--results-dir", what: str = "results folder") -> Iterator[None]:
    """Turn any OSError raised while writing under ``folder`` into one StoreError naming it."""
    try:
        yield
    except StoreError:
        raise
    except OSError as exc:
        raise StoreError(folder, exc, option, what) from exc


# -- what a record read back must look like: every RunRecord field, and the nested parts readers use
_TEXT = ("device", "hardware", "suite", "label", "command", "started_at", "finished_at")
_OBJECTS = ("spec", "versions", "split", "dataset", "method", "info", "overrides", "layout")
_SECONDS = ("fit_seconds", "predict_seconds", "peak_memory_mb")
_HISTORY_NUMBERS = ("epoch", "train_loss", "train_error", "valid_accuracy")  # what plots draw


def _is_number(v: Any) -> bool:
    """A real number JSON can hold (NaN and infinities included: tables flag them); never a bool."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return False
    try:
        float(v)
    except OverflowError:  # an integer too large for a float
        return False
    return True


_MISSING = object()


def _need(ok: bool, field: str, what: str, got: Any = _MISSING) -> None:
    if ok:
        return
    if got is _MISSING:
        raise ValueError(f"field `{field}` is missing; it must be {what}")
    raise ValueError(f"field `{field}` must be {what}, got {type(got).__name__} {json.dumps(got, default=str)[:60]}")


def validate_record(data: Any) -> RunRecord:
    """A RunRecord from a parsed JSON file, or ValueError naming the first mistyped field.

    Readers (tables, report, export, resume) then never meet a string where they add numbers."""
    _need(isinstance(data, dict), "(record)", "a JSON object", data)
    for name, what in (("key", "a non-empty string"), ("spec_id", "a non-empty string"),
                       ("status", f"one of {', '.join(STATUSES)}"), ("spec", "an object")):
        _need(name in data, name, what)
    for name in ("key", "spec_id"):
        _need(isinstance(data[name], str) and data[name] != "", name, "a non-empty string", data[name])
    _need(data["status"] in STATUSES, "status", f"one of {', '.join(STATUSES)}", data["status"])
    for name in _OBJECTS:
        if name in data:
            _need(isinstance(data[name], dict), name, "an object", data[name])
    for name in _TEXT:
        if name in data:
            _need(isinstance(data[name], str), name, "a string", data[name])
    for name in _SECONDS:
        if data.get(name) is not None:
            _need(_is_number(data[name]), name, "a number or null", data[name])
    if data.get("threads") is not None:
        _need(isinstance(data["threads"], int) and not isinstance(data["threads"], bool) and data["threads"] > 0,
              "threads", "a positive integer or null", data["threads"])
    if data.get("error") is not None:
        _need(isinstance(data["error"], str), "error", "a string or null", data["error"])
    metrics = data.get("metrics", {})
    _need(isinstance(metrics, dict), "metrics", "an object of numbers", metrics)
    for m, v in metrics.items():
        _need(_is_number(v), f"metrics.{m}", "a number", v)
    for name, value in data.get("versions", {}).items():
        _need(isinstance(value, str), f"versions.{name}", "a string", value)
    _check_nested(data)
    history = data.get("history", [])
    _need(isinstance(history, list), "history", "a list of objects", history)
    for i, row in enumerate(history):
        _need(isinstance(row, dict), f"history[{i}]", "an object", row)
        for name in _HISTORY_NUMBERS:
            if name in row:
                _need(_is_number(row[name]), f"history[{i}].{name}", "a number", row[name])
        if any(k in row for k in _HISTORY_NUMBERS[1:]):
            _need("epoch" in row, f"history[{i}].epoch", "a number")
    return RunRecord.from_dict(data)


def _check_nested(data: dict[str, Any]) -> None:
    """The parts of spec, split, dataset and method that tables, plots and export look inside."""
    spec, split = data["spec"], data.get("split", {})
    dataset, method = data.get("dataset", {}), data.get("method", {})
    for name in ("params", "dataset_params"):
        if spec.get(name) is not None:
            _need(isinstance(spec[name], dict), f"spec.{name}", "an object", spec[name])
    if split.get("sizes") is not None:
        _need(isinstance(split["sizes"], dict), "split.sizes", "an object", split["sizes"])
    if "fingerprint" in split:
        _need(isinstance(split["fingerprint"], str), "split.fingerprint", "a string", split["fingerprint"])
    if "metrics" in dataset:
        _need(isinstance(dataset["metrics"], list) and all(isinstance(m, str) for m in dataset["metrics"]),
              "dataset.metrics", "a list of metric names", dataset["metrics"])
    if dataset.get("source_hash") is not None:
        _need(isinstance(dataset["source_hash"], str), "dataset.source_hash", "a string", dataset["source_hash"])
    for part, name in ((dataset, "dataset"), (method, "method")):
        if part.get("identity") is not None:
            _need(isinstance(part["identity"], str), f"{name}.identity", "a string", part["identity"])
    origin = method.get("origin", {})
    _need(isinstance(origin, dict), "method.origin", "an object", origin)
    if origin.get("source_hash") is not None:
        _need(isinstance(origin["source_hash"], str), "method.origin.source_hash", "a string", origin["source_hash"])


def non_finite(rec: RunRecord) -> list[str]:
    """The metrics (and fit time) of a record that are NaN or infinite: never a result."""
    bad = [m for m, v in rec.metrics.items() if not math.isfinite(v)]
    if rec.fit_seconds is not None and not math.isfinite(rec.fit_seconds):
        bad.append("fit_seconds")
    return bad


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

    def check_writable(self) -> None:
        """Raise StoreError now if runs/ cannot be written (read-only, full, no permission), so a
        suite stops before its first run instead of after it. Probes with a folder made and removed
        where runs/ is, or where it would be created: leaves nothing behind."""
        here = next(d for d in (self.runs, *self.runs.parents) if d.exists() or d.is_symlink())
        with writing(self.runs):
            os.rmdir(tempfile.mkdtemp(dir=here, prefix=".bench-probe."))

    def put(self, record: RunRecord) -> Path:
        """Write to a temporary file in the same folder, then rename: readers never see half a record.

        Any failure to write (read-only folder, full disk, no permission) leaves no temporary file
        and raises StoreError naming the folder."""
        with writing(self.runs):
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
                with contextlib.suppress(OSError):
                    Path(tmp).unlink(missing_ok=True)
                raise
        return target

    def _read(self, p: Path) -> RunRecord | None:
        try:
            with open_nofollow(p) as f:  # a link planted in a (committed) results folder is not followed
                data = json.loads(f.read())
            return validate_record(data)
        except (ValueError, TypeError, OSError) as exc:
            if (p, str(exc)) not in self.corrupt:  # several readers of one store: warn once per file
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
