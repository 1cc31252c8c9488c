"""The cost functions of Gatys et al.: pure functions of tensors, no model, no state.

Feature maps are (B, C, H, W); a layer has n_C = C channels and n_H·n_W = H·W positions.
The formulas follow the paper; every departure is marked where it happens.
"""
from __future__ import annotations

import torch
from torch import Tensor


def gram_matrix(features: Tensor) -> Tensor:
    """G_kk' = Σ_ij a_ijk · a_ijk', the channel correlations. (B, C, H, W) -> (B, C, C), in fp32."""
    b, c = features.shape[:2]
    if features.is_contiguous(memory_format=torch.channels_last) and not features.is_contiguous():
        # Same sum, laid out to match channels-last features, so that the gradient comes back
        # in their layout: mixing layouts in the backward pass costs more than the matmul.
        a = features.float().permute(0, 2, 3, 1).reshape(b, -1, c)  # (B, H·W, C)
        return a.transpose(1, 2) @ a
    a = features.float().reshape(b, c, -1)  # (B, C, H·W)
    return a @ a.transpose(1, 2)


def mean_gram(features: Tensor, mask: Tensor | None = None) -> Tensor:
    """The Gram matrix divided by the number of positions n_H·n_W: (B, C, C).

    Departure: Gatys et al. compare raw Gram matrices of equally sized images. Dividing each by
    its own n_H·n_W lets a style image of any size (or a blend of several) supply the target.

    With a `mask` (B or 1, 1, H, W) in [0, 1], the guided Gram of Gatys et al. 2017: the Gram of
    mask·features, divided by Σ mask² so that it is an average over the masked region.
    """
    if mask is None:
        return gram_matrix(features) / (features.shape[-2] * features.shape[-1])
    mask = mask.to(torch.float32)
    return gram_matrix(features.float() * mask) / mask.pow(2).sum().clamp_min(1e-8)


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
