"""How worker processes start: forked from a fork server that has bench and scikit-learn loaded."""
from __future__ import annotations

import multiprocessing as mp

# What the fork server imports once, so that each worker starts with them loaded: every run scores
# with scikit-learn's metrics, whose import (scipy.stats) took ~2 s of each spawned worker's start.
# Never torch: a CUDA context does not survive a fork (workers import it themselves).
PRELOAD = ("bench.run.worker_process", "bench.run.execute", "bench.core.metrics", "pandas", "sklearn.metrics")


def worker_context() -> mp.context.BaseContext:
    """Workers start from a fork server (spawned once per parent process, then forked from: a
    worker starts in milliseconds, not seconds) where the platform has one, else by spawning."""
    if "forkserver" not in mp.get_all_start_methods():
        return mp.get_context("spawn")
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(list(PRELOAD))
    return ctx
