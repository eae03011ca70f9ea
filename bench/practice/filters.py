"""What a trained CNN's units respond to: its first layer's filters, and for a few channels of a
deeper layer the image patches that activate them most (Zeiler & Fergus, "Visualizing and
Understanding Convolutional Networks", ECCV 2014: the top images per channel from a fixed set,
each shown as the crop of its receptive field around the position of the largest activation).

The layer is a module of the net, named as ``named_modules`` names it (``blocks.2``: the third
block of a CIFAR net). Its receptive field is computed from the convolutions and poolings that
run before its output (each one's kernel, padding and the step between its input pixels, read
from the shapes they see): exact for chains of them and for identity shortcuts (bench's CIFAR
nets), an over-estimate for parallel branches with larger kernels (inception-like nets)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from bench.practice.landscape import as_nchw

_WINDOWED = (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)


def _pair(v: Any) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))


def first_conv(net: nn.Module, sample: torch.Tensor) -> tuple[str, nn.Conv2d]:
    """The first 2-D convolution ``net`` runs on ``sample`` (its name and module)."""
    names = {m: n for n, m in net.named_modules()}
    seen: list[nn.Module] = []
    hooks = [m.register_forward_hook(lambda m, i, o: seen.append(m)) for m in net.modules()
             if isinstance(m, nn.Conv2d)]
    try:
        with torch.no_grad():
            net.eval()(sample)
    finally:
        for h in hooks:
            h.remove()
    if not seen:
        raise ValueError("the network has no 2-D convolution")
    return names[seen[0]], seen[0]


@dataclass(frozen=True)
class Field:
    """Receptive field of a layer's units: ``size`` input pixels, ``step`` pixels between units,
    unit u centred on input pixel ``offset + u * step`` (per axis: rows, columns)."""

    size: tuple[int, int]
    step: tuple[int, int]
    offset: tuple[float, float]

    def box(self, u: int, v: int, height: int, width: int) -> tuple[int, int, int, int]:
        """(top, bottom, left, right), bottom/right exclusive, of unit (u, v), clipped to the image."""
        out = []
        for axis, (pos, limit) in enumerate(((u, height), (v, width))):
            centre = self.offset[axis] + pos * self.step[axis]
            lo = int(np.floor(centre - (self.size[axis] - 1) / 2 + 1e-9))
            out += [max(lo, 0), min(lo + self.size[axis], limit)]
        return out[0], out[1], out[2], out[3]


def candidate_layers(net: nn.Module) -> list[str]:
    """The items of the net's top-level sequences (``stem.0``, ``blocks.3``, ``layers.5``), in order."""
    out = []
    for name, child in net.named_children():
        if isinstance(child, nn.Sequential):
            out += [f"{name}.{sub}" for sub, _ in child.named_children()]
    return out


def receptive_field(net: nn.Module, layer: str, sample: torch.Tensor) -> Field:
    """The receptive field of ``layer``'s units, from one forward pass of ``sample`` (1, C, H, W)."""
    modules = dict(net.named_modules())
    if layer not in modules:
        raise KeyError(f"the network has no layer {layer!r}; some it has: {', '.join(candidate_layers(net)[:12])}")
    calls: list[tuple[nn.Module, tuple[int, int]]] = []
    done: dict[str, Any] = {}

    def on_window(m, inputs, output):
        if "n" not in done:
            calls.append((m, tuple(inputs[0].shape[-2:])))

    def on_layer(m, inputs, output):
        done.setdefault("n", len(calls))
        done.setdefault("shape", tuple(output.shape))

    hooks = [m.register_forward_hook(on_window) for m in net.modules() if isinstance(m, _WINDOWED)]
    hooks.append(modules[layer].register_forward_hook(on_layer))
    try:
        with torch.no_grad():
            net.eval()(sample)
    finally:
        for h in hooks:
            h.remove()
    if "shape" not in done or len(done["shape"]) != 4:
        raise ValueError(f"layer {layer!r} gives no (N, C, H, W) feature map; pick one of "
                         f"{', '.join(candidate_layers(net)[:12])}")
    image = tuple(sample.shape[-2:])
    size, offset = [1, 1], [0.0, 0.0]
    for m, shape in calls[:done["n"]]:
        k, p = _pair(m.kernel_size), _pair(m.padding)
        for a in range(2):
            step = image[a] / shape[a]  # the input pixels between two of this module's input units
            size[a] += int(round((k[a] - 1) * step))
            offset[a] += ((k[a] - 1) / 2 - p[a]) * step
    out_shape = done["shape"][-2:]
    steps = tuple(max(1, int(round(image[a] / out_shape[a]))) for a in range(2))
    return Field((size[0], size[1]), (steps[0], steps[1]), (offset[0], offset[1]))


def default_layer(net: nn.Module, sample: torch.Tensor) -> str:
    """The deepest item of the net's top-level sequences whose receptive field is at most half the
    image (patches that still show a part of an image, not all of it)."""
    names = candidate_layers(net)
    if not names:
        raise ValueError("the network has no top-level sequence of layers to pick from; name a layer")
    best = names[0]
    for name in names:
        try:
            f = receptive_field(net, name, sample)
        except ValueError:
            continue
        if max(f.size) * 2 <= max(sample.shape[-2:]):
            best = name
    return best


@dataclass
class Patches:
    """The top images per channel of one layer, with their receptive-field crops."""

    layer: str
    field: Field
    channels: list[int]
    rows: list[list[int]]  # per channel: the image positions (in the set given), strongest first
    values: list[list[float]]  # their largest activation
    boxes: list[list[tuple[int, int, int, int]]]  # (top, bottom, left, right) in the image
    crops: list[list[np.ndarray]]  # (size, size, C) uint8, padded grey where the field leaves the image


@torch.no_grad()
def channel_maxima(net: nn.Module, layer: str, images: np.ndarray, batch_size: int = 256
                   ) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """Per image and channel of ``layer``: the largest activation and its flat position, and the
    feature map's (H, W)."""
    module = dict(net.named_modules())[layer]
    net.eval()
    x = as_nchw(images)
    device = next(net.parameters()).device
    got: dict[str, torch.Tensor] = {}
    hook = module.register_forward_hook(lambda m, i, o: got.__setitem__("out", o))
    maxima, where = [], []
    try:
        for i in range(0, len(x), batch_size):
            net(x[i:i + batch_size].to(device))
            out = got["out"].float().flatten(2)  # (B, C, H*W)
            v, pos = out.max(2)
            maxima.append(v.cpu().numpy())
            where.append(pos.cpu().numpy())
    finally:
        hook.remove()
    shape = tuple(got["out"].shape[-2:])
    return np.concatenate(maxima), np.concatenate(where), (int(shape[0]), int(shape[1]))


def crop(image: np.ndarray, box: tuple[int, int, int, int], field: Field, unit: tuple[int, int]) -> np.ndarray:
    """The field's full-size square around ``unit``, the image inside ``box``, grey (128) outside."""
    top, bottom, left, right = box
    out = np.full((field.size[0], field.size[1], image.shape[2]), 128, dtype=np.uint8)
    row0 = int(np.floor(field.offset[0] + unit[0] * field.step[0] - (field.size[0] - 1) / 2 + 1e-9))
    col0 = int(np.floor(field.offset[1] + unit[1] * field.step[1] - (field.size[1] - 1) / 2 + 1e-9))
    out[top - row0:bottom - row0, left - col0:right - col0] = image[top:bottom, left:right]
    return out


def top_patches(net: nn.Module, images: np.ndarray, layer: str | None = None, channels: Sequence[int] | None = None,
                n_channels: int = 6, k: int = 9, batch_size: int = 256) -> Patches:
    """For ``channels`` of ``layer`` (default: the ``n_channels`` with the largest mean, over the
    images, of their largest activation), the ``k`` images whose largest activation is highest
    and the receptive-field crop around it."""
    images = np.asarray(images)
    sample = as_nchw(images[:1]).to(next(net.parameters()).device)
    layer = layer or default_layer(net, sample)
    field = receptive_field(net, layer, sample)
    maxima, where, (_, fw) = channel_maxima(net, layer, images, batch_size)
    if channels is None:
        channels = np.argsort(-maxima.mean(0), kind="stable")[:n_channels].tolist()
    bad = [c for c in channels if not 0 <= c < maxima.shape[1]]
    if bad:
        raise ValueError(f"layer {layer} has {maxima.shape[1]} channels; no channel {bad[0]}")
    h, w = images.shape[1:3]
    out = Patches(layer, field, [int(c) for c in channels], [], [], [], [])
    for c in out.channels:
        order = np.argsort(-maxima[:, c], kind="stable")[:k]
        units = [(int(where[i, c]) // fw, int(where[i, c]) % fw) for i in order]
        boxes = [field.box(u, v, h, w) for u, v in units]
        out.rows.append([int(i) for i in order])
        out.values.append([float(maxima[i, c]) for i in order])
        out.boxes.append(boxes)
        out.crops.append([crop(images[i], b, field, unit) for i, b, unit in zip(order, boxes, units)])
    return out


def filter_images(conv: nn.Conv2d) -> np.ndarray:
    """The conv's filters as images (out, k, k, in), each scaled to 0..1 on its own (min to max):
    colour filters for 3 input channels, grey for 1."""
    w = conv.weight.detach().float().cpu().numpy().transpose(0, 2, 3, 1)
    lo = w.reshape(len(w), -1).min(1).reshape(-1, 1, 1, 1)
    hi = w.reshape(len(w), -1).max(1).reshape(-1, 1, 1, 1)
    return (w - lo) / np.where(hi > lo, hi - lo, 1.0)
