"""Projections: the input pixels that drive one unit at one position (Zeiler & Fergus 2014).

A projection starts from a single activation, every other activation of the layer set to zero,
and carries it back down to the pixels through the layers below. The two methods differ only
at the ReLUs:

- ``"deconv"``, Zeiler & Fergus's deconvnet: max-pool switches recorded in the forward pass put
  the signal back where each maximum came from; each ReLU rectifies the backward signal
  (``relu(s)``), whatever the forward pass did there; each convolution is undone by the
  transposed convolution with the same filters.
- ``"guided"``, guided backpropagation (Springenberg et al. 2015): the same, but a ReLU also
  lets the signal through only where its forward input was positive (``relu(s) · [x > 0]``).
  It is the gradient of the activation with that one rule changed, and it is sharper.

Plain backpropagation would be ``s · [x > 0]``. Biases take no part in any of them.

A projection is zero outside the unit's receptive field, so it is computed on a window of the
image around that field (`window`) that gives the same numbers with a fraction of the work
for shallow layers. The result is a signal in the RGB input's space; `picture` draws it as
Zeiler & Fergus do, grey where it is zero.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from ..geometry import Box, Size
from ..vgg import VGG

Method = Literal["deconv", "guided"]
METHODS: tuple[Method, ...] = ("deconv", "guided")


@dataclass(frozen=True)
class Stage:
    """One layer of a plain ConvNet: a convolution (its module), a ReLU, or a 2×2 pool."""

    kind: Literal["conv", "relu", "max", "avg"]
    conv: nn.Conv2d | None = None


def vgg_stages(vgg: VGG, layer: str) -> list[Stage]:
    """The stages of `vgg` from its input up to and including `layer`."""
    stages = []
    for name, info in vgg.info.items():
        if info.kind == "conv":
            stages.append(Stage("conv", vgg.conv(name)))
        elif info.kind == "relu":
            stages.append(Stage("relu"))
        else:
            stages.append(Stage(vgg.pooling))
        if name == layer:
            return stages
    raise ValueError(f"unknown layer '{layer}'")


@torch.no_grad()
def trace(stages: Sequence[Stage], x: Tensor) -> tuple[Tensor, list[Tensor | None]]:
    """The forward pass: the last stage's output, and per stage what its backward step needs
    (a ReLU's input, a max-pool's switches; for a convolution or average pool, nothing)."""
    records: list[Tensor | None] = []
    for stage in stages:
        if stage.kind == "conv":
            assert stage.conv is not None
            records.append(None)
            x = stage.conv(x)
        elif stage.kind == "relu":
            records.append(x)
            x = F.relu(x)
        elif stage.kind == "max":
            x, switches = F.max_pool2d(x, 2, return_indices=True)
            records.append(switches)
        else:
            records.append(None)
            x = F.avg_pool2d(x, 2)
    return x, records


@torch.no_grad()
def project_back(
    stages: Sequence[Stage],
    records: Sequence[Tensor | None],
    signal: Tensor,
    method: Method,
    input_size: tuple[int, int],
) -> Tensor:
    """Carry `signal` (N, C, h, w), at the last stage's output, back to the input, (N, 3, H, W).

    `records` come from `trace` on one image; the N signals share its switches and ReLU masks.
    """
    if method not in METHODS:
        raise ValueError(f"projection method must be one of {', '.join(METHODS)}, not {method!r}")
    sizes = _input_sizes(stages, input_size)
    for stage, record, size in zip(
        reversed(stages), reversed(records), reversed(sizes), strict=True
    ):
        if stage.kind == "conv":
            assert stage.conv is not None
            # The transposed convolution with the same filters: the gradient of a 3×3
            # convolution with padding 1 with respect to its input, bias left out.
            signal = F.conv_transpose2d(signal, stage.conv.weight.float(), padding=1)
        elif stage.kind == "relu":
            assert record is not None
            signal = F.relu(signal)
            if method == "guided":
                signal = signal * (record > 0)
        elif stage.kind == "max":
            assert record is not None
            signal = F.max_unpool2d(
                signal, record.expand(len(signal), -1, -1, -1), (2, 2), output_size=size
            )
        else:  # an average pool's transpose spreads each value evenly over its 2×2 window
            signal = F.pad(
                signal.repeat_interleave(2, -2).repeat_interleave(2, -1) / 4,
                (0, size[1] - 2 * signal.shape[-1], 0, size[0] - 2 * signal.shape[-2]),
            )
    return signal


def _input_sizes(stages: Sequence[Stage], size: tuple[int, int]) -> list[tuple[int, int]]:
    """(H, W) of each stage's input."""
    sizes = []
    for stage in stages:
        sizes.append(size)
        if stage.kind in ("max", "avg"):
            size = (size[0] // 2, size[1] // 2)
    return sizes


def window(vgg: VGG, layer: str, x: int, y: int, size: Size) -> Box:
    """The part of an image of `size` (W, H) whose pixels decide the projection of `layer`'s
    unit at (x, y): its receptive field, clipped to the image, with the left and top edges
    moved out to multiples of the layer's stride so that every pooling grid lines up with the
    whole image's. Every forward value that the backward pass reads (a switch, a ReLU's sign)
    belongs to a position whose own receptive field lies inside the unit's, so inside this
    window it is computed from the same pixels and never from the window's zero padding: the
    projection is the same as on the whole image (tests/units/test_project.py compares them)."""
    info = vgg.info[layer]
    x0, y0, x1, y1 = info.box(x, y)
    stride = info.stride
    left, top = max(0, x0 // stride * stride), max(0, y0 // stride * stride)
    return left, top, min(size[0], x1), min(size[1], y1)


@dataclass(frozen=True)
class Target:
    """One activation to project: `unit` at feature position (y, x)."""

    unit: int
    y: int
    x: int


def project(
    vgg: VGG,
    image: Tensor,
    layer: str,
    targets: Sequence[Target],
    *,
    method: Method = "deconv",
    crop: bool = True,
) -> Tensor:
    """The projections of `targets` of `layer` for one RGB image (1, 3, H, W) in [0, 1].

    Returns (N, 3, H, W), one signal per target in the space of the RGB input (it is zero
    outside each target's receptive field). Each starts from the target's own activation,
    every other activation of the layer set to zero, as Zeiler & Fergus do. With `crop`,
    each is computed on its `window` of the image, which gives the same result.
    """
    vgg.info[layer].check_unit(max((t.unit for t in targets), default=0))
    stages = vgg_stages(vgg, layer)
    h, w = image.shape[-2:]
    out = torch.zeros(len(targets), 3, h, w)
    groups: dict[Box, list[int]] = {}
    for i, t in enumerate(targets):
        box = window(vgg, layer, t.x, t.y, (w, h)) if crop else (0, 0, w, h)
        groups.setdefault(box, []).append(i)
    stride = vgg.info[layer].stride
    device = vgg.conv("conv1_1").weight.device
    for (x0, y0, x1, y1), members in groups.items():
        part = image[..., y0:y1, x0:x1].to(device)
        top, records = trace(stages, vgg.preprocess(part))
        # One forward pass per window, the backward passes BATCH targets at a time: a deep
        # layer's window is the whole image, and 64 signals at conv1_1 of a 224-px image would
        # hold 0.8 GB.
        for start in range(0, len(members), BATCH):
            chunk = members[start : start + BATCH]
            signal = torch.zeros((len(chunk), *top.shape[1:]), device=device)
            for row, i in enumerate(chunk):
                t = targets[i]
                fy, fx = t.y - y0 // stride, t.x - x0 // stride
                signal[row, t.unit, fy, fx] = top[0, t.unit, fy, fx]
            back = project_back(stages, records, signal, method, (y1 - y0, x1 - x0))
            out[chunk, :, y0:y1, x0:x1] = vgg.preprocess_transpose(back).cpu()
    return out


BATCH = 16  # targets carried back together


# Pictures are scaled so that this share of a projection's values lies inside the grey range:
# the largest value alone would leave a deep unit's projection (a few bright pixels) all grey.
PICTURE_QUANTILE = 0.99


def picture(signal: Tensor) -> Tensor:
    """A projection (1, 3, h, w) as an image in [0, 1]: grey where it is zero, lighter and
    darker (and coloured) where it pushes the pixels up or down, scaled by the
    `PICTURE_QUANTILE` of its nonzero absolute values and clipped past it."""
    values = signal.abs().flatten().float()
    values = values[values > 0]
    if not len(values):
        return torch.full_like(signal, 0.5)
    scale = torch.quantile(values, PICTURE_QUANTILE)
    return (0.5 + 0.5 * signal / scale).clamp(0, 1)


def project_hits(
    vgg: VGG,
    hits: Sequence,
    load: Callable[[str], Tensor],
    *,
    method: Method = "deconv",
    callback: Callable[[int], None] | None = None,
) -> list[Tensor]:
    """Per hit (`units.scan.Hit`), its projection cut to its receptive field, (1, 3, rf, rf),
    in the order given. `load(path)` returns the scan image the hit was found in. Hits in the
    same image and layer share one forward pass; `callback` gets the number done so far."""
    from .scan import crop_patch

    by_image: dict[tuple[str, str], list[int]] = {}
    for i, hit in enumerate(hits):
        by_image.setdefault((hit.path, hit.layer), []).append(i)
    out: list[Tensor | None] = [None] * len(hits)
    done = 0
    for (path, layer), members in by_image.items():
        signals = project(
            vgg,
            load(path),
            layer,
            [Target(hits[i].unit, hits[i].y, hits[i].x) for i in members],
            method=method,
        )
        for i, signal in zip(members, signals, strict=True):
            out[i] = crop_patch(signal[None], hits[i].box_scan, fill=0.0)
        done += len(members)
        if callback:
            callback(done)
    return [t for t in out if t is not None]
