"""Two numbers that say how well a stylised image keeps the content and takes the style.

Used by the benchmarks to check that speed does not cost quality. Both are ratios, so they
compare across sizes and implementations; lower is better for both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from PIL import Image
from torch import Tensor

from ..gram import mean_gram
from ..image import to_tensor
from ..vgg import CONTENT_LAYERS, STYLE_LAYERS, VGG

GAP_CONTENT_LAYER = CONTENT_LAYERS[0]
GAP_STYLE_LAYERS = STYLE_LAYERS  # fixed, so that gaps compare across settings of style_layers


@dataclass(frozen=True)
class Gaps:
    content: float  # mean squared relu4_2 difference to the content / content's mean square
    style: float  # geometric mean over layers of ‖Ĝ(out) − Ĝ(S)‖² / ‖Ĝ(C) − Ĝ(S)‖²


@torch.no_grad()
def gaps(model: VGG, output: Image.Image, content: Image.Image, style: Image.Image) -> Gaps:
    """Content and style gaps of `output`, in fp32.

    The content image is resized to the output's size and the style image to the output's
    pixel count; Gram matrices are divided by H·W.
    """
    w, h = output.size
    c = content.convert("RGB").resize((w, h), Image.Resampling.LANCZOS)
    sw, sh = style.size
    k = math.sqrt(w * h / (sw * sh))
    s = style.convert("RGB").resize(
        (max(1, round(sw * k)), max(1, round(sh * k))), Image.Resampling.LANCZOS
    )
    device = next(model.parameters()).device
    layers = (GAP_CONTENT_LAYER, *GAP_STYLE_LAYERS)

    def measure(im: Image.Image) -> tuple[Tensor, dict[str, Tensor]]:
        # One image at a time, its maps reduced to Gram matrices at once: at 4961 px the three
        # images' fp32 maps together would not fit in 23 GB.
        f = model(to_tensor(im).to(device), layers)
        return f[GAP_CONTENT_LAYER], {name: mean_gram(f[name]) for name in GAP_STYLE_LAYERS}

    (a_out, g_out), (a_c, g_c), (_, g_s) = measure(output), measure(c), measure(s)
    content_gap = float((a_out - a_c).pow(2).mean() / a_c.pow(2).mean())
    log_sum = 0.0
    for name in GAP_STYLE_LAYERS:
        log_sum += math.log(
            float((g_out[name] - g_s[name]).pow(2).sum() / (g_c[name] - g_s[name]).pow(2).sum())
        )
    return Gaps(content_gap, math.exp(log_sum / len(GAP_STYLE_LAYERS)))
