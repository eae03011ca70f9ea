"""How much the shared loop costs over a bare training step: ``python -m bench.perf.overhead``.

The bare step is forward, loss, backward and optimizer step on batches gathered beforehand;
the core is :func:`bench.nn.fit` over the same rows for one epoch (permutation, slicing,
schedule lookups, on-device loss accumulation, optimizer construction included; no
validation). Two measurements per batch size:

- ``ee``: the entity-embedding network's shape on Rossmann (7 embeddings -> 1000 -> 500 -> 1),
  bare vs core, trials alternating so a noisy machine hurts both alike (median and best);
- ``machinery``: the same with a one-parameter model, whose step costs almost nothing, so
  the difference is the loop's own cost per step; divided by the ee bare step it estimates
  the overhead without the noise of timing two long runs against each other.

Times are process CPU time (robust to other jobs; with more than one thread it also counts
OpenMP spinning) and wall time. On a shared machine use ``--threads 1``.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

from bench.nn.device import resolve_device, seeded, synchronize
from bench.nn.optim import make_optimizer, param_groups
from bench.nn.train import TrainConfig, fit

CARDS = (1115, 7, 2, 3, 12, 31, 12)  # store, day_of_week, promo, year, month, day, state
DIMS = (10, 6, 1, 2, 6, 10, 6)


class EENet(nn.Module):
    def __init__(self, cards=CARDS, dims=DIMS, hidden=(1000, 500)):
        super().__init__()
        self.embeds = nn.ModuleList(nn.Embedding(c, d) for c, d in zip(cards, dims))
        layers, width = [], sum(dims)
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        self.body = nn.Sequential(*layers, nn.Linear(width, 1))

    def forward(self, x):
        h = torch.cat([e(x[:, i]) for i, e in enumerate(self.embeds)], 1)
        return self.body(h).squeeze(1)


class OneParam(nn.Module):
    """A model whose step is nearly free: what remains is the loop around it."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return self.w.expand(len(x))


def data(n: int, device: torch.device):
    g = torch.Generator().manual_seed(0)
    x = torch.stack([torch.randint(c, (n,), generator=g) for c in CARDS], 1).to(device)
    y = torch.rand(n, generator=g).to(device)
    return x, y


def _clock(fn) -> tuple[float, float]:
    t0, c0 = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t0, time.process_time() - c0


def _bare(model, opt, batches) -> None:
    for xb, yb in batches:
        opt.zero_grad(set_to_none=True)
        loss = nn.functional.mse_loss(model(xb), yb)
        loss.backward()
        opt.step()
    synchronize(next(model.parameters()).device)


def compare(make_model, batch_size: int, x, y, trials: int) -> dict:
    """Alternating trials of bare steps and ``fit`` over the same rows; per-step seconds."""
    dev = x.device
    perm = torch.randperm(len(y))
    steps = len(y) // batch_size
    batches = [(x[perm[i * batch_size:(i + 1) * batch_size]], y[perm[i * batch_size:(i + 1) * batch_size]])
               for i in range(steps)]
    with seeded(0):
        m_bare, m_core = make_model().to(dev), make_model().to(dev)
    opt = make_optimizer("adam", param_groups(m_bare), 1e-3)  # the same kernel fit picks
    cfg = TrainConfig(epochs=1, batch_size=batch_size, optimizer="adam", lr=1e-3, device=str(dev),
                      restore_best=False)
    _bare(m_bare, opt, batches[:3])  # warm-up: allocator, optimizer state
    fit(m_core, ((x[:3 * batch_size],), y[:3 * batch_size]), cfg)
    t_bare, t_core = [], []
    for _ in range(trials):
        t_bare.append(_clock(lambda: _bare(m_bare, opt, batches)))
        t_core.append(_clock(lambda: fit(m_core, ((x,), y), cfg)))
    out = {"steps": steps}
    for i, clock in enumerate(("wall", "cpu")):
        out[clock] = {"bare": statistics.median(t[i] for t in t_bare) / steps,
                      "core": statistics.median(t[i] for t in t_core) / steps,
                      "bare_min": min(t[i] for t in t_bare) / steps,
                      "core_min": min(t[i] for t in t_core) / steps}
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, nargs="+", default=[128, 1024])
    ap.add_argument("--rows", type=int, default=32768)
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    dev = resolve_device(a.device)
    x, y = data(a.rows, dev)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {dev}, {a.rows} rows, "
          f"{a.trials} trials; per-step times in ms, overhead = core / bare - 1")
    for bs in a.batch:
        ee = compare(EENet, bs, x, y, a.trials)
        mach = compare(OneParam, bs, x, y, a.trials)
        c, w = ee["cpu"], ee["wall"]
        loop_cost = max(0.0, mach["cpu"]["core_min"] - mach["cpu"]["bare_min"])
        print(f"batch {bs:5d} ({ee['steps']} steps): ee cpu bare {1e3 * c['bare']:.2f} "
              f"core {1e3 * c['core']:.2f} ({100 * (c['core'] / c['bare'] - 1):+.1f}%, "
              f"best {100 * (c['core_min'] / c['bare_min'] - 1):+.1f}%); "
              f"wall {100 * (w['core'] / w['bare'] - 1):+.1f}%; loop machinery {1e6 * loop_cost:.0f} us/step "
              f"= {100 * loop_cost / c['bare_min']:.2f}% of the ee step; "
              f"{bs / w['core_min']:.0f} samples/s", flush=True)


if __name__ == "__main__":
    main()
