"""Progress of a suite run: done / failed / remaining and an ETA, as a bar on a terminal and as
one line per finished run otherwise (logs, CI)."""
from __future__ import annotations

import sys
import time
from typing import Callable

from bench.core.spec import FAILED


def _clock(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Progress:
    def __init__(self, total: int, show: bool = True, echo: Callable[[str], None] = print):
        self.total, self.done, self.failed = total, 0, 0
        self.echo = echo
        self.t0 = time.perf_counter()
        self.bar = None
        if show and total and sys.stderr.isatty():
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, unit="run", dynamic_ncols=True)

    @property
    def remaining(self) -> int:
        return self.total - self.done

    def eta(self) -> float | None:
        if not self.done:
            return None
        return (time.perf_counter() - self.t0) / self.done * self.remaining

    def advance(self, status: str, message: str) -> None:
        self.done += 1
        self.failed += status in FAILED
        if self.bar is not None:
            self.bar.write(message)
            self.bar.set_postfix(done=self.done, failed=self.failed, remaining=self.remaining, refresh=False)
            self.bar.update(1)
            return
        eta = self.eta()
        self.echo(f"{message} [{self.done}/{self.total} done, {self.failed} failed, {self.remaining} left"
                  + (f", ETA {_clock(eta)}" if eta is not None and self.remaining else "") + "]")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
