"""The coarse-to-fine schedule: which sizes a job optimises at, and for how many steps."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

from ..geometry import Size
from ..settings import ConfigError
from .config import PHOTO_FINAL_STEPS, PRESETS, StyleConfig

# The long side the presets' steps were calibrated at (issue 10's grid, 512 px).
PRESET_SIZE = 512


def schedule(config: StyleConfig, content_size: Size, min_side: int) -> list[tuple[int, int]]:
    """(long side, iterations) per scale, coarsest first.

    A preset's scales end at PRESET_SIZE; a larger output starts where a PRESET_SIZE job starts
    and adds one scale per doubling, each with the preset's last count: the painting's large
    structures are found at the coarse scales, and the scales above add detail. Scales too small
    for the deepest layer are dropped and their iterations moved to the next. --photorealistic
    takes PHOTO_FINAL_STEPS times the preset's steps at its finest scale (and at the scales
    added above it).
    """
    per_scale = list(PRESETS[config.quality].iterations)
    if config.photorealistic:  # photo to photo's preset (config.PHOTO_FINAL_STEPS)
        per_scale[-1] = round(per_scale[-1] * PHOTO_FINAL_STEPS)
    if config.scales is None:
        per_scale += [per_scale[-1]] * max(0, math.floor(math.log2(config.size / PRESET_SIZE)))
    n = config.scales or len(per_scale)
    per_scale = (
        per_scale[-n:] if n <= len(per_scale) else [per_scale[0]] * (n - len(per_scale)) + per_scale
    )
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


def style_long_side(long_side: int, style_scale: float, style_size: Size, min_side: int) -> int:
    """The style image's long side at a scale whose output is `long_side`: `style_scale` times it,
    raised at the coarse scales where that would leave the style's short side under `min_side`
    (the deepest style layer's stride), so that every style layer has at least one position."""
    w, h = style_size
    floor = math.ceil(min_side * max(w, h) / min(w, h))
    return max(round(long_side * style_scale), floor)


def check_style_scale(
    config: StyleConfig,
    style_sizes: Sequence[Size],
    min_side: int,
    names: Sequence[object] | None = None,
) -> None:
    """Refuse a style_scale that makes a style image too small for the style layers at full size."""
    for i, (w, h) in enumerate(style_sizes):
        long_side = round(config.size * config.style_scale)
        short = max(1, round(min(w, h) * long_side / max(w, h)))
        if short < min_side:
            name = (
                f" '{names[i]}'"
                if names is not None and isinstance(names[i], (str, os.PathLike))
                else ""
            )
            least = math.ceil(100 * min_side * max(w, h) / min(w, h) / config.size) / 100
            raise ConfigError(
                "style_scale",
                f"{config.style_scale:g} makes style image{name} {short} px on its"
                f" short side at size {config.size}, and the style layers need at"
                f" least {min_side}: use a style scale of at least {least:g} or a"
                f" larger size",
            )
