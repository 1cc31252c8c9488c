"""Outputs of any size: the cores and tiles a large scale is evaluated in (see objective.py
for why the result is exact, and plan.py for how big the cores are).

The cores partition the image; their sides are multiples of the network's total stride, so that
every layer's pooling grid in a tile lines up with the whole image's. The network runs in
segments (a few blocks each), each over the whole map the one before gave, tile by tile: a tile
is a core plus the halo of its segment's layers, rounded up to the segment's stride, so that no
feature of a core sees the tile's own border.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass

from ..geometry import Box
from ..vgg import LayerInfo, deepest_stride


@dataclass(frozen=True)
class Tile:
    """The pixels a tile reads (`box`, core plus halo) and the core whose features it owns."""

    box: Box
    core: Box


def alignment(infos: dict[str, LayerInfo], layers: Iterable[str]) -> int:
    """Cores' origins are multiples of the deepest layer's stride, so tiles see the same grid."""
    return deepest_stride(infos, layers)


def halo(infos: dict[str, LayerInfo], layers: Iterable[str]) -> int:
    """The widest halo of a pass to `layers`, over its segments: no tile of the pass reaches
    further beyond its core (VGG19 to relu5_1: block 4's 32 px)."""
    return max((part.halo for part in segments(infos, layers)), default=0)


def cores(w: int, h: int, core: int, align: int) -> list[Box]:
    """Cores of side `core` (a multiple of `align`) covering w×h, clipped to it."""
    if core % align:
        raise ValueError(f"tile core {core} px is not a multiple of the network's stride {align}")
    return [
        (x0, y0, min(x0 + core, w), min(y0 + core, h))
        for y0 in range(0, h, core)
        for x0 in range(0, w, core)
    ]


def grown(core: Box, halo: int, w: int, h: int) -> Tile:
    """The tile of `core` with `halo` pixels around it, clipped to the w×h image."""
    x0, y0, x1, y1 = core
    return Tile((max(0, x0 - halo), max(0, y0 - halo), min(w, x1 + halo), min(h, y1 + halo)), core)


# Segments (below) end after the pools of at least this stride: pool2, pool3, pool4 in VGG. Not
# after pool1: its map would be the largest kept (64 channels at a quarter of the pixels) and
# spare only block 2's 4 pixels of halo.
CUT_STRIDE = 4


@dataclass(frozen=True)
class Segment:
    """Layers `start` to `stop` − 1 of the network, run tile by tile over the whole map the
    layer before gives (the image, for the first), so that a tile needs only the halo of its
    segment's own layers rather than the deepest layer's."""

    start: int
    stop: int
    stride: int  # of the segment's input
    channels: int  # of the segment's input
    halo: int  # image pixels around a core its last layer's features see of its input
    out_stride: int  # of its last layer's output


def segments(infos: dict[str, LayerInfo], layers: Iterable[str]) -> list[Segment]:
    """The segments of a pass to the deepest of `layers`: one per block from block 3, blocks 1
    and 2 together (CUT_STRIDE).

    A 3×3 convolution at stride s reaches s pixels beyond its output's; pools of 2 on aligned
    grids reach nothing. A segment's halo is its convolutions' reach, rounded up to its output's
    stride, so that tile origins line up with its pooling grids. VGG19 to relu5_1: 8, 16, 32 and
    16 pixels, where one segment would need 80 (relu5_1 sees 70 px each side).
    """
    names = list(infos)
    deepest = max((names.index(n) for n in layers), default=-1)
    if deepest < 0:
        return []  # no layers: nothing to run
    cuts = [
        i + 1
        for i, n in enumerate(names[:deepest])
        if infos[n].kind == "pool" and infos[n].stride >= CUT_STRIDE
    ]
    bounds = [0, *cuts, deepest + 1]
    out = []
    for start, stop in itertools.pairwise(bounds):
        reach = sum(infos[n].stride for n in names[start:stop] if infos[n].kind == "conv")
        step = infos[names[stop - 1]].stride
        source = None if start == 0 else infos[names[start - 1]]  # None: the RGB image
        stride, channels = (1, 3) if source is None else (source.stride, source.channels)
        out.append(Segment(start, stop, stride, channels, math.ceil(reach / step) * step, step))
    return out


def kept_values(infos: dict[str, LayerInfo], layers: Iterable[str]) -> float:
    """The most values a tiled pass to `layers` holds in whole maps at once, per image pixel:
    the inputs of the segments after the first, kept from pass 1 until pass 2 has gone back
    through them, and in pass 2 the gradients at a segment's input and output (the image and
    its gradient, counted by the plan as images, aside). VGG19 to relu5_1: 20 (8 + 4 + 2 kept,
    8 + 4 gradients while back in block 3)."""
    parts = segments(infos, layers)
    inputs = [0.0 if p.start == 0 else p.channels / p.stride**2 for p in parts]
    return max(
        (
            sum(inputs[: k + 1]) + inputs[k] + (inputs[k + 1] if k + 1 < len(parts) else 0.0)
            for k in range(len(parts))
        ),
        default=0.0,
    )


def whole(w: int, h: int) -> list[Box]:
    """One core: the whole image."""
    return [(0, 0, w, h)]
