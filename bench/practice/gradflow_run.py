"""`bench practice init` without the command line: the data, the two network families (the deep
MLPs of ``gradflow.SETTINGS``; the cnn plugin's plain / residual CIFAR nets, from the registry),
and one Outcome per network.

The CIFAR nets are the plugin's own: ``CifarNet`` and ``zero_residual_branches`` from the module
beside the ``cifar-resnet`` family's class (found through the registry, never imported by name),
built and initialised as its ``fit`` does (bench.nn's Kaiming init; residual branches zeroed
when there is no batchnorm), and trained with its recipe's lr, momentum, weight decay and batch
size, without augmentation or a schedule (the steps are few).
"""
from __future__ import annotations

import importlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from bench.core.spec import RunSpec
from bench.plugins.registry import MethodEntry, Registry
from bench.practice.gradflow import SETTINGS, Outcome, Probe, build_mlp, mlp_probes, run_net, select
from bench.run.execute import load_task

CNN_FAMILY = "cifar-resnet"
CNN_SHOWS = {  # (role, what it shows) per variant suffix; He init everywhere
    "plain": ("cure", "depth without skips, with He init and batchnorm (He et al. 2016: batchnorm keeps the "
                      "signal and the gradients healthy here, yet deep plain nets train worse)"),
    "resnet": ("cure", "the same depth with identity shortcuts and batchnorm: He et al.'s ResNet"),
    "plain-nobn": ("culprit", "depth without skips or batchnorm: He init alone has to hold the signal"),
    "resnet-nobn": ("cure", "identity shortcuts without batchnorm, residual branches zeroed at init"),
}


@dataclass
class Data:
    """The training part of a dataset split: images and class indices, and a fixed batch to measure on."""

    dataset: str
    params: dict[str, Any]
    split: str
    fingerprint: str
    images: np.ndarray  # (N, H, W, C) uint8, as the dataset gives them
    labels: np.ndarray  # class indices 0..k-1
    n_classes: int
    measure_rows: np.ndarray  # positions in the training part

    @property
    def ref(self) -> str:
        inner = ",".join(f"{k}={v}" for k, v in sorted(self.params.items()))
        return f"{self.dataset}[{inner}]" if inner else self.dataset


def load_data(reg: Registry, dataset: str, params: dict[str, Any] | None, *, data_dir: Path, cache_dir: Path,
              seed: int = 0, measure_size: int = 256) -> Data:
    """The dataset's default split, loaded as a run loads it; the measuring batch is a seeded draw
    of ``measure_size`` training rows. KeyError: unknown dataset; ValueError: not images."""
    params = dict(params or {})
    ds = reg.dataset(dataset).build(params)
    split = ds.check_split(None)
    spec = RunSpec(suite="", dataset=dataset, dataset_params=tuple(sorted(params.items())), split=split,
                   method="", params=(), seed=seed)
    task = load_task(reg, spec, data_dir, cache_dir)
    if task.kind != "image-classification":
        raise ValueError(f"dataset {dataset} is {task.kind}; practice init needs images (e.g. cifar10, digits)")
    train = task.part("train")
    classes, labels = np.unique(np.asarray(train.y), return_inverse=True)
    rows = np.sort(np.random.default_rng(seed).permutation(len(labels))[:measure_size])
    return Data(task.dataset, params, split, task.split.fingerprint, np.asarray(train.X), labels.astype(np.int64),
                len(classes), rows)


def flat_standardized(images: np.ndarray) -> np.ndarray:
    """(N, ...) images -> (N, features) float32, each feature at mean 0 and std 1 (a constant one at 0)."""
    x = images.reshape(len(images), -1).astype(np.float64)
    std = x.std(0)
    return ((x - x.mean(0)) / np.where(std > 0, std, 1.0)).astype(np.float32)


def cnn_names(depth: int) -> list[str]:
    return [f"{arch}-{depth}{suffix}" for suffix in ("", "-nobn") for arch in ("plain", "resnet")]


def cnn_nets_module(entry: MethodEntry):
    """The module with the cnn plugin's networks: ``nets`` beside the family's class."""
    package = entry.cls.__module__
    try:
        return importlib.import_module(f"{package}.nets")
    except ImportError as exc:
        raise RuntimeError(f"method {entry.variant} ({entry.family}, module {package}) has no `nets` module "
                           f"with CifarNet: {exc}") from exc


def cnn_builder(entry: MethodEntry, nets: Any, images: Any, n_classes: int, widths: tuple[int, ...] | None):
    """(make, probes, params): the variant's net as its fit builds it, and one probe per layer
    (the stem, then every block: its output, and its convs' weights)."""
    p = entry.resolved_params({"widths": tuple(widths)} if widths else None)
    if entry.family != CNN_FAMILY:
        raise ValueError(f"{entry.variant} is a {entry.family} method; practice init compares {CNN_FAMILY} nets")
    mean, std = nets.channel_stats(images)

    def make():
        from bench import nn as bnn

        net = nets.CifarNet(nets.Normalize(mean, std), int(p["depth"]), tuple(int(w) for w in p["widths"]),
                            n_classes, bool(p["residual"]), bool(p["batchnorm"]), 0.0)
        bnn.init_weights(net, p["init"])
        if p["residual"] and not p["batchnorm"]:
            nets.zero_residual_branches(net)
        return net

    def probes(net) -> list[Probe]:
        out = [Probe("stem", net.stem, [net.stem[0].weight])]
        return out + [Probe(f"block {i + 1}", b, [b.conv1[0].weight, b.conv2[0].weight])
                      for i, b in enumerate(net.blocks)]

    return make, probes, p


@dataclass
class Experiment:
    data: Data
    outcomes: dict[str, list[Outcome]] = field(default_factory=dict)  # family -> outcomes
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)  # family -> its run settings
    seed: int = 0
    device: str = "cpu"
    seconds: float = 0.0


def known_names(cnn_depth: int = 56) -> list[str]:
    return [s.name for s in SETTINGS] + cnn_names(cnn_depth)


def run_experiment(reg: Registry, data: Data, *, names: list[str] | None = None, depth: int = 20, width: int = 256,
                   steps: int = 200, lr: float = 0.01, batch_size: int = 128, cnn: bool = True,
                   cnn_depth: int = 56, cnn_widths: tuple[int, ...] | None = None, cnn_steps: int = 100,
                   cnn_batch_size: int | None = None, seed: int = 0, device: str = "cpu",
                   echo: Callable[[str], None] = print) -> Experiment:
    """Every selected MLP setting, then (``cnn``) every selected CIFAR net; ``names`` from
    ``known_names(cnn_depth)`` (KeyError otherwise; all when None)."""
    import torch

    from bench import nn as bnn

    chosen = select(names, known_names(cnn_depth))
    dev = bnn.resolve_device(device)
    exp = Experiment(data, seed=seed, device=str(dev))
    start = time.perf_counter()
    mlp = [s for s in SETTINGS if s.name in chosen]
    if mlp:
        x = torch.from_numpy(flat_standardized(data.images)).to(dev)
        y = torch.from_numpy(data.labels).to(dev)
        rows = torch.from_numpy(data.measure_rows).to(dev)
        batch = (x[rows], y[rows])
        exp.settings["mlp"] = {"depth": depth, "width": width, "inputs": int(x.shape[1]), "steps": steps, "lr": lr,
                               "batch_size": batch_size, "momentum": 0.9, "optimizer": "sgd",
                               "input": "flattened pixels, each standardized with the training part's mean and std"}
        exp.outcomes["mlp"] = []
        for i, s in enumerate(mlp):
            echo(f"[mlp {i + 1}/{len(mlp)}] {s.name}: {depth} layers x {width}, {s.activation}, init {s.init}"
                 f"{', batchnorm' if s.batchnorm else ''}{', residual' if s.residual else ''}; {steps} steps ...")
            o = run_net("mlp", s.name, s.role, s.shows, {"activation": s.activation, "init": s.init,
                                                          "batchnorm": s.batchnorm, "residual": s.residual},
                        lambda s=s: build_mlp(s, int(x.shape[1]), data.n_classes, depth, width), mlp_probes,
                        (x, y), batch, steps=steps, lr=lr, seed=seed, device=dev, batch_size=batch_size)
            exp.outcomes["mlp"].append(o)
            echo("    " + progress_line(o))
    cnns = [n for n in cnn_names(cnn_depth) if n in chosen] if cnn else []
    if cnns:
        exp.outcomes["cnn"], exp.settings["cnn"] = [], {"depth": cnn_depth, "steps": cnn_steps, "optimizer": "sgd",
                                                        "augmentation": "none", "schedule": "constant"}
        xi = None
        for i, variant in enumerate(cnns):
            entry = reg.method(variant)
            nets = cnn_nets_module(entry)
            if xi is None:
                xi = nets.images_nchw(data.images)
                y = torch.from_numpy(data.labels).to(dev)
                rows = torch.from_numpy(data.measure_rows)
                batch = (xi[rows].to(dev), y[rows.to(dev)])
                xi_dev = xi.to(dev)
            make, probes, p = cnn_builder(entry, nets, xi, data.n_classes, cnn_widths)
            bs = int(cnn_batch_size or p["batch_size"])
            exp.settings["cnn"]["widths"] = list(p["widths"])
            role, shows = CNN_SHOWS[variant.replace(f"-{cnn_depth}", "")]
            echo(f"[cnn {i + 1}/{len(cnns)}] {variant}: widths {tuple(p['widths'])}, batchnorm {p['batchnorm']}, "
                 f"residual {p['residual']}, lr {p['lr']}; {cnn_steps} steps of batch {bs} ...")
            t0 = time.perf_counter()
            every = max(1, cnn_steps // 4)

            def tick(step: int, loss: float) -> None:
                if (step + 1) % every == 0 and step + 1 < cnn_steps:
                    echo(f"    step {step + 1}/{cnn_steps}: loss {loss:.3f} ({time.perf_counter() - t0:.0f} s)")

            o = run_net("cnn", variant, role, shows, {"variant": variant, "residual": bool(p["residual"]),
                                                      "batchnorm": bool(p["batchnorm"]), "init": p["init"],
                                                      "widths": list(p["widths"])},
                        make, probes, (xi_dev, y), batch, steps=cnn_steps, lr=float(p["lr"]), seed=seed, device=dev,
                        momentum=float(p["momentum"]), weight_decay=float(p["weight_decay"]), batch_size=bs,
                        on_step=tick)
            exp.outcomes["cnn"].append(o)
            echo("    " + progress_line(o))
    exp.seconds = time.perf_counter() - start
    return exp


def progress_line(o: Outcome) -> str:
    a, t = o.at_init, o.training
    end = (f"diverged at step {t.diverged_at}" if t.diverged_at is not None
           else f"loss {o.at_init.loss:.3g} -> {t.final_loss():.3g}")
    return (f"at init: signal std {a.act_std[0]:.3g} (first) .. {a.act_std[-1]:.3g} (last), "
            f"grad norm {a.grad_norm[0]:.3g} .. {a.grad_norm[-1]:.3g}; {end} ({t.seconds:.1f} s)")
