"""`bench perf tabular`: how fast the NN core trains on a real tabular task, all in one process.

Every figure is a ratio against a baseline measured in the same process on the same data:

1. loop overhead: ``bench.nn.fit`` against the bare model step (forward, loss, backward,
   optimizer step on batches gathered beforehand) for the entity-embedding network;
2. the peer loop a user would write: ``TensorDataset`` + ``DataLoader(shuffle=True)``;
3. the one-hot ``mlp`` first layer as a sum of embedding rows against the dense one-hot
   matmul (same weights; outputs checked equal);
4. the peer a user would pick: fastai's ``tabular_learner`` (optional ``perf`` extra)
   with its own Rossmann recipe against bench's ``ee-1cycle``: test MAPE, fit seconds, and the
   seconds each needs to reach the peer's best valid MAPE.
"""
from __future__ import annotations

import importlib.util
import sys
import time
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from bench.core import environment as env
from bench.core.method import FitContext
from bench.core.metrics import mape
from bench.nn import TrainConfig, fit, make_optimizer, param_groups, resolve_device, seeded, synchronize
from bench.perf.overhead import EENet, OneParam, compare


SECTIONS = ("overhead", "dataloader", "onehot", "quality")


def _tensors(part, device) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
    cols = list(part.schema.categorical)
    x = torch.as_tensor(np.array(part.X[cols].to_numpy(np.int64)), device=device)
    logy = np.log(np.asarray(part.y, dtype=np.float64))
    y = torch.as_tensor(((logy - logy.mean()) / logy.std()).astype(np.float32), device=device)
    return x, y, [part.schema.categorical[c] for c in cols]


def _timed(fn: Callable[[], Any], device) -> float:
    synchronize(device)
    t0 = time.perf_counter()
    fn()
    synchronize(device)
    return time.perf_counter() - t0


def loop_overhead(x, y, cards, batch: int, trials: int) -> dict[str, float]:
    dims = [min(10, max(1, round(1.6 * c ** 0.56))) for c in cards]
    ee = compare(lambda: EENet(tuple(cards), tuple(dims)), batch, x, y, trials)
    mach = compare(OneParam, batch, x, y, trials)
    loop_cost = max(0.0, mach["wall"]["core_min"] - mach["wall"]["bare_min"])
    w = ee["wall"]
    return {"bare_sps": batch / w["bare_min"], "core_sps": batch / w["core_min"],
            "overhead_pct": 100 * (w["core"] / w["bare"] - 1),
            "loop_us_per_step": 1e6 * loop_cost, "loop_pct_of_step": 100 * loop_cost / w["bare_min"]}


def dataloader_ratio(x, y, cards, batch: int) -> dict[str, float]:
    """One epoch of the core against one epoch of a DataLoader loop, same model and optimizer."""
    from torch.utils.data import DataLoader, TensorDataset

    dims = [min(10, max(1, round(1.6 * c ** 0.56))) for c in cards]
    dev = x.device
    with seeded(0):
        m_core, m_dl = EENet(tuple(cards), tuple(dims)).to(dev), EENet(tuple(cards), tuple(dims)).to(dev)
    cfg = TrainConfig(epochs=1, batch_size=batch, optimizer="adam", lr=1e-3, device=str(dev), restore_best=False)
    opt = make_optimizer("adam", param_groups(m_dl), 1e-3)
    loader = DataLoader(TensorDataset(x, y), batch_size=batch, shuffle=True)

    def dl_epoch() -> None:
        for xb, yb in loader:
            opt.zero_grad(set_to_none=True)
            nn.functional.mse_loss(m_dl(xb), yb).backward()
            opt.step()

    t_core = _timed(lambda: fit(m_core, ((x,), y), cfg), dev)
    t_dl = _timed(dl_epoch, dev)
    return {"core_sps": len(y) / t_core, "dataloader_sps": len(y) / t_dl, "ratio": t_dl / t_core}


def onehot_ratio(plugin_module, x, cards, batch: int, steps: int) -> dict[str, float]:
    """Embedding-bag vs dense one-hot first layer of the 1000-500 `mlp`: same weights, same outputs."""
    OneHotLinear = plugin_module.OneHotLinear
    dev = x.device

    def net(impl: str) -> nn.Module:
        return nn.Sequential(_Cat(OneHotLinear(cards, 0, 1000, impl)), nn.ReLU(), nn.Linear(1000, 500),
                             nn.ReLU(), nn.Linear(500, 1)).to(dev)

    with seeded(0):
        bag = net("embedding")
    dense = net("dense")
    dense.load_state_dict(bag.state_dict())
    probe = x[:4096]
    with torch.no_grad():
        a, b = bag(probe), dense(probe)
    max_diff = float((a - b).abs().max())
    equal = bool(torch.allclose(a, b, rtol=1e-4, atol=1e-5))
    gen = torch.Generator(device="cpu").manual_seed(0)
    idx = [torch.randint(len(x), (batch,), generator=gen).to(dev) for _ in range(steps)]
    target = torch.zeros(batch, 1, device=dev)
    times = {}
    for name, model in (("embedding", bag), ("dense", dense)):
        opt = make_optimizer("adam", param_groups(model), 1e-3)

        def run(model=model, opt=opt) -> None:
            for i in idx:
                opt.zero_grad(set_to_none=True)
                nn.functional.mse_loss(model(x[i]), target).backward()
                opt.step()

        run()  # warm-up
        times[name] = min(_timed(run, dev) for _ in range(3))
    return {"embedding_sps": batch * steps / times["embedding"], "dense_sps": batch * steps / times["dense"],
            "speedup": times["dense"] / times["embedding"], "outputs_equal": equal, "max_abs_diff": max_diff}


class _Cat(nn.Module):
    """Adapts OneHotLinear(x_cat, x_cont) to a single-input Sequential (no continuous columns)."""

    def __init__(self, layer: nn.Module):
        super().__init__()
        self.layer = layer

    def forward(self, x):
        return self.layer(x, x.new_zeros((len(x), 0), dtype=torch.float32))


class TimedContext(FitContext):
    """A FitContext that stamps each epoch row with the wall seconds since the fit began
    (``wall``), so bench's time to a quality includes its data preparation like the peer's."""

    def __init__(self, *args: Any, **kw: Any):
        super().__init__(*args, **kw)
        self.t0 = time.perf_counter()

    def log_epoch(self, **row: Any) -> None:
        super().log_epoch(**row, wall=time.perf_counter() - self.t0)


def bench_ee(registry, task, variant: str, device: str, params: dict | None = None) -> dict[str, Any]:
    entry = registry.method(variant)
    model = entry.build(params)
    ctx = TimedContext(seed=0, device=device)
    model.fit(task.part("train"), task.part("valid"), ctx)
    fit_s = time.perf_counter() - ctx.t0
    test = task.part("test")
    curve = [(r["wall"], r["valid_mape"]) for r in ctx.history if "valid_mape" in r]
    return {"mape": mape(test.y, model.predict(test)), "fit_s": fit_s, "epochs": len(curve),
            "best_valid_mape": min((v for _, v in curve), default=float("nan")), "curve": curve}


# fastai's own Rossmann recipe (course-v3 lesson6-rossmann / fastbook ch. 9): layers [1000, 500],
# dropout ps [0.001, 0.01] after them, embedding dropout 0.04, y_range over log sales, 5 one-cycle
# epochs at 3e-3 with weight decay 0.2; batch 128 as before (this harness's calibration)
FASTAI_RECIPE = {"epochs": 5, "lr": 3e-3, "wd": 0.2, "batch": 128, "ps": (0.001, 0.01), "embed_p": 0.04}


def fastai_peer(task, epochs: int = 5, lr: float = 3e-3, wd: float = 0.2, batch: int = 128,
                ps: tuple[float, ...] | None = (0.001, 0.01), embed_p: float | None = 0.04) -> dict[str, Any]:
    """fastai's tabular_learner with its documented Rossmann recipe (FASTAI_RECIPE), on CPU threads
    like bench; the valid MAPE and the wall seconds since the start after every epoch (``curve``)."""
    import pandas as pd
    from fastai.callback.core import Callback
    from fastai.tabular.all import Categorify, TabularDataLoaders, tabular_config, tabular_learner

    cols = list(task.schema.categorical)
    train, valid, test = task.part("train"), task.part("valid"), task.part("test")
    frame = pd.concat([train.X[cols], valid.X[cols]], ignore_index=True).astype("int64")
    frame["target"] = np.log(np.concatenate([train.y, valid.y])).astype(np.float32)
    valid_idx = list(range(len(train), len(frame)))

    def valid_mape(inp, targ):  # on sales, not log sales; fastai averages it over all valid rows
        return ((torch.exp(targ.view(-1)) - torch.exp(inp.view(-1))).abs() / torch.exp(targ.view(-1))).mean()

    t0 = time.perf_counter()
    curve: list[tuple[float, float]] = []

    class Stamp(Callback):
        order = 90  # after validation: the metric holds the epoch's valid MAPE

        def after_epoch(self):
            curve.append((time.perf_counter() - t0, float(self.learn.metrics[0].value)))

    dls = TabularDataLoaders.from_df(frame, procs=[Categorify], cat_names=cols, y_names="target",
                                     valid_idx=valid_idx, bs=batch, device=torch.device("cpu"))
    hi = float(frame["target"].max()) * 1.2
    kw: dict[str, Any] = {"config": tabular_config(ps=list(ps), embed_p=embed_p)} if ps is not None else {}
    stamp = Stamp()
    learn = tabular_learner(dls, layers=[1000, 500], y_range=(0, hi), metrics=valid_mape, cbs=[stamp], **kw)
    with learn.no_bar(), learn.no_logging():
        learn.fit_one_cycle(epochs, lr, wd=wd)
    fit_s = time.perf_counter() - t0
    learn.remove_cb(stamp)  # get_preds fires epoch events too
    tdl = learn.dls.test_dl(test.X[cols].astype("int64"))
    with learn.no_bar():
        preds, _ = learn.get_preds(dl=tdl)
    return {"mape": mape(test.y, np.exp(preds.numpy().ravel())), "fit_s": fit_s, "epochs": epochs,
            "best_valid_mape": min((v for _, v in curve), default=float("nan")), "curve": curve}


def time_to(curve: list[tuple[float, float]], target: float) -> float | None:
    """Wall seconds at the first epoch whose valid MAPE is at or below ``target`` (None: never)."""
    return next((t for t, v in curve if v <= target), None)


def peer_comparison(ours: dict[str, Any], peer: dict[str, Any]) -> dict[str, Any]:
    """bench's time to reach the peer's best valid MAPE against the peer's time to it."""
    target = peer["best_valid_mape"]
    ours_t, peer_t = time_to(ours["curve"], target), time_to(peer["curve"], target)
    return {"peer_best_valid_mape": target, "bench_s_to_it": ours_t, "peer_s_to_it": peer_t,
            "time_ratio": ours_t / peer_t if ours_t is not None and peer_t else None,
            "mape_ratio": ours["mape"] / peer["mape"]}


def run_tabular(registry, task, device: str = "cpu", batches=(128, 1024), rows: int | None = None,
                trials: int = 3, peer: bool = True, ee_variant: str = "ee-1cycle", onehot_steps: int | None = None,
                sections: tuple[str, ...] = SECTIONS, ee_params: dict | None = None, echo: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """All measurements; returns rows (section, setting, figures) and echoes them as they come."""
    dev = resolve_device(device)
    train = task.part("train")
    x, y, cards = _tensors(train, dev)
    if rows:
        x, y = x[:rows], y[:rows]
    out: list[dict[str, Any]] = []

    def add(section: str, setting: str, **figures: Any) -> None:
        row = {"section": section, "setting": setting, **figures}
        out.append(row)
        echo(f"{section:>22} | {setting:<28} | " + ", ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in figures.items()))

    echo(f"{task.dataset}/{task.split.name}: {len(y):,} train rows, device {dev}, torch {torch.__version__}, "
         f"{torch.get_num_threads()} threads")
    for bs in batches if "overhead" in sections else ():
        with env.PeakMemory() as mem:
            r = loop_overhead(x, y, cards, bs, trials)
        add("loop overhead (ee)", f"batch {bs}", **r, peak_mb=mem.peak_mb)
    for bs in batches if "dataloader" in sections else ():
        with env.PeakMemory() as mem:
            r = dataloader_ratio(x, y, cards, bs)
        add("vs DataLoader loop", f"batch {bs}", **r, peak_mb=mem.peak_mb)
    plugin = sys.modules[registry.method("mlp").cls.__module__]
    for bs in batches if "onehot" in sections else ():
        with env.PeakMemory() as mem:
            r = onehot_ratio(plugin, x, cards, bs, steps=onehot_steps or max(20, 40_000 // bs))
        add("one-hot mlp layer", f"batch {bs}", **r, peak_mb=mem.peak_mb)
    if peer and "quality" in sections:
        with env.PeakMemory() as mem:
            r = bench_ee(registry, task, ee_variant, str(dev), ee_params)
        shown = ee_variant + "".join(f" {k}={v}" for k, v in (ee_params or {}).items())
        add("time to quality", f"bench {shown}", **_figures(r), peak_mb=mem.peak_mb)
        if importlib.util.find_spec("fastai") is None:
            echo("fastai is not installed: skipping the tabular_learner peer (pip install 'bench[perf]')")
        else:
            with env.PeakMemory() as mem:
                f = fastai_peer(task)
            add("time to quality", "fastai tabular_learner (its Rossmann recipe)", **_figures(f), peak_mb=mem.peak_mb)
            c = peer_comparison(r, f)
            add("time to quality", f"{ee_variant} / fastai", mape_ratio=c["mape_ratio"],
                **{k: v for k, v in c.items() if k != "mape_ratio" and v is not None})
            if c["bench_s_to_it"] is None:
                echo(f"bench {shown} never reached fastai's best valid MAPE {c['peer_best_valid_mape']:.4f}")
    return out


def torch_threads() -> int:
    return torch.get_num_threads()


def _figures(r: dict[str, Any]) -> dict[str, Any]:
    """A result's scalar figures (the per-epoch curve stays out of the table)."""
    return {k: v for k, v in r.items() if k != "curve"}
