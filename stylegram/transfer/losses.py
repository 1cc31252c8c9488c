"""The cost functions of Gatys et al.: pure functions of tensors, no model, no state.

Feature maps are (B, C, H, W); a layer has n_C = C channels and n_H·n_W = H·W positions.
The formulas follow the paper; every departure is marked where it happens.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..gram import gram_count, gram_matrix, mean_gram  # noqa: F401 (the Gram is part of the loss vocabulary)


def content_loss(generated: Tensor, target: Tensor, mask: Tensor | None = None) -> Tensor:
    """J_content = ½‖a(C) − a(G)‖², here relative: divided by n_H·n_W·n_C and by the photo's own
    mean squared feature, ‖a(C)‖²/(n_H·n_W·n_C) (`content_norm`).

    Departures: the seed's sum grows with the pixel count while the style cost does not, so the
    same α would give a different picture at 256 px and at 1024 px; the mean keeps it fixed. And
    the photo's feature energy varies (1.7-fold across four photos at 512 px, and 2.4-fold between
    128 and 512 px for one): divided by it, the cost is a relative error like the style cost, and
    α and β keep their meaning for every photo and every scale.
    A `mask` (1, 1, H, W) weights each position (spatial control).
    """
    mean_square = squared_error(generated, target, mask) / generated.numel()
    return 0.5 * mean_square / content_norm(target)


def squared_error(generated: Tensor, target: Tensor, mask: Tensor | None = None) -> Tensor:
    """Σ mask·(a(G) − a(C))² in fp32: `content_loss` before its means; a tile's core adds its part."""
    diff = generated.float() - target.float()
    if mask is None:
        # ‖d‖² as a norm rather than d.pow(2).sum(): the backward pass of a reduction multiplies an
        # expanded scalar into the channels-last map on a slow path (14 ms against 6 at 512 px).
        return torch.linalg.vector_norm(diff).square()
    return (diff.pow(2) * mask).sum()


def content_norm(target: Tensor) -> Tensor:
    """The photo's mean squared feature at a layer, that `content_loss` divides by."""
    return target.float().pow(2).mean().clamp_min(1e-12)


def style_loss(
    generated: Tensor,
    target_mean_gram: Tensor,
    mask: Tensor | None = None,
    norm: Tensor | None = None,
) -> Tensor:
    """‖G(S) − G(G)‖²_F for one layer, relative to the style's own ‖G(S)‖²_F; summed over the batch.

    `target_mean_gram` is `mean_gram()` of the style features (C, C) or (B, C, C). Both Grams
    are divided by n_H·n_W, so a style image of any size can supply the target.

    Departure: the seed divides by (2·n_H·n_W·n_C)², a constant, so the cost carries the
    painting's own feature energy: at the start (G = the photo) it spread 14-fold across nine
    paintings, and over five orders of magnitude across the five layers, so that no one β or
    λ_l suited every painting. Divided by the style's Gram energy ‖Ĝ(S)‖²_F (`style_norm`) it
    is the Gram's relative error, which spread 1.5-fold there (2.5 to 3.6 summed over the layers):
    the same β means the same strength for every painting and every layer.

    With a `mask`, the output's Gram is guided by it and the cost is weighted by the mask's
    mean, so a style painting a quarter of the image weighs a quarter. `norm` is the Gram
    energy the cost is relative to, when that is not the target's own: a segmented region's
    is its whole style image's (see transfer/stylize.py, `_style_grams`).
    """
    return gram_loss(mean_gram(generated, mask), target_mean_gram, mask, norm)


def gram_loss(
    mean_gram_out: Tensor,
    target_mean_gram: Tensor,
    mask: Tensor | None = None,
    norm: Tensor | None = None,
) -> Tensor:
    """`style_loss` from the output's mean Gram (the whole image's, or one summed tile by tile)."""
    diff = mean_gram_out - target_mean_gram
    energy = style_norm(target_mean_gram) if norm is None else norm
    cost = (diff.pow(2).sum(dim=(-2, -1)) / energy).sum()
    return cost if mask is None else cost * mask.float().mean()


def style_norm(target_mean_gram: Tensor) -> Tensor:
    """‖Ĝ(S)‖²_F, the style's Gram energy that `style_loss` divides by: (C, C) -> (), (B, C, C) -> (B,)."""
    return target_mean_gram.float().pow(2).sum(dim=(-2, -1)).clamp_min(1e-12)


def tv_loss(image: Tensor) -> Tensor:
    """Total variation: the mean squared difference between neighbouring pixels.

    Not in Gatys et al. 2015; added by most implementations (Johnson et al.) to suppress
    high-frequency noise. Squared differences give a smooth gradient.
    """
    dy = image[..., 1:, :] - image[..., :-1, :]
    dx = image[..., :, 1:] - image[..., :, :-1]
    return dy.float().pow(2).mean() + dx.float().pow(2).mean()
