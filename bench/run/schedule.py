"""Which job runs next, claimed in the store so that two `bench run` processes never run it twice.

Before a job is handed to an executor, this process takes its claim (bench.data.locks) under
``<results>/.claims/<key>``. A job another process holds is put aside and tried again when nothing
else is left; if that process recorded it meanwhile, its record is adopted instead of re-running.
A claim path that holds a planted link is refused (never followed): that job is reported through
``on_refuse`` and not run.

No job-queue library is used: Celery, RQ and the like need a broker process, while here the
results folder is the only thing two `bench run` processes share.
"""
from __future__ import annotations

import sys
import time
from typing import Callable

from bench.data import locks
from bench.data.paths import UnsafePath
from bench.core.spec import RunRecord
from bench.results.store import Store, writing


class JobQueue:
    def __init__(self, jobs: list, store: Store, force: bool = False):
        self.pending = list(jobs)
        self.deferred: list = []  # held by another process
        self.store = store
        self.force = force
        self.started = time.time()
        self.claims: dict[str, locks.Claim] = {}
        self.on_adopt: Callable = lambda job, rec: None
        self.on_refuse: Callable = lambda job, message: print(f"warning: {message}", file=sys.stderr)

    def __len__(self) -> int:
        return len(self.pending) + len(self.deferred)

    def claim_path(self, key: str):
        return self.store.root / ".claims" / key

    def next(self):
        """A job this process now holds the claim of, or None when every remaining one is held
        elsewhere (call again later) or nothing is left."""
        if not self.pending and self.deferred:
            self.pending, self.deferred = self.deferred, []
            time.sleep(0.1)  # the others are busy: poll gently
        while self.pending:
            job = self.pending.pop(0)
            with writing(self.store.root):  # a read-only or full results folder: one clear StoreError
                try:
                    claim = locks.try_claim(self.claim_path(job.key), locks.owner_note(run=job.spec.describe()))
                except UnsafePath as exc:  # a planted link: refused, never followed
                    self.on_refuse(job, str(exc))
                    continue
            if claim is None:
                self.deferred.append(job)
                continue
            done = self._recorded_elsewhere(job.key)
            if done is not None:
                claim.release()
                self.on_adopt(job, done)
                continue
            self.claims[job.key] = claim
            return job
        return None

    def _recorded_elsewhere(self, key: str) -> RunRecord | None:
        """A record another process wrote for this key since we started (or an ok one, unless force)."""
        path = self.store.path(key)
        try:
            fresh = path.stat().st_mtime >= self.started
        except FileNotFoundError:
            return None
        rec = self.store.get(key)
        if rec is not None and (fresh or (rec.status == "ok" and not self.force)):
            return rec
        return None

    def finish(self, job, record: RunRecord) -> None:
        """Write the record (atomically), then let go of the claim. A record that cannot be written
        raises StoreError (bench.results.store); the caller stops the suite."""
        try:
            self.store.put(record)
        finally:
            self.release(job.key)

    def release(self, key: str) -> None:
        claim = self.claims.pop(key, None)
        if claim is not None:
            claim.release()

    def release_all(self) -> None:
        for key in list(self.claims):
            self.release(key)
        try:  # leave no empty folder behind in a results folder that gets committed
            (self.store.root / ".claims").rmdir()
        except OSError:
            pass
