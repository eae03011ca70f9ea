"""Augmentation policies from a spec string: "crop+flip+cutout", batched on the device, seeded.

Each transform works on a whole (N, C, H, W) batch at once, any image size, with every random
draw from the ``torch.Generator`` it is given (the same generator state gives the same batch), and
returns the input's dtype (uint8 images stay uint8: geometric and lighting transforms compute in
float, then round and clamp to 0..255). No per-image Python loop.

Tokens of a spec (joined by ``+``, each optionally ``name=value``; ``none`` alone: no augmentation):

- ``crop[=pad]``: zero-pad ``pad`` pixels (4) and cut a random window (He et al. 2016);
- ``flip``: mirror left-right with probability 1/2;
- ``cutout[=size]``: one ``size`` x ``size`` square per image (default half the image side, 16 on
  CIFAR-10 as in DeVries & Taylor 2017) at a random centre, clipped at the border, set to the
  batch's per-channel mean (what "zero after normalisation" is for uint8 images);
- ``rotate[=degrees]``: a random angle in [-10, 10] degrees;
- ``zoom[=extra]``: a random scale in [1, 1 + extra] (1.1: fastai's max_zoom);
- ``lighting[=s]``: brightness + U(-s, s) x 255 and contrast x U(1 - s, 1 + s) (s = 0.2).

Rotate and zoom are one affine ``grid_sample`` (bilinear, reflection at the border). The
transforms run in a fixed order whatever the spec's order: rotate/zoom, crop, flip, lighting,
cutout, so "flip+crop" is "crop+flip", and "crop+flip" draws exactly what
``bench.nn.augment.CropFlip(4, True)`` draws.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from bench.nn.augment import CropFlip, random_crop, random_flip

# token -> (Policy field, default value, what the value is)
TOKENS: dict[str, tuple[str, float, str]] = {
    "crop": ("pad", 4, "padding in pixels"),
    "flip": ("flip", 1, ""),
    "cutout": ("cutout", 0, "square side in pixels (0: half the image side)"),
    "rotate": ("degrees", 10.0, "largest angle in degrees"),
    "zoom": ("zoom", 0.1, "largest extra scale"),
    "lighting": ("lighting", 0.2, "brightness / contrast strength"),
}
NONE = "none"
CHUNK = 4096  # images per grid_sample call: bounds the float copy of a large epoch


def _to_dtype(y: Tensor, dtype: torch.dtype) -> Tensor:
    """Float pixels back to the input's dtype (integers: rounded, clamped to 0..255)."""
    if dtype.is_floating_point:
        return y.to(dtype)
    return y.round_().clamp_(0, 255).to(dtype)


def _uniform(n: int, lo: float, hi: float, generator: torch.Generator | None, device) -> Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=generator, device=device)


def cutout(x: Tensor, size: int, generator: torch.Generator | None = None, fill: float | None = None) -> Tensor:
    """One ``size`` x ``size`` square per image at a uniformly random centre (it may stick out of
    the image: the part inside is cut), set to ``fill``, or to the batch's per-channel mean (None)."""
    if size <= 0:
        return x
    n, c, h, w = x.shape
    cy = torch.randint(0, h, (n,), generator=generator, device=x.device)
    cx = torch.randint(0, w, (n,), generator=generator, device=x.device)
    top, left = cy - size // 2, cx - size // 2
    rows = torch.arange(h, device=x.device)[None, :]
    cols = torch.arange(w, device=x.device)[None, :]
    in_y = (rows >= top[:, None]) & (rows < top[:, None] + size)  # (n, h)
    in_x = (cols >= left[:, None]) & (cols < left[:, None] + size)  # (n, w)
    mask = (in_y[:, :, None] & in_x[:, None, :])[:, None]  # (n, 1, h, w)
    if fill is None:
        value = _to_dtype(x.float().mean((0, 2, 3)), x.dtype).view(1, c, 1, 1)
    else:
        value = torch.full((1, c, 1, 1), fill, dtype=x.dtype, device=x.device)
    return torch.where(mask, value, x)


def rotate_zoom(x: Tensor, degrees: float, zoom: float, generator: torch.Generator | None = None) -> Tensor:
    """Rotate each image by a random angle in [-degrees, degrees] and zoom in by a random scale in
    [1, 1 + zoom], as one affine resampling (bilinear; the border reflected)."""
    if degrees <= 0 and zoom <= 0:
        return x
    n = len(x)
    angle = _uniform(n, -degrees, degrees, generator, x.device) * (math.pi / 180.0)
    scale = _uniform(n, 1.0, 1.0 + zoom, generator, x.device)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    zero = torch.zeros_like(cos)
    theta = torch.stack([torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1)  # (n, 2, 3)
    out = torch.empty_like(x)
    for lo in range(0, n, CHUNK):  # chunks of images, not a loop over images
        part = x[lo:lo + CHUNK]
        grid = F.affine_grid(theta[lo:lo + CHUNK], list(part.shape), align_corners=False)
        out[lo:lo + CHUNK] = _to_dtype(F.grid_sample(part.float(), grid, mode="bilinear",
                                                     padding_mode="reflection", align_corners=False), x.dtype)
    return out


def lighting(x: Tensor, strength: float, generator: torch.Generator | None = None) -> Tensor:
    """Random brightness (+ U(-s, s) of the full range) and contrast (x U(1 - s, 1 + s) around the
    image's mean) per image."""
    if strength <= 0:
        return x
    n = len(x)
    shift = _uniform(n, -strength, strength, generator, x.device).view(n, 1, 1, 1) * 255.0
    factor = _uniform(n, 1.0 - strength, 1.0 + strength, generator, x.device).view(n, 1, 1, 1)
    y = x.float()
    mean = y.mean((1, 2, 3), keepdim=True)
    return _to_dtype((y - mean) * factor + mean + shift, x.dtype)


@dataclass(frozen=True)
class Policy:
    """An augmentation as a picklable callable ``(x, generator) -> x`` for ``bench.nn.fit``;
    every field at 0 / False is off. Build one from a spec with :func:`parse_policy`."""

    pad: int = 0
    flip: bool = False
    cutout: int = -1  # -1: off; 0: half the image side; else the square's side
    degrees: float = 0.0
    zoom: float = 0.0
    lighting: float = 0.0

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        if x.ndim != 4:
            raise ValueError(f"augmentation {self.spec!r} expects images (N, C, H, W), got shape {tuple(x.shape)}")
        x = rotate_zoom(x, self.degrees, self.zoom, generator)
        x = random_crop(x, self.pad, generator)
        if self.flip:
            x = random_flip(x, generator)
        x = lighting(x, self.lighting, generator)
        if self.cutout >= 0:
            x = cutout(x, self.cutout or x.shape[-1] // 2, generator)
        return x

    @property
    def spec(self) -> str:
        """The canonical spec string ("none" when nothing is on)."""
        parts = [f"rotate={self.degrees:g}" if self.degrees else "", f"zoom={self.zoom:g}" if self.zoom else "",
                 f"crop={self.pad}" if self.pad else "", "flip" if self.flip else "",
                 f"lighting={self.lighting:g}" if self.lighting else "",
                 ("cutout" + (f"={self.cutout}" if self.cutout else "")) if self.cutout >= 0 else ""]
        return "+".join(p for p in parts if p) or NONE

    @property
    def active(self) -> bool:
        return self.spec != NONE


def _known() -> str:
    return ", ".join([*TOKENS, NONE])


def _token_value(name: str, text: str, spec: str) -> float:
    field, default, meaning = TOKENS[name]
    if not meaning:
        raise ValueError(f"augmentation spec {spec!r}: {name!r} takes no value (write just {name!r})")
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0 or (field in ("pad", "cutout") and value != int(value)):
        raise ValueError(f"augmentation spec {spec!r}: {name}={text!r} is not a valid {meaning}")
    return value


def parse_policy(spec: str) -> Policy:
    """A :class:`Policy` from a spec like "crop+flip+cutout" or "crop=2+rotate=15"; ValueError
    naming the unknown token and the known ones, a repeated token or a bad value."""
    if not isinstance(spec, str):
        raise TypeError(f"an augmentation spec is a string like 'crop+flip', not {spec!r}")
    tokens = [t.strip() for t in spec.strip().lower().split("+")]
    if tokens in ([""], [NONE]):
        return Policy()
    fields: dict[str, Any] = {}
    for token in tokens:
        name, eq, text = token.partition("=")
        name = name.strip()
        if name not in TOKENS:
            why = "'none' cannot be combined with others" if name == NONE else f"unknown token {name or '(empty)'!r}"
            raise ValueError(f"augmentation spec {spec!r}: {why}; known tokens: {_known()} "
                             "(joined by '+', e.g. 'crop+flip+cutout')")
        field, default, _ = TOKENS[name]
        if field in fields:
            raise ValueError(f"augmentation spec {spec!r}: {name!r} appears twice")
        value = _token_value(name, text.strip(), spec) if eq else default
        fields[field] = bool(value) if field == "flip" else int(value) if field in ("pad", "cutout") else value
    return Policy(**fields)


def policy_from_param(value: Any) -> Any:
    """A cnn plugin's ``augment`` parameter as ``bench.nn.fit``'s ``augment`` callable: True is the
    standard pad-4 crop + flip (``CropFlip(4, True)``, as before policies existed), False / None /
    "none" is no augmentation (None), a string is a spec (:func:`parse_policy`)."""
    if value is True:
        return CropFlip(4, True)
    if value is False or value is None:
        return None
    if isinstance(value, str):
        policy = parse_policy(value)
        return policy if policy.active else None
    raise TypeError(f"augment must be true, false or a spec string like 'crop+flip+cutout', not {value!r}")


__all__ = ["Policy", "TOKENS", "cutout", "lighting", "parse_policy", "policy_from_param", "rotate_zoom"]
