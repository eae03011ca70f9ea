"""Where tensors live and how they are computed: device names, mixed precision, seeding.

Kept apart from the training loop so that a plugin can resolve its device and seed its
model's initialisation before it builds the model, with the same rules the loop uses.
"""
from __future__ import annotations

import contextlib
from typing import Iterator

import torch


def resolve_device(spec: str | torch.device | None = "auto") -> torch.device:
    """``"auto"``/None -> the first GPU when there is one, else the CPU; ``"cuda[:N]"``, ``"cpu"`` as named.

    Asking for CUDA on a machine without it is an error, never a silent CPU fallback: a run
    record must say truthfully where it ran.
    """
    if isinstance(spec, torch.device):
        device = spec
    elif spec is None or spec == "auto":
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device(spec)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {str(device)!r} requested but CUDA is not available here; "
                           f"use device 'cpu' or 'auto'")
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    return device


def autocast(device: torch.device, enabled: bool = True, dtype: torch.dtype = torch.bfloat16,
             cpu: bool = False):
    """Mixed precision for the forward pass: bf16 autocast on CUDA, a no-op elsewhere.

    bf16 has fp32's exponent range, so no loss scaling is needed. On the CPU autocast is off
    unless ``cpu=True`` (bf16 matmuls are slower than fp32 on most CPUs; tests use it to
    exercise the path).
    """
    if enabled and (device.type == "cuda" or (cpu and device.type == "cpu")):
        return torch.autocast(device_type=device.type, dtype=dtype)
    return contextlib.nullcontext()


@contextlib.contextmanager
def seeded(seed: int, device: torch.device | str | None = None) -> Iterator[None]:
    """Seed torch's global generators inside the block and restore the caller's state afterwards.

    Initialisation and dropout draw from the global generators; forking keeps a fit from
    changing the random stream of whoever called it. On the CPU a seed gives bitwise-equal
    results; CUDA kernels (atomics in index backward, cuBLAS split-K) are not bitwise
    deterministic, so GPU runs agree only to float tolerance.
    """
    device = resolve_device(device) if device is not None else torch.device("cpu")
    devices = [device.index] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def generator(seed: int, device: torch.device) -> torch.Generator:
    """A private generator on ``device`` for the batch permutations (independent of dropout's)."""
    g = torch.Generator(device=device)
    g.manual_seed(seed)
    return g


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work, so that wall-clock timings mean what they say."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
