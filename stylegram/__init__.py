"""stylegram: neural style transfer (Gatys et al.) and a look at what VGG's units learned.

    >>> import stylegram
    >>> image = stylegram.stylize("photo.jpg", ["painting.jpg"], stylegram.StyleConfig(size=512))
    >>> image.save("out.png")

The ground (vgg, weights, image, gram, geometry, settings) carries the network and the conventions;
`stylegram.transfer` and `stylegram.units` stand on it; `stylegram.cli` on those.
Nothing runs at import: no downloads, no files written, not even torch imported. The names
below load their module on first use (PEP 562), so that the command line can catch a Ctrl-C
during its imports and exit with one line instead of a traceback.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's: importing typing here would widen the window above

__version__ = "0.1.0"

_EXPORTS = {
    "load_image": "image",
    "save_image": "image",
    "PRESETS": "transfer",
    "Iterate": "transfer",
    "StyleConfig": "transfer",
    "content_loss": "transfer",
    "gram_matrix": "transfer",
    "mean_gram": "transfer",
    "style_loss": "transfer",
    "stylize": "transfer",
    "tv_loss": "transfer",
    "ExplainConfig": "units",
    "UnitsConfig": "units",
    "VGG": "vgg",
    "LayerInfo": "vgg",
    "layer_infos": "vgg",
    "load_vgg": "weights",
    "live": "notebook",
}
_SUBMODULES = {
    "cli",
    "geometry",
    "gram",
    "image",
    "notebook",
    "settings",
    "transfer",
    "units",
    "vgg",
    "weights",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from .image import load_image, save_image
    from .notebook import live
    from .transfer import (
        PRESETS,
        Iterate,
        StyleConfig,
        content_loss,
        gram_matrix,
        mean_gram,
        style_loss,
        stylize,
        tv_loss,
    )
    from .units import ExplainConfig, UnitsConfig
    from .vgg import VGG, LayerInfo, layer_infos
    from .weights import load_vgg


def __getattr__(name: str) -> object:
    import importlib

    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module 'stylegram' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS) | _SUBMODULES)
