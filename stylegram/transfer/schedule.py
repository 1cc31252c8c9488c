"""The coarse-to-fine schedule: which sizes a job optimises at, and for how many steps."""
from __future__ import annotations

from ..geometry import Size
from .config import PRESETS, StyleConfig


def schedule(config: StyleConfig, content_size: Size, min_side: int) -> list[tuple[int, int]]:
    """(long side, iterations) per scale, coarsest first.

    Scales too small for the deepest layer are dropped and their iterations moved to the next.
    """
    per_scale = list(PRESETS[config.quality].iterations)
    n = config.scales or len(per_scale)
    per_scale = (per_scale[-n:] if n <= len(per_scale) else [per_scale[0]] * (n - len(per_scale)) + per_scale)
    if config.iterations is not None:
        total = sum(per_scale) or 1
        per_scale = [round(config.iterations * k / total) for k in per_scale]
        per_scale[-1] += config.iterations - sum(per_scale)
    aspect = min(content_size) / max(content_size)
    plan: list[tuple[int, int]] = []
    carry = 0
    for k, iters in enumerate(per_scale):
        long_side = round(config.size / 2 ** (n - 1 - k))
        if long_side * aspect < min_side and k < n - 1:
            carry += iters
            continue
        plan.append((long_side, iters + carry))
        carry = 0
    return plan
