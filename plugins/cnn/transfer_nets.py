"""The torch side of ``cnn-transfer`` (the cards are in ``transfer.py``, which imports no torch):
moving a pretrained body into a fresh network and freezing it."""
from __future__ import annotations

import torch
from torch import nn
from torchvision.ops import FrozenBatchNorm2d

HEAD = "head."  # the CIFAR nets' last linear layer: the one part a new task replaces


def body_state(net: nn.Module) -> dict[str, torch.Tensor]:
    """Every weight and buffer of ``net`` but its head (the input normalisation included), on the
    CPU: what a network for a new task starts from."""
    return {k: v.detach().cpu().clone() for k, v in net.state_dict().items() if not k.startswith(HEAD)}


def load_body(net: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Load a pretrained body into ``net``, keeping its own (freshly initialised) head; the body's
    layers must match exactly."""
    missing, unexpected = net.load_state_dict(state, strict=False)
    wrong = [k for k in missing if not k.startswith(HEAD)] + list(unexpected)
    if wrong:
        raise ValueError(f"cnn-transfer: the pretrained body does not fit this network ({', '.join(wrong[:5])}); "
                         "pretrain with the same depth, widths, residual and batchnorm")


def freeze_body(net: nn.Module) -> None:
    """Train only the head: no gradient for any body weight, and every body batchnorm fixed at its
    pretrained statistics (torchvision's FrozenBatchNorm2d: the training loop's ``train()`` cannot
    switch it back to batch statistics, so no body number changes)."""
    for name, prm in net.named_parameters():
        prm.requires_grad_(name.startswith(HEAD))
    for name, module in list(net.named_modules()):
        for child_name, child in list(module.named_children()):
            full = f"{name}.{child_name}" if name else child_name
            if isinstance(child, nn.BatchNorm2d) and not full.startswith(HEAD):
                frozen = FrozenBatchNorm2d(child.num_features, eps=child.eps)
                for key in ("weight", "bias", "running_mean", "running_var"):
                    getattr(frozen, key).copy_(getattr(child, key).detach())
                setattr(module, child_name, frozen.to(child.weight.device))


def trainable(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters() if p.requires_grad)
