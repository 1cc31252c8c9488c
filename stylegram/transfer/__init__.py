"""Style transfer: `stylize()` and its `StyleConfig`, on the network in stylegram.vgg.

config.py      every setting, with its default and limits
schedule.py    the coarse-to-fine sizes and steps;  plan.py  each scale's memory plan, device
losses.py      the cost functions, pure;  objective.py  J and ∇J, whole or tile by tile
loop.py        the one optimisation loop;  lbfgs.py  its L-BFGS step
stylize.py     inputs, targets, and the job from photo to picture
tiling.py      large scales evaluated tile by tile
masks.py       where each style paints;  color.py  colour preservation
provenance.py  the settings and command written into each picture
quality.py     the content and style gaps the benchmarks report
"""

from .config import PRESETS, StyleConfig
from .losses import content_loss, gram_matrix, mean_gram, style_loss, tv_loss
from .stylize import Iterate, stylize

__all__ = [
    "PRESETS",
    "Iterate",
    "StyleConfig",
    "content_loss",
    "gram_matrix",
    "mean_gram",
    "style_loss",
    "stylize",
    "tv_loss",
]
