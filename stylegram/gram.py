"""The Gram matrix of a layer, G_kk' = Σ_ij a_ijk · a_ijk': what style transfer matches and
explain-style reads. Pure functions of (B, C, H, W) feature maps; the product runs in the
features' dtype (bf16 features: fp32 accumulation, a bf16 result), the result is at least fp32.
"""

from __future__ import annotations

import torch
from torch import Tensor


def gram_matrix(features: Tensor) -> Tensor:
    """G_kk' = Σ_ij a_ijk · a_ijk', the channel correlations. (B, C, H, W) -> (B, C, C), in fp32
    (fp64 for fp64 features).

    Departure for speed: the product runs in the features' own dtype. For bf16 features the
    matmul accumulates in fp32 (oneDNN, cuBLAS) and rounds G to bf16, a relative error near
    1e-3 (tests hold the bf16 losses to fp32's within a few per cent); in fp32 it was 10 times
    slower than the bf16 matmul and a fifth of a step at 512 px.
    """
    b, c = features.shape[:2]
    a = _positions(features)
    # One 2-D product per image: torch's batched bf16 product copied the transposed operand
    # first, six times slower (36 ms against 6 ms for relu1_1 at 512 px). A single image is
    # reshaped rather than unbound: unbind's backward stacks the gradients, a copy of the map.
    images = [a.reshape(-1, c)] if b == 1 else a.unbind()
    return torch.stack([_symmetric_product(x) for x in images])


def mean_gram(features: Tensor, mask: Tensor | None = None) -> Tensor:
    """The Gram matrix divided by the number of positions n_H·n_W: (B, C, C).

    Departure: Gatys et al. compare raw Gram matrices of equally sized images. Dividing each by
    its own n_H·n_W lets a style image of any size (or a blend of several) supply the target.

    With a `mask` (B or 1, 1, H, W) in [0, 1], the guided Gram of Gatys et al. 2017: the Gram of
    mask·features, divided by Σ mask² so that it is an average over the masked region.
    """
    return guided_gram(features, mask) / gram_count(mask, features.shape[-2] * features.shape[-1])


def guided_gram(features: Tensor, mask: Tensor | None) -> Tensor:
    """The Gram of mask·features, (B, C, C), in fp32 with a mask (B or 1, 1, H, W) in [0, 1];
    `gram_matrix` without one."""
    if mask is None:
        return gram_matrix(features)
    mask = mask.to(torch.float32)
    if features.shape[0] == 1 and mask.shape == (1, 1, *features.shape[-2:]):
        # The product over the positions the mask touches only: the same sum, as the others
        # add zeros. A segmentation's regions partition the image, so its R regions cost one
        # Gram of the map between them, not R (pairs 11 and 12 of the paper have six).
        weights = mask.reshape(-1)
        touched = weights.nonzero().squeeze(1)
        rows = _positions(features).reshape(-1, features.shape[1]).index_select(0, touched)
        return _symmetric_product(rows.float() * weights[touched, None])[None]
    return gram_matrix(features.float() * mask)


def gram_count(mask: Tensor | None, positions: int) -> Tensor | int:
    """What `mean_gram` divides a Gram by: the layer's `positions` n_H·n_W, or Σ mask² for a
    guided Gram (a sum over the whole map, also when the Gram is summed tile by tile)."""
    return positions if mask is None else mask.float().pow(2).sum().clamp_min(1e-8)


def _positions(features: Tensor) -> Tensor:
    """(B, C, H, W) -> (B, H·W, C), a position per row, without a copy."""
    b, c = features.shape[:2]
    if features.is_contiguous(memory_format=torch.channels_last) and not features.is_contiguous():
        # Laid out to match channels-last features, without a copy, so that the gradient comes
        # back in their layout: mixing layouts in the backward pass costs more than the matmul.
        return features.permute(0, 2, 3, 1).reshape(b, -1, c)
    return features.reshape(b, c, -1).transpose(1, 2)


def _symmetric_product(a: Tensor) -> Tensor:
    """aᵀa for a (N, C), with a backward pass of one product, a·(dG + dGᵀ), in a's layout.

    Autograd's own backward for aᵀa differentiates both operands apart: two (N, C) products, one
    of them transposed, and their sum, a third of a step's Gram time in all at 512 px. Here one
    operand is detached, h = stop(a)ᵀ·a, so the only gradient is stop(a)·dh; and g = h + hᵀ − stop(h)
    has g's value (aᵀa is symmetric) with dh = dG + dGᵀ, the full derivative of aᵀa.
    First derivatives only: the stop-gradient makes second derivatives wrong, and nothing here
    takes them.
    """
    dtype = torch.promote_types(a.dtype, torch.float32)
    if not a.requires_grad:
        return (a.t() @ a).to(dtype)
    # In fp32 at least: the sum below then gives h back exactly where h is symmetric, as the
    # products here give it, and within an ulp where a library's product is not.
    h = (a.detach().t() @ a).to(dtype)
    return h + h.t() - h.detach()
