"""Convolutional networks for image classification: the CIFAR nets of He et al. (2016), plain
and residual, and a fast ResNet-9.

``cifar-resnet`` family (He, Zhang, Ren, Sun, "Deep Residual Learning for Image Recognition",
section 4.2): a 3x3 conv to 16 channels, three stages of ``n`` blocks at 16 / 32 / 64 channels
(stride 2 at the start of stages 2 and 3), global average pooling, one linear layer; depth
``6n + 2`` (20: n = 3, 56: n = 9). A block is two 3x3 convs, each followed by batchnorm;
``resnet-*`` adds the identity shortcut (the paper's option A: subsample, pad channels with
zeros), ``plain-*`` has none. Variants per network: ``-nobn`` (no batchnorm: convs get biases,
the lr is 0.01, and a residual branch's last conv starts at zero so that the sum does not blow
up with depth), ``-dropout`` (dropout between the two convs of every block, as in wide
ResNets). The paper's recipe by default: SGD momentum 0.9, lr 0.1, weight decay 1e-4, batch
128, lr / 10 at 50 % and 75 % of 182 epochs (64k iterations on 45k images), pad-4 crop + flip.

``resnet-fast``: the ResNet-9 of Myrtle.ai's DAWNBench entry (prep conv, three stages with max
pooling, residual blocks after the first and third, max pool, a linear layer scaled by 1/8),
SGD Nesterov with a one-cycle schedule, label smoothing, flip test-time augmentation. Widths
64-128-256-512 by default; ``widths=(32, 64, 128, 256)`` is four times cheaper (CPU runs).

Images enter as uint8 (N, H, W, C); the network normalises them with the train part's
per-channel mean and standard deviation, so they stay uint8 (a quarter of the memory) on the
device. Augmentation is batched on the device (``bench.nn.augment``); channels-last memory and
bf16 autocast on CUDA (``channels_last="auto"``, ``amp``). The per-epoch history holds the
training error (of the augmented batches, in train mode) and the valid accuracy.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from bench import nn as bnn
from bench.methods.torch import TorchMethod
from bench.nn.augment import CropFlip

COMMON_DEFAULTS: dict[str, Any] = {
    "batchnorm": True,
    "dropout": 0.0,  # cifar-resnet: between the convs of every block; resnet-fast: before the head
    "augment": True,  # pad-4 random crop + horizontal flip, on the device, per epoch
    "tta": False,  # predict with the average of the image and its mirror image
    "label_smoothing": 0.0,
    "init": "kaiming",
    # training
    "epochs": 182,
    "batch_size": 128,
    "optimizer": "sgd",
    "lr": 0.1,
    "momentum": 0.9,
    "nesterov": False,
    "weight_decay": 1e-4,
    "schedule": "multistep",  # constant | step | multistep | cosine | onecycle
    "milestones": (0.5, 0.75),  # multistep: lr drops, as fractions of the epochs
    "pct_start": 0.25,  # onecycle: share of the run spent warming up
    "restore_best": False,  # keep the last epoch's weights (the paper's protocol)
    "patience": None,
    "amp": True,  # bf16 autocast on CUDA
    "channels_last": "auto",  # auto: on CUDA
    "eval_batch_size": 1024,
    "train_options": None,  # any other bench.nn.TrainConfig field
}


# -- networks ------------------------------------------------------------------------------------

class Normalize(nn.Module):
    """uint8 (or float 0..255) images -> standardised float, with the train part's statistics."""

    def __init__(self, mean: np.ndarray, std: np.ndarray):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x.float() - self.mean) / self.std


def conv_bn(c_in: int, c_out: int, batchnorm: bool, stride: int = 1) -> list[nn.Module]:
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, 3, stride, 1, bias=not batchnorm)]
    return layers + ([nn.BatchNorm2d(c_out)] if batchnorm else [])


class ShortcutA(nn.Module):
    """The paper's option A: identity, or subsample by 2 and pad the new channels with zeros."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.stride, self.extra = stride, c_out - c_in

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride > 1:
            x = x[:, :, ::self.stride, ::self.stride]
        return F.pad(x, (0, 0, 0, 0, 0, self.extra)) if self.extra else x


class Block(nn.Module):
    """conv-bn-relu-[dropout]-conv-bn, + shortcut when ``residual``, then relu."""

    def __init__(self, c_in: int, c_out: int, stride: int, residual: bool, batchnorm: bool, dropout: float):
        super().__init__()
        self.conv1 = nn.Sequential(*conv_bn(c_in, c_out, batchnorm, stride))
        self.drop = nn.Dropout(dropout) if dropout else nn.Identity()
        self.conv2 = nn.Sequential(*conv_bn(c_out, c_out, batchnorm))
        self.shortcut = ShortcutA(c_in, c_out, stride) if residual else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv2(self.drop(F.relu(self.conv1(x))))
        return F.relu(h + self.shortcut(x)) if self.shortcut is not None else F.relu(h)


class CifarNet(nn.Module):
    """He et al.'s CIFAR network: 6n + 2 layers, plain or residual."""

    def __init__(self, norm: Normalize, depth: int, widths: tuple[int, ...], n_classes: int, residual: bool,
                 batchnorm: bool, dropout: float):
        super().__init__()
        if (depth - 2) % 6:
            raise ValueError(f"depth must be 6n + 2 (20, 32, 44, 56, 110), not {depth}")
        n = (depth - 2) // 6
        self.norm = norm
        c_in = norm.mean.shape[1]
        self.stem = nn.Sequential(*conv_bn(c_in, widths[0], batchnorm), nn.ReLU())
        blocks, c = [], widths[0]
        for stage, w in enumerate(widths):
            for i in range(n):
                stride = 2 if stage > 0 and i == 0 else 1
                blocks.append(Block(c, w, stride, residual, batchnorm, dropout))
                c = w
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Linear(c, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.blocks(self.stem(self.norm(x)))
        return self.head(torch.flatten(F.adaptive_avg_pool2d(h, 1), 1))


class Residual(nn.Module):
    def __init__(self, *layers: nn.Module):
        super().__init__()
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class FastResNet(nn.Module):
    """ResNet-9 (Myrtle.ai): prep, [conv-pool-res], [conv-pool], [conv-pool-res], max pool, linear / 8."""

    def __init__(self, norm: Normalize, widths: tuple[int, ...], n_classes: int, batchnorm: bool,
                 dropout: float):
        super().__init__()

        def cbr(c_in: int, c_out: int) -> list[nn.Module]:
            return conv_bn(c_in, c_out, batchnorm) + [nn.ReLU()]

        w0, w1, w2, w3 = widths
        self.norm = norm
        self.layers = nn.Sequential(
            *cbr(norm.mean.shape[1], w0),
            *cbr(w0, w1), nn.MaxPool2d(2, ceil_mode=True), Residual(*cbr(w1, w1), *cbr(w1, w1)),
            *cbr(w1, w2), nn.MaxPool2d(2, ceil_mode=True),
            *cbr(w2, w3), nn.MaxPool2d(2, ceil_mode=True), Residual(*cbr(w3, w3), *cbr(w3, w3)),
            nn.AdaptiveMaxPool2d(1), nn.Flatten())
        self.drop = nn.Dropout(dropout) if dropout else nn.Identity()
        self.head = nn.Linear(w3, n_classes, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.drop(self.layers(self.norm(x)))) * 0.125


# -- shared fit / predict ------------------------------------------------------------------------

def images_nchw(X: np.ndarray) -> torch.Tensor:
    """(N, H, W, C) uint8 -> an (N, C, H, W) tensor view of a private copy (channels-last strides)."""
    X = np.asarray(X)
    if X.ndim != 4:
        raise ValueError(f"expected images as an (N, H, W, C) array, got shape {X.shape}")
    return torch.from_numpy(np.array(X, copy=True)).permute(0, 3, 1, 2)


class _ImageNN(TorchMethod):
    kinds = ("image-classification",)

    def _network(self, norm: Normalize, n_classes: int) -> nn.Module:
        raise NotImplementedError

    def _use_channels_last(self, device: torch.device) -> bool:
        v = self.params["channels_last"]
        return device.type == "cuda" if v == "auto" else bool(v)

    def fit(self, train, valid, ctx) -> "_ImageNN":
        p = self.params
        self.check_kind(train)
        x = images_nchw(train.X)
        y = np.asarray(train.y)
        self.classes_ = np.unique(y)
        y_t = torch.from_numpy(np.searchsorted(self.classes_, y).astype(np.int64))
        pixels = x.double()
        mean = pixels.mean((0, 2, 3)).numpy()
        std = pixels.std((0, 2, 3)).clamp_min(1.0).numpy()
        del pixels
        device = bnn.resolve_device(ctx.device)
        self.channels_last_ = self._use_channels_last(device)
        cfg = self.train_config(device, channels_last=self.channels_last_,  # milestones: fractions -> epochs
                                milestones=tuple(int(round(f * int(p["epochs"]))) for f in p["milestones"]))

        valid_data, metric = None, None
        if valid is not None and len(valid):
            valid_data = ((images_nchw(valid.X),), torch.zeros(len(valid)))
            v_true = np.asarray(valid.y)

            def metric(out: torch.Tensor, _target) -> float:
                return float(np.mean(self.classes_[out.argmax(1).cpu().numpy()] == v_true))

        def train_error(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
            return (out.argmax(1) != target).float().mean()

        smoothing = float(p["label_smoothing"])

        def loss_fn(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
            return F.cross_entropy(out.float(), target, label_smoothing=smoothing)

        def build() -> nn.Module:
            net = bnn.init_weights(self._network(Normalize(mean, std), len(self.classes_)), p["init"])
            self._after_init(net)
            return net

        [res] = self.fit_members(build, ((x,), y_t), cfg, ctx, device, valid=valid_data, loss_fn=loss_fn,
                                 metric=metric, metric_name="valid_accuracy", maximize=True,
                                 augment=CropFlip(4, True) if p["augment"] else None,
                                 train_metric=train_error, train_metric_name="train_error")
        ctx.info.update({
            "device": str(device), "n_parameters": self.n_parameters(),
            "epochs_run": res.epochs_run, "stop_reason": res.stop_reason, "best_epoch": res.best_epoch,
            "train_seconds": round(res.train_seconds, 3), "images_per_s": round(res.samples_per_s, 1),
            "channels_last": self.channels_last_,
            "amp": "bf16" if (p["amp"] and device.type == "cuda") else "off"})
        return self

    def _after_init(self, net: nn.Module) -> None:
        """Hook for a family's own initialisation after Kaiming's."""

    def predict(self, data) -> np.ndarray:
        self.check_fitted()
        x = images_nchw(data.X)
        kw = dict(amp=bool(self.params["amp"]), channels_last=self.channels_last_)
        bs, net = int(self.params["eval_batch_size"]), self.members_[0]
        probs = F.softmax(bnn.predict(net, (x,), bs, **kw), 1)
        if self.params["tta"]:
            probs = probs + F.softmax(bnn.predict(net, (x.flip(3),), bs, **kw), 1)
        return self.classes_[probs.argmax(1).cpu().numpy()]


def _he_variants() -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for arch in ("plain", "resnet"):
        for depth in (20, 56):
            base = {"residual": arch == "resnet", "depth": depth}
            name = f"{arch}-{depth}"
            out[name] = base
            out[f"{name}-nobn"] = {**base, "batchnorm": False, "lr": 0.01}
            out[f"{name}-dropout"] = {**base, "dropout": 0.1}
            out[f"{name}-nobn-dropout"] = {**base, "batchnorm": False, "lr": 0.01, "dropout": 0.1}
    return out


class CifarResNet(_ImageNN):
    """He et al. (2016)'s CIFAR networks, plain and residual, 20 and 56 layers, ± batchnorm, ± dropout."""

    name = "cifar-resnet"
    description = "He et al. 2016 CIFAR nets: plain-20/56, resnet-20/56; -nobn, -dropout variants"
    defaults = {**COMMON_DEFAULTS, "depth": 20, "residual": True, "widths": (16, 32, 64)}
    variants = _he_variants()
    test_params = {"epochs": 2, "widths": (4, 8, 8)}  # `bench check`: every layer, few channels

    def _network(self, norm, n_classes):
        p = self.params
        return CifarNet(norm, int(p["depth"]), tuple(int(w) for w in p["widths"]), n_classes,
                        bool(p["residual"]), bool(p["batchnorm"]), float(p["dropout"]))

    def _after_init(self, net):
        if self.params["residual"] and not self.params["batchnorm"]:
            for block in net.blocks:  # without batchnorm, start every residual branch at zero
                nn.init.zeros_(block.conv2[0].weight)


class FastResNetMethod(_ImageNN):
    """ResNet-9 with a one-cycle schedule: CIFAR-10 to 94 % in minutes on a GPU."""

    name = "resnet-fast"
    description = "ResNet-9 (Myrtle.ai DAWNBench), one-cycle SGD Nesterov, label smoothing, flip TTA"
    defaults = {**COMMON_DEFAULTS, "widths": (64, 128, 256, 512), "epochs": 24, "batch_size": 512,
                "lr": 0.4, "nesterov": True, "weight_decay": 5e-4, "schedule": "onecycle",
                "label_smoothing": 0.2, "tta": True, "pct_start": 0.2}
    variants = {"resnet-fast": {}}
    test_params = {"epochs": 2, "widths": (8, 8, 16, 16)}

    def _network(self, norm, n_classes):
        p = self.params
        widths = tuple(int(w) for w in p["widths"])
        if len(widths) != 4:
            raise ValueError(f"resnet-fast needs 4 widths, got {widths}")
        return FastResNet(norm, widths, n_classes, bool(p["batchnorm"]), float(p["dropout"]))
