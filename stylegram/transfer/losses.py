"""The cost functions of Gatys et al.: pure functions of tensors, no model, no state.

Feature maps are (B, C, H, W); a layer has n_C = C channels and n_H·n_W = H·W positions.
The formulas follow the paper; every departure is marked where it happens.
"""
from __future__ import annotations

from torch import Tensor

from ..gram import gram_matrix, mean_gram  # noqa: F401 (the Gram is part of the loss vocabulary)


def content_loss(generated: Tensor, target: Tensor, mask: Tensor | None = None) -> Tensor:
    """J_content = ½‖a(C) − a(G)‖², here divided by n_H·n_W·n_C.

    Departure: the seed's sum grows with the pixel count while the style cost does not, so the
    same α would give a different picture at 256 px and at 1024 px. The mean keeps it fixed.
    A `mask` (1, 1, H, W) weights each position (spatial control).
    """
    diff = (generated.float() - target.float()).pow(2)
    return 0.5 * (diff if mask is None else diff * mask).mean()


def style_loss(generated: Tensor, target_mean_gram: Tensor, mask: Tensor | None = None) -> Tensor:
    """‖G(S) − G(G)‖²_F / (2·n_H·n_W·n_C)² for one layer, summed over the batch.

    `target_mean_gram` is `mean_gram()` of the style features (C, C) or (B, C, C). With both
    Grams divided by n_H·n_W the cost is ‖Ĝ(S) − Ĝ(G)‖²_F / (2·n_C)², which equals the seed's
    formula when the style and the generated image have the same size.

    With a `mask`, the output's Gram is guided by it and the cost is weighted by the mask's
    mean, so a style painting a quarter of the image weighs a quarter.
    """
    n_c = generated.shape[1]
    diff = mean_gram(generated, mask) - target_mean_gram
    cost = diff.pow(2).sum() / (2 * n_c) ** 2
    return cost if mask is None else cost * mask.float().mean()


def tv_loss(image: Tensor) -> Tensor:
    """Total variation: the mean squared difference between neighbouring pixels.

    Not in Gatys et al. 2015; added by most implementations (Johnson et al.) to suppress
    high-frequency noise. Squared differences give a smooth gradient.
    """
    dy = image[..., 1:, :] - image[..., :-1, :]
    dx = image[..., :, 1:] - image[..., :, :-1]
    return dy.float().pow(2).mean() + dx.float().pow(2).mean()
