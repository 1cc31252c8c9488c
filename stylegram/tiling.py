"""Outputs of any size: optimise a large scale tile by tile, in bounded memory.

Past a pixel budget, each iteration covers the image with overlapping tiles whose grid shifts
by a random offset, so no seam stays in one place. Each tile is compared with its own crop of
the content (content targets are the tile's) and with the global style Grams (style targets
stay global). The gradients of all tiles land in one full-size image, which Adam then steps.
"""
from __future__ import annotations

import math
import os
from typing import Callable, Iterator

import torch
from torch import Tensor

Box = tuple[int, int, int, int]  # y0, x0, y1, x1 in pixels of the current scale

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


def estimate_bytes(h: int, w: int, precision: str) -> int:
    """Peak memory of one untiled iteration at h×w."""
    return h * w * (BYTES_PER_PIXEL[precision] + IMAGE_BYTES_PER_PIXEL)


def choose_tile(h: int, w: int, precision: str, tile_size: int | None, min_side: int) -> int | None:
    """The tile side for an h×w scale, or None to optimise it whole.

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
    if estimate_bytes(h, w, precision) <= budget:
        return None
    side = math.isqrt(int(budget / 2 / BYTES_PER_PIXEL[precision]))
    return max(min_side * 2, min(MAX_AUTO_TILE, side // 64 * 64))


def tile_boxes(h: int, w: int, tile: int, offset: tuple[int, int]) -> list[Box]:
    """Tiles of side `tile` covering h×w, overlapping by a quarter, the grid shifted by `offset`.

    Edge tiles are slid inside the image rather than cut short, so every tile is full size.
    """
    stride = tile - tile // 4

    def starts(length: int, shift: int) -> list[int]:
        if length <= tile:
            return [0]
        n = math.ceil((length + shift - tile) / stride) + 1
        return sorted({min(max(0, i * stride - shift), length - tile) for i in range(n)})

    th, tw = min(tile, h), min(tile, w)
    return [(y, x, y + th, x + tw) for y in starts(h, offset[0]) for x in starts(w, offset[1])]


def optimize_tiled(
    image: Tensor,
    steps: int,
    tile: int,
    *,
    learning_rate: float,
    evaluate: Callable[[Tensor, Box], dict[str, Tensor]],
    report: Callable[[dict[str, float], Tensor], None],
    generator: torch.Generator,
) -> Tensor:
    """Adam on the pixels of `image`, each step summing the gradients of every tile.

    Departure: the rest of stylegram uses L-BFGS, which needs one fixed objective; shifting
    tiles change the objective every step, which Adam tolerates.
    """
    image = image.detach().contiguous().requires_grad_(True)
    opt = torch.optim.Adam([image], lr=learning_rate)
    h, w = image.shape[-2:]
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        offset = tuple(int(torch.randint(0, tile, (1,), generator=generator)) for _ in range(2))
        totals: dict[str, float] = {}
        for box in tile_boxes(h, w, tile, offset):  # type: ignore[arg-type]
            y0, x0, y1, x1 = box
            terms = evaluate(image[:, :, y0:y1, x0:x1], box)
            terms["total"].backward()
            for k, v in terms.items():
                totals[k] = totals.get(k, 0.0) + float(v.detach())
        opt.step()
        with torch.no_grad():
            image.clamp_(0, 1)
        report(totals, image)
    return image.detach()


def iter_tiles(h: int, w: int, tile: int) -> Iterator[Box]:
    """A fixed, unshifted tiling: for computing targets over a large image piece by piece."""
    yield from tile_boxes(h, w, tile, (0, 0))
