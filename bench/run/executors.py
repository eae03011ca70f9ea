"""Where runs execute: worker processes on this machine (default), this very process (no
isolation; for debugging with pdb), or a Ray cluster. Each executor takes claimed jobs from a
JobQueue and reports each run's record through ``finished(job, record)``."""
from __future__ import annotations

EXECUTORS = ("local", "inline", "ray")


class InlineExecutor:
    """One run after another in this process: no isolation, no limits enforced."""

    def __init__(self, opts, registry):
        self.opts, self.registry = opts, registry

    def run(self, queue, finished) -> None:
        from bench.run.execute import execute, load_task

        while len(queue):
            job = queue.next()
            if job is None:
                continue
            task = load_task(self.registry, job.spec, self.opts.data_dir, self.opts.cache_dir)
            finished(job, execute(self.registry, job.spec, task, self.opts))


def make_executor(opts, registry):
    if opts.executor == "inline":
        return InlineExecutor(opts, registry)
    if opts.executor == "ray":
        from bench.run.ray_executor import RayExecutor

        return RayExecutor(opts, registry)
    from bench.run.workers import LocalExecutor

    return LocalExecutor(opts, registry)
