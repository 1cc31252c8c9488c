"""The coarse-to-fine schedule: which sizes a job optimises at, and for how many steps."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import NamedTuple

from ..geometry import Size
from ..settings import ConfigError
from .config import PRESETS, StyleConfig

# The long side the presets' steps were calibrated at (issue 10's grid, 512 px).
PRESET_SIZE = 512


class Scale(NamedTuple):
    long_side: int
    iterations: int
    texture: int  # of `iterations`, the first ones that are texture steps (config.Preset)


def schedule(config: StyleConfig, content_size: Size, min_side: int) -> list[Scale]:
    """The scales of a job, coarsest first.

    A preset's scales end at PRESET_SIZE; a larger output starts where a PRESET_SIZE job starts
    and adds one scale per doubling, each with the preset's last counts: the painting's large
    structures are found at the coarse scales, and the scales above add detail. Scales too small
    for the deepest layer are dropped and their iterations moved to the next. --photorealistic
    takes the preset's `photo` iterations. --iterations shares the total out as the preset
    does, texture steps in proportion. A job's first scale has no texture steps: it is not
    upsampled from anything.
    """
    preset = PRESETS[config.quality]
    per_scale = list(preset.photo if config.photorealistic else preset.iterations)
    texture = [0] * len(per_scale) if config.photorealistic else list(preset.texture)
    if config.scales is None:
        added = max(0, math.floor(math.log2(config.size / PRESET_SIZE)))
        per_scale += [per_scale[-1]] * added
        texture += [texture[-1]] * added
    n = config.scales or len(per_scale)
    per_scale, texture = (
        (per_scale[-n:], texture[-n:])
        if n <= len(per_scale)
        else (
            [per_scale[0]] * (n - len(per_scale)) + per_scale,
            [0] * (n - len(texture)) + texture,
        )
    )
    if config.iterations is not None:
        total = sum(per_scale) or 1
        given = [round(config.iterations * k / total) for k in per_scale]
        given[-1] += config.iterations - sum(given)
        texture = [
            round(t * g / k) if k else 0 for t, g, k in zip(texture, given, per_scale, strict=True)
        ]
        per_scale = given
    aspect = min(content_size) / max(content_size)
    plan: list[Scale] = []
    carry = 0
    for k, (iters, tex) in enumerate(zip(per_scale, texture, strict=True)):
        long_side = round(config.size / 2 ** (n - 1 - k))
        if long_side * aspect < min_side and k < n - 1:
            carry += iters
            continue
        iters += carry
        plan.append(Scale(long_side, iters, max(0, min(tex, iters - 1)) if plan else 0))
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
