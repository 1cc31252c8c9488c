"""UnitsConfig and ExplainConfig: the settings of `units` and `explain-style`, with defaults,
help and limits. Their CLI options are generated from these fields, as stylize's are."""

from __future__ import annotations

from dataclasses import dataclass

from ..geometry import Precision
from ..settings import ConfigError, check_fields, option
from ..vgg import STYLE_LAYERS, check_layers, layer_infos
from .project import Method
from .scan import DEFAULT_LAYERS, MAX_OUTSIDE, Rank, parse_units


@dataclass(frozen=True)
class ScanConfig:
    """How images are scanned: shared by `units` and `explain-style`."""

    top: int = option(9, "patches per unit", min=1, max=1000, metavar="K")
    size: int = option(
        224,
        "scan size: each image's SHORT side is resized to PX, then centre-cropped to PX×PX"
        " (unlike stylize's --size, the long side)",
        min=32,
        max=2048,
        metavar="PX",
    )
    batch_size: int = option(8, "images per forward pass", min=1, max=1024, metavar="N")
    precision: Precision = option("auto", "network precision for the scan: bf16 where it is fast")
    max_outside: float = option(
        MAX_OUTSIDE,
        "how much of a patch may lie past the image border, per axis, as a"
        " fraction of its width; 1 allows any position",
        min=0,
        max=1,
        metavar="F",
    )
    weights: str | None = option(
        None, "VGG weights file (default: the original VGG19)", metavar="FILE"
    )

    def __post_init__(self) -> None:
        check_fields(self)
        # Each subclass has its own `layers` field, with its own default; ScanConfig has none.
        layers = self.layers  # type: ignore[attr-defined]
        try:
            check_layers(layers)
        except ValueError as exc:
            raise ConfigError(
                "layers", str(exc).replace("unknown layer", "has an unknown layer")
            ) from None
        if not layers:
            raise ConfigError("layers", "is empty; give at least one layer")


@dataclass(frozen=True)
class UnitsConfig(ScanConfig):
    """Settings of `stylegram units`: top-activating patches per unit (Zeiler & Fergus)."""

    layers: tuple[str, ...] = option(DEFAULT_LAYERS, "layers to show", metavar="LAYER")
    units: str = option(
        "0-8", "channels per layer: a range, a list, or all", metavar="0-8|all|3,7,10-12"
    )
    rank: Rank = option("max", "rank images by the unit's peak or its mean activation")
    optimize: bool = option(
        False,
        "also synthesise an image per unit by activation maximisation, shown beside the patches",
    )
    opt_steps: int = option(
        128, "with --optimize: Adam steps per unit", min=1, max=100_000, metavar="N"
    )
    opt_size: int = option(
        128, "with --optimize: side of the synthesised image", min=32, max=1024, metavar="PX"
    )
    projections: bool = option(
        False,
        "also draw each patch's projection, the pixels that drive the unit there"
        " (Zeiler & Fergus's deconvnet), beside it and as its own PNG",
    )
    projection: Method | None = option(
        None,
        "the projection's method: deconv (Zeiler & Fergus) or guided (guided backpropagation,"
        " Springenberg et al.); implies --projections",
    )

    opt_units: str | None = option(
        None,
        "with --optimize: the units that get an image (default: every unit shown)",
        metavar="0-15|all|3,7",
    )
    atlas: bool = option(
        False,
        "also write a browsable atlas (OUTDIR/atlas/index.html): a page per layer and per unit;"
        " implies --projections",
    )

    @property
    def projection_method(self) -> Method | None:
        """The method projections are drawn with, or None when none are asked for."""
        return self.projection or ("deconv" if self.projections or self.atlas else None)

    def __post_init__(self) -> None:
        super().__post_init__()
        infos = layer_infos()
        for layer in self.layers:
            parse_units(self.units, infos[layer])
            if self.opt_units is not None:
                parse_units(self.opt_units, infos[layer], option="opt_units")


@dataclass(frozen=True)
class ExplainConfig(ScanConfig):
    """Settings of `stylegram explain-style`: a painting's Gram matrices read as channels."""

    layers: tuple[str, ...] = option(STYLE_LAYERS, "style layers", metavar="LAYER")
    channels: int = option(6, "strongest channels per layer", min=1, max=512, metavar="N")
    pairs: int = option(6, "most correlated channel pairs per layer", min=0, max=1000, metavar="N")
    style_size: int = option(
        512, "long side of the style image in pixels", min=32, max=4096, metavar="PX"
    )
