"""stylegram: neural style transfer (Gatys et al.) and a look at what VGG's units learned.

    >>> import stylegram
    >>> image = stylegram.stylize("photo.jpg", ["painting.jpg"], stylegram.StyleConfig(size=512))
    >>> image.save("out.png")

The ground (vgg, image, gram, geometry, settings) carries the network and the conventions;
`stylegram.transfer` and `stylegram.units` stand on it; `stylegram.cli` on those.
Nothing runs at import: no downloads, no files written.
"""
from .image import load_image, save_image
from .transfer import PRESETS, Iterate, StyleConfig, content_loss, gram_matrix, mean_gram, style_loss, stylize, tv_loss
from .units import ExplainConfig, UnitsConfig
from .vgg import VGG, LayerInfo, layer_infos, load_vgg

__version__ = "0.1.0"

__all__ = [
    "PRESETS", "VGG", "ExplainConfig", "Iterate", "LayerInfo", "StyleConfig", "UnitsConfig",
    "content_loss", "gram_matrix", "layer_infos", "load_image", "load_vgg", "mean_gram",
    "save_image", "style_loss", "stylize", "tv_loss",
]
