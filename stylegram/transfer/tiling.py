"""Outputs of any size: optimise a large scale tile by tile, in bounded memory.

Past a pixel budget, each evaluation of J covers the image with overlapping tiles whose grid
shifts by a random offset, so no seam stays in one place. Each tile is compared with its own
crop of the content (content targets are the tile's) and with the global style Grams (style
targets stay global). The gradients of all tiles land in the one full-size image's gradient,
and the scale is optimised by the same loop as a whole image (loop.py).
"""
from __future__ import annotations

import math
import os
from typing import Callable, Iterator

import torch
from torch import Tensor

from ..geometry import Box, crop
from .loop import Objective

# Peak resident bytes per output pixel of one forward+backward pass to relu5_1, measured here
# (peak RSS 2.25 GB at 1024×768 and 6.6 GB at 2048×1536 on the bf16 path, less a 0.45 GB
# baseline); fp32 is an estimate.
BYTES_PER_PIXEL = {"bf16": 2000, "fp32": 3500}
# Full-size tensors kept while tiling: image, gradient, Adam's two moments, content, upsampled
# previous scale, masks, float32 × 3 channels each.
IMAGE_BYTES_PER_PIXEL = 8 * 3 * 4
AUTO_BUDGET = 5 * 2**30  # tile above this estimated peak, so 4096 px stays within about 6 GB
MAX_AUTO_TILE = 1024


def available_memory() -> int:
    """Bytes this process may still use: MemAvailable on Linux, else physical memory."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def estimate_bytes(w: int, h: int, precision: str) -> int:
    """Peak memory of one untiled iteration at w×h."""
    return h * w * (BYTES_PER_PIXEL[precision] + IMAGE_BYTES_PER_PIXEL)


def choose_tile(w: int, h: int, precision: str, tile_size: int | None, min_side: int) -> int | None:
    """The tile side for a w×h scale, or None to optimise it whole.

    Raises ValueError, before any work, when even tiles would not fit in memory.
    """
    available = available_memory()
    if h * w * IMAGE_BYTES_PER_PIXEL > 0.8 * available:
        need = h * w * IMAGE_BYTES_PER_PIXEL / 2**30
        raise ValueError(f"a {w}×{h} output needs about {need:.1f} GB even when tiled, and"
                         f" {available / 2**30:.1f} GB is available; choose a smaller --size")
    if tile_size is not None:
        return None if max(h, w) <= tile_size else max(tile_size, min_side * 2)
    budget = min(AUTO_BUDGET, 0.6 * available)
    if estimate_bytes(w, h, precision) <= budget:
        return None
    side = math.isqrt(int(budget / 2 / BYTES_PER_PIXEL[precision]))
    return max(min_side * 2, min(MAX_AUTO_TILE, side // 64 * 64))


def tile_boxes(w: int, h: int, tile: int, offset: tuple[int, int]) -> list[Box]:
    """Tiles of side `tile` covering w×h, overlapping by a quarter, the grid shifted by
    `offset` = (dx, dy).

    Edge tiles are slid inside the image rather than cut short, so every tile is full size.
    """
    stride = tile - tile // 4

    def starts(length: int, shift: int) -> list[int]:
        if length <= tile:
            return [0]
        n = math.ceil((length + shift - tile) / stride) + 1
        return sorted({min(max(0, i * stride - shift), length - tile) for i in range(n)})

    tw, th = min(tile, w), min(tile, h)
    return [(x, y, x + tw, y + th) for y in starts(h, offset[1]) for x in starts(w, offset[0])]


def tiled(terms_of: Callable[[Tensor, Box], dict[str, Tensor]], tile: int, generator: torch.Generator) -> Objective:
    """The objective of a large image evaluated tile by tile, in bounded memory.

    Departure: each call draws a new grid offset, so J changes slightly between evaluations;
    the terms reported are the sums over tiles, which count overlaps more than once.
    """

    def objective(image: Tensor) -> dict[str, Tensor]:
        h, w = image.shape[-2:]
        offset = tuple(int(torch.randint(0, tile, (1,), generator=generator)) for _ in range(2))
        totals: dict[str, Tensor] = {}
        for box in tile_boxes(w, h, tile, offset):  # type: ignore[arg-type]
            terms = terms_of(crop(image, box), box)
            terms["total"].backward()
            for k, v in terms.items():
                totals[k] = totals.get(k, 0) + v.detach()
        return totals

    return objective


def iter_tiles(w: int, h: int, tile: int) -> Iterator[Box]:
    """A fixed, unshifted tiling: for computing targets over a large image piece by piece."""
    yield from tile_boxes(w, h, tile, (0, 0))
