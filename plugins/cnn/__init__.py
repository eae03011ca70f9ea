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
device. Augmentation is batched on the device (``augment``: True = pad-4 crop + flip, or a spec such
as "crop+flip+cutout", ``bench.nn.augment_policy``; ``mixup``: alpha of Zhang et al.'s mixup, 0 =
off, ``bench.nn.mixup``); channels-last memory and
bf16 autocast on CUDA (``channels_last="auto"``, ``amp``). The per-epoch history holds the
training error (of the augmented batches, in train mode) and the valid accuracy.

The cards live here and import no torch; the networks and the torch-side helpers are in
``nets.py``, imported by ``fit`` and ``predict`` (listing plugins stays light).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from bench.methods.torch import TorchMethod

if TYPE_CHECKING:
    import torch
    from torch import nn

    from .nets import Normalize

COMMON_DEFAULTS: dict[str, Any] = {
    "batchnorm": True,
    "dropout": 0.0,  # cifar-resnet: between the convs of every block; resnet-fast: before the head
    "augment": True,  # pad-4 random crop + horizontal flip, on the device, per epoch; or a spec "crop+flip+cutout"
    "mixup": 0.0,  # mixup's Beta(alpha, alpha); 0: off
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


class _ImageNN(TorchMethod):
    kinds = ("image-classification",)
    param_types = {"augment": (bool, str)}  # a suite may give a spec string

    def _network(self, norm: Normalize, n_classes: int) -> nn.Module:
        raise NotImplementedError

    def _use_channels_last(self, device: torch.device) -> bool:
        v = self.params["channels_last"]
        return device.type == "cuda" if v == "auto" else bool(v)

    def fit(self, train, valid, ctx) -> "_ImageNN":
        import torch

        from bench import nn as bnn
        from bench.nn.augment_policy import policy_from_param
        from bench.nn.mixup import Mixup

        from .nets import (Normalize, channel_stats, class_indices, images_nchw, smoothed_cross_entropy,
                           train_error)

        p = self.params
        self.check_kind(train)
        x = images_nchw(train.X)
        y = np.asarray(train.y)
        self.classes_ = np.unique(y)
        y_t = class_indices(y, self.classes_)
        mean, std = channel_stats(x)
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

        mixing = Mixup(float(p["mixup"]), ctx.seed) if float(p["mixup"]) else None  # train mode only

        def build() -> nn.Module:
            net = bnn.init_weights(self._network(Normalize(mean, std), len(self.classes_)), p["init"])
            self._after_init(net)
            return mixing.wrap(net) if mixing else net

        loss_fn = smoothed_cross_entropy(float(p["label_smoothing"]))
        [res] = self.fit_members(build, ((x,), y_t), cfg, ctx, device, valid=valid_data,
                                 loss_fn=mixing.loss(loss_fn) if mixing else loss_fn,
                                 metric=metric, metric_name="valid_accuracy", maximize=True,
                                 augment=policy_from_param(p["augment"]),
                                 train_metric=train_error, train_metric_name="train_error")
        if mixing:
            self.members_ = [m.net for m in self.members_]  # predict uses the bare network
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
        from .nets import images_nchw, predict_indices

        self.check_fitted()
        x = images_nchw(data.X)
        kw = dict(amp=bool(self.params["amp"]), channels_last=self.channels_last_)
        bs, net = int(self.params["eval_batch_size"]), self.members_[0]
        return self.classes_[predict_indices(net, x, bs, bool(self.params["tta"]), **kw)]


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
        from .nets import CifarNet

        p = self.params
        return CifarNet(norm, int(p["depth"]), tuple(int(w) for w in p["widths"]), n_classes,
                        bool(p["residual"]), bool(p["batchnorm"]), float(p["dropout"]))

    def _after_init(self, net):
        if self.params["residual"] and not self.params["batchnorm"]:
            from .nets import zero_residual_branches

            zero_residual_branches(net)


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
        from .nets import FastResNet

        p = self.params
        widths = tuple(int(w) for w in p["widths"])
        if len(widths) != 4:
            raise ValueError(f"resnet-fast needs 4 widths, got {widths}")
        return FastResNet(norm, widths, n_classes, bool(p["batchnorm"]), float(p["dropout"]))


from .transfer import CnnTransfer, TransferPretrain  # noqa: E402,F401 - cards of a module of this package
