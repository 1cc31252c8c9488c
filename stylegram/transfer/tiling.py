"""Outputs of any size: the tiles a large scale is evaluated in (see objective.py for why the
result is exact, and plan.py for how big the tiles are).

A tile is a core plus a halo. The cores partition the image; their sides are multiples of the
network's total stride, so that every layer's pooling grid in a tile lines up with the whole
image's. The halo is at least the receptive-field radius of the deepest layer used, rounded up
to the stride, so that no feature of a core sees the tile's own border.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from ..vgg import LayerInfo, deepest_stride
from .objective import Tile


def alignment(infos: dict[str, LayerInfo], layers: Iterable[str]) -> int:
    """Tile origins are multiples of the deepest layer's stride, so tiles see the same grid."""
    return deepest_stride(infos, layers)


def halo(infos: dict[str, LayerInfo], layers: Iterable[str]) -> int:
    """Pixels around a core that its features can see, rounded up to the alignment.

    A feature at position p sees [offset + p·stride − (rf−1)/2, … + rf); for the first and last
    positions of a core that reaches (rf−1)/2 − offset before it and offset + (rf+1)/2 − stride
    after it.
    """
    layers = list(layers)
    need = max(
        max(
            (infos[n].receptive_field - 1) / 2 - infos[n].offset,
            infos[n].offset + (infos[n].receptive_field + 1) / 2 - infos[n].stride,
        )
        for n in layers
    )
    step = alignment(infos, layers)
    return math.ceil(need / step) * step


def tiles(w: int, h: int, core: int, halo: int, align: int) -> list[Tile]:
    """Cores of side `core` (a multiple of `align`) covering w×h, each with its halo, clipped."""
    if core % align:
        raise ValueError(f"tile core {core} px is not a multiple of the network's stride {align}")

    def starts(length: int) -> list[int]:
        return list(range(0, length, core))

    out = []
    for y0 in starts(h):
        for x0 in starts(w):
            c = (x0, y0, min(x0 + core, w), min(y0 + core, h))
            box = (
                max(0, c[0] - halo),
                max(0, c[1] - halo),
                min(w, c[2] + halo),
                min(h, c[3] + halo),
            )
            out.append(Tile(box, c))
    return out


def whole(w: int, h: int) -> list[Tile]:
    """One tile: the whole image is its own core."""
    return [Tile((0, 0, w, h), (0, 0, w, h))]
