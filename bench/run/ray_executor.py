"""``--executor ray``: the same run specs as Ray tasks, one per run with its CPU/GPU request.

The driver (this process) keeps planning, claiming and writing records, exactly as with local
workers; a Ray task loads only the plugin files its run needs (by path: plugin folders and the
data folder must be at the same paths on every node, e.g. a shared filesystem, or bench installed
there) and returns the record. Without ``--address`` a local Ray instance is started.

Limits: a run's time limit counts from its submission (at most as many runs are in flight as the
cluster has CPUs, or ``--jobs``); memory is left to Ray's own memory monitor, whose kills are
recorded as ``oom``. A dead Ray worker is recorded as ``crashed``. Each record names the Ray node
that ran it (``info["node"]``: node id, name, IP, hostname) and that node's hardware. Runs are spread
over the nodes (Ray's ``SPREAD`` strategy) so that fewer runs share a node's CPUs and memory
bandwidth; ``RayExecutor(..., scheduling="DEFAULT")`` packs them instead.
"""
from __future__ import annotations

import dataclasses
import os
import socket
import time
from pathlib import Path

from bench.core.spec import RunRecord

_REGISTRIES: dict = {}


def execute_remote(sources: dict, spec, files: list[str], entry_points: bool, opts) -> dict:
    """Runs in a Ray worker process: load what this run needs, execute it, return the record."""
    from bench.plugins.registry import partial
    from bench.run.execute import execute, load_task

    key = repr(sorted(sources.items()))
    _REGISTRIES[key] = partial(sources, files, entry_points, into=_REGISTRIES.get(key))
    registry = _REGISTRIES[key]
    if opts.device.startswith("cuda"):  # Ray gave this task one GPU: the record names it
        import ray

        opts = dataclasses.replace(opts, device_label=f"cuda:{ray.get_gpu_ids()[0]}")
    task = load_task(registry, spec, opts.data_dir, opts.cache_dir)
    rec = execute(registry, spec, task, opts)  # built here, so its hardware is this node's
    rec.info["node"] = node_info()
    return rec.to_dict()


def node_info() -> dict:
    """Which Ray node this process runs on (several nodes may share a hostname or an IP): its id,
    name and IP as the cluster knows them, and this machine's hostname."""
    import ray

    node_id = ray.get_runtime_context().get_node_id()
    node = next((n for n in ray.nodes() if n["NodeID"] == node_id), {})
    return {"id": node_id, "name": node.get("NodeName", ""), "ip": node.get("NodeManagerAddress", ""),
            "hostname": socket.gethostname()}


def _checkout_root() -> str:
    """The folder holding the `bench` package this driver runs, so Ray workers import the same."""
    return str(Path(__file__).resolve().parents[2])


class RayExecutor:
    def __init__(self, opts, registry, scheduling: str = "SPREAD"):
        self.opts, self.registry, self.scheduling = opts, registry, scheduling

    def _connect(self):
        try:
            import ray
        except ImportError:
            raise RuntimeError("--executor ray needs Ray: pip install 'bench[ray]'") from None
        owned = False
        if not ray.is_initialized():
            path = os.pathsep.join(p for p in (_checkout_root(), os.environ.get("PYTHONPATH")) if p)
            ray.init(address=self.opts.address, include_dashboard=False, log_to_driver=False,
                     runtime_env={"env_vars": {"PYTHONPATH": path}})
            owned = True
        return ray, owned

    def run(self, queue, finished) -> None:
        ray, owned = self._connect()
        from ray import exceptions as rx

        from bench.run.execute import now, base_record

        gpu = 1 if self.opts.device.startswith("cuda") else 0
        opts = dataclasses.replace(self.opts, show_progress=False, device_label="")
        if gpu:
            opts = dataclasses.replace(opts, device="cuda")  # each task sees the GPU Ray gave it
        remote = ray.remote(execute_remote).options(num_cpus=1, num_gpus=gpu, max_retries=0,
                                                   scheduling_strategy=self.scheduling)
        capacity = max(1, int(self.opts.jobs if self.opts.jobs > 1 else ray.cluster_resources().get("CPU", 1)))
        flying: dict = {}  # ObjectRef -> (job, submitted at)

        def record(job, status: str, error: str, ip: str | None = None) -> None:
            """A record made here for a task that returned none: this machine's hardware only
            when the Ray instance is this process's own (on another node it would be wrong)."""
            rec = base_record(self.registry, job.spec, job.meta, self.opts)
            rec.key, rec.status, rec.error, rec.finished_at = job.key, status, error, now()
            rec.info["executor"] = "ray"
            if self.opts.address is not None:  # a cluster's node, maybe not this machine
                rec.hardware = ""
            if ip:
                rec.info["node"] = {"ip": ip}
            finished(job, rec)

        try:
            while len(queue) or flying:
                while len(flying) < capacity and len(queue):
                    job = queue.next()
                    if job is None:
                        break
                    files = [p for p in (job.method_origin.path, job.dataset_origin.path) if p]
                    eps = job.method_origin.path is None or job.dataset_origin.path is None
                    ref = remote.remote(self.registry.sources, job.spec, files, eps, opts)
                    flying[ref] = (job, time.monotonic())
                if not flying:
                    continue
                done, _ = ray.wait(list(flying), num_returns=1, timeout=0.1)
                for ref in done:
                    job, _ = flying.pop(ref)
                    try:
                        rec = RunRecord.from_dict(ray.get(ref))
                        rec.info["executor"] = "ray"
                        finished(job, rec)
                    except rx.OutOfMemoryError as exc:
                        record(job, "oom", f"Ray's memory monitor killed the task: {str(exc).splitlines()[0]}")
                    except (rx.WorkerCrashedError, rx.NodeDiedError, rx.LocalRayletDiedError) as exc:
                        record(job, "crashed", f"the Ray worker died during this run: {type(exc).__name__}")
                    except rx.RayTaskError as exc:
                        record(job, "failed", str(exc).strip().splitlines()[-1], getattr(exc, "ip", None))
                now = time.monotonic()
                for ref, (job, since) in list(flying.items()):
                    if job.timeout is not None and now - since > job.timeout:
                        ray.cancel(ref, force=True)
                        flying.pop(ref)
                        record(job, "timeout", f"passed its time limit of {job.timeout:g}s and was cancelled")
        finally:
            for ref in flying:
                ray.cancel(ref, force=True)
            if owned:
                ray.shutdown()
