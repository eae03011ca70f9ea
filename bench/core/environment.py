"""Facts about the machine and software that go into every record and table footnote."""
from __future__ import annotations

import os
import platform
import sys
import threading
from functools import lru_cache
from importlib import metadata

import psutil

_PACKAGES = ("bench", "numpy", "pandas", "scikit-learn", "xgboost", "torch", "torchvision", "fastai", "scikit-surprise")


@lru_cache(maxsize=None)
def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in _PACKAGES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            if pkg == "bench":
                from bench.version import __version__

                out[pkg] = __version__ + " (source)"
    return out


@lru_cache(maxsize=None)
def cpu_name() -> str:
    """The CPU's model name. Read from /proc/cpuinfo: psutil and platform do not report it on Linux."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return f"{line.split(':', 1)[1].strip()} ({os.cpu_count()} cores)"
    except OSError:
        pass
    return f"{platform.processor() or platform.machine()} ({os.cpu_count()} cores)"


def gpu_device_files() -> bool:
    """Whether this machine shows a GPU device to processes (NVIDIA's /dev/nvidia*, AMD's /dev/kfd);
    True where that cannot be known (not Linux), so torch then decides."""
    if not sys.platform.startswith("linux"):
        return True
    import glob

    return bool(glob.glob("/dev/nvidia[0-9]*") or os.path.exists("/dev/kfd"))


def resolve_device(requested: str = "auto") -> str:
    """'auto' picks CUDA when torch sees a GPU; torch is imported only when it matters."""
    if requested == "cpu" or (requested == "auto" and not gpu_device_files()):
        return "cpu"  # no GPU device here: torch (0.5 GB, seconds) is not imported just to ask
    try:
        import torch
    except ImportError:
        if requested.startswith("cuda"):
            raise RuntimeError("--device cuda needs torch with CUDA; torch is not installed")
        return "cpu"
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"--device {requested}: torch {torch.__version__} sees no CUDA GPU here; "
                           "use --device cpu or auto")
    return requested


def hardware(device: str) -> str:
    if device.startswith("cuda"):
        import torch

        idx = torch.device(device).index or 0
        return f"{torch.cuda.get_device_name(idx)} + {cpu_name()}"
    return cpu_name()


def _rss_bytes() -> int:
    return psutil.Process().memory_info().rss


class PeakMemory:
    """Samples the process's resident memory in a thread: peak growth during the block, in MiB."""

    def __init__(self, interval: float = 0.02):
        self.interval = interval
        self.peak_mb = 0.0

    def __enter__(self) -> "PeakMemory":
        self._base = _rss_bytes()
        self._peak = self._base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            self._peak = max(self._peak, _rss_bytes())
            self._stop.wait(self.interval)  # wakes at once when the run ends

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._peak = max(self._peak, _rss_bytes())
        self.peak_mb = (self._peak - self._base) / 2**20


THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def available_cores() -> int:
    """The cores this process may use (its CPU affinity), not all the machine's."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def default_threads() -> int:
    """Threads per run when ``--threads`` is not given: this machine's available cores, the same
    whatever ``--jobs`` or the executor, so a run's number does not depend on how it was run."""
    return available_cores()


def set_thread_env(threads: int) -> None:
    """Before numerical libraries load (a fresh worker): OpenMP, MKL and OpenBLAS read these once."""
    for var in THREAD_VARS:
        os.environ[var] = str(threads)


def apply_threads(threads: int):
    """Set every thread pool this process has to ``threads`` for one run, and return the
    threadpoolctl limiter to keep alive for the run: torch's intra-op pool, and the OpenMP /
    BLAS pools of numpy, scipy and scikit-learn (already loaded, so environment variables are
    too late for them)."""
    set_thread_env(threads)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(threads)
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=threads)


def command_line() -> str:
    argv = list(sys.argv)
    if argv and argv[0].endswith(("bench", "__main__.py")):
        argv[0] = "bench"
    return " ".join(argv)
