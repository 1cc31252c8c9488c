"""The Gram matrix of a layer, G_kk' = Σ_ij a_ijk · a_ijk': what style transfer matches and
explain-style reads. Pure functions of (B, C, H, W) feature maps, computed in fp32.
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
