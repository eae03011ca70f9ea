"""How much the shared loop costs over a bare training step: ``python -m bench.nn.overhead``.

The bare step is forward, loss, backward and optimizer step on batches gathered beforehand;
the core is :func:`bench.nn.fit` over the same rows for one epoch (permutation, slicing,
schedule lookups, on-device loss accumulation included, no validation). The net has the
shape of the entity-embedding network on Rossmann (7 embeddings -> 1000 -> 500 -> 1).
Trials alternate between the two so that a noisy shared machine hurts both alike.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

from .device import resolve_device, seeded, synchronize
from .optim import make_optimizer, param_groups
from .train import TrainConfig, fit

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


def data(n: int, device: torch.device):
    g = torch.Generator().manual_seed(0)
    x = torch.stack([torch.randint(c, (n,), generator=g) for c in CARDS], 1).to(device)
    y = torch.rand(n, generator=g).to(device)
    return x, y


def bare(model, opt, batches) -> float:
    t0 = time.perf_counter()
    for xb, yb in batches:
        opt.zero_grad(set_to_none=True)
        loss = nn.functional.mse_loss(model(xb), yb)
        loss.backward()
        opt.step()
    synchronize(next(model.parameters()).device)
    return time.perf_counter() - t0


def measure(batch_size: int, rows: int, trials: int, device: str = "cpu") -> dict:
    dev = resolve_device(device)
    x, y = data(rows, dev)
    perm = torch.randperm(rows)
    steps = rows // batch_size
    batches = [(x[perm[i * batch_size:(i + 1) * batch_size]], y[perm[i * batch_size:(i + 1) * batch_size]])
               for i in range(steps)]
    with seeded(0):
        m_bare, m_core = EENet().to(dev), EENet().to(dev)
    opt = make_optimizer("adam", param_groups(m_bare), 1e-3)  # the same optimizer kernel as fit's
    cfg = TrainConfig(epochs=1, batch_size=batch_size, optimizer="adam", lr=1e-3, device=str(dev),
                      restore_best=False)
    bare(m_bare, opt, batches[:5])  # warm-up: allocator, optimizer state
    fit(m_core, ((x[:batch_size * 5],), y[:batch_size * 5]), cfg)
    t_bare, t_core = [], []
    for _ in range(trials):
        t_bare.append(bare(m_bare, opt, batches))
        t0 = time.perf_counter()
        fit(m_core, ((x,), y), cfg)
        t_core.append(time.perf_counter() - t0)
    b, c = statistics.median(t_bare), statistics.median(t_core)
    return {"batch_size": batch_size, "steps": steps, "bare_s": b, "core_s": c,
            "overhead_pct": 100 * (c / b - 1), "bare_min_s": min(t_bare), "core_min_s": min(t_core),
            "samples_per_s": steps * batch_size / c}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, nargs="+", default=[128, 1024])
    ap.add_argument("--rows", type=int, default=32768)
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args(argv)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {a.device}")
    for bs in a.batch:
        r = measure(bs, a.rows, a.trials, a.device)
        print(f"batch {bs:5d}: {r['steps']} steps, bare {r['bare_s']:.3f}s, core {r['core_s']:.3f}s "
              f"(median of {a.trials}), overhead {r['overhead_pct']:+.1f}%  "
              f"[min: bare {r['bare_min_s']:.3f}s core {r['core_min_s']:.3f}s, "
              f"{100 * (r['core_min_s'] / r['bare_min_s'] - 1):+.1f}%]  {r['samples_per_s']:.0f} samples/s")


if __name__ == "__main__":
    main()
