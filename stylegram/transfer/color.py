"""Colour preservation (Gatys et al. 2017, "Controlling Perceptual Factors", section 5).

Two ways to keep the photo's colours while taking the painting's brushwork:
- ``luminance``: transfer on luminance alone, then put the content's chroma back (YIQ);
- ``histogram``: recolour the style image to the content's colour mean and covariance first.
The same match the other way round, region by region, is where photo to photo starts
(`match_regions`). Pure functions of (1, 3, H, W) RGB tensors in [0, 1].
"""

from __future__ import annotations

import torch
from torch import Tensor

# NTSC RGB -> YIQ, as in the paper.
_RGB_TO_YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])


def rgb_to_yiq(rgb: Tensor) -> Tensor:
    """(B, 3, H, W) RGB -> YIQ: Y is luminance, I and Q the chroma."""
    return torch.einsum("ij,bjhw->bihw", _RGB_TO_YIQ.to(rgb), rgb)


def yiq_to_rgb(yiq: Tensor) -> Tensor:
    return torch.einsum("ij,bjhw->bihw", torch.linalg.inv(_RGB_TO_YIQ).to(yiq), yiq)


def luminance(rgb: Tensor) -> Tensor:
    """Y as a 3-channel grey image, so that VGG sees luminance alone."""
    return rgb_to_yiq(rgb)[:, :1].expand(-1, 3, -1, -1).contiguous()


def match_luminance(style: Tensor, content: Tensor) -> Tensor:
    """The style's luminance image, shifted and scaled to the content's luminance mean and std.

    The paper's "luminance histogram matching": without it, a dark painting would darken the photo.
    """
    ys, yc = rgb_to_yiq(style)[:, :1], rgb_to_yiq(content)[:, :1]
    matched = (ys - ys.mean()) * (yc.std() / ys.std().clamp_min(1e-6)) + yc.mean()
    return matched.expand(-1, 3, -1, -1).contiguous()


def with_chroma_of(output: Tensor, content: Tensor) -> Tensor:
    """The output's luminance with the content's chroma (I, Q), back in RGB, unclipped."""
    y = rgb_to_yiq(output)[:, :1]
    iq = rgb_to_yiq(content)[:, 1:]
    return yiq_to_rgb(torch.cat([y, iq], dim=1))


def _sqrtm(cov: Tensor, inverse: bool = False) -> Tensor:
    """Square root (or inverse square root) of a symmetric positive semi-definite 3×3 matrix."""
    values, vectors = torch.linalg.eigh(cov)
    values = values.clamp_min(1e-8)
    values = values.rsqrt() if inverse else values.sqrt()
    return vectors @ torch.diag(values) @ vectors.T


def _mean_cov(rgb: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Colour mean (3, 1) and covariance (3, 3), float64, over the pixels of `mask` (1, 1, H, W)
    in [0, 1] as weights, or over all of them."""
    x = rgb.double().flatten(2)[0]  # (3, H·W)
    w = x.new_ones(x.shape[1]) if mask is None else mask.double().flatten().to(x.device)
    n = w.sum().clamp_min(1e-12)
    mean = (x * w).sum(dim=1, keepdim=True) / n
    centred = x - mean
    return mean, (centred * w) @ centred.T / n


def colour_map(
    source: Tensor,
    target: Tensor,
    source_mask: Tensor | None = None,
    target_mask: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """The affine map x -> A·x + b (A (3, 3), b (3, 1), float64) that gives the colours of
    `source` (within `source_mask`) the mean and covariance of `target`'s (within `target_mask`):
    A = Σ_t^½ Σ_s^-½, b = μ_t − A·μ_s. The paper's "colour histogram matching" (its Cholesky
    variant differs only by a rotation; the symmetric root keeps hues closest)."""
    mu_s, cov_s = _mean_cov(source, source_mask)
    mu_t, cov_t = _mean_cov(target, target_mask)
    a = _sqrtm(cov_t) @ _sqrtm(cov_s, inverse=True)
    return a, mu_t - a @ mu_s


def apply_map(image: Tensor, a: Tensor, b: Tensor) -> Tensor:
    """A·x + b at every pixel of an image (1, 3, H, W), float64, unclipped."""
    return (a @ image.double().flatten(2)[0] + b).view_as(image[0])[None]


def match_color_histogram(style: Tensor, content: Tensor) -> Tensor:
    """The style image recoloured so its colour mean and covariance are the content's
    (`colour_map`). Values may leave [0, 1] slightly; they are clipped."""
    return apply_map(style, *colour_map(style, content)).clamp(0, 1).to(style.dtype)


def match_regions(
    photo: Tensor, regions: list[tuple[Tensor, Tensor | None, Tensor | None, float]]
) -> Tensor:
    """The photo recoloured region by region, where photo to photo starts (transfer/stylize.py).

    Each region (target, photo mask, target mask, weight), masks (1, 1, H, W) in [0, 1] at their
    own image's size or None for the whole image, maps the photo's colours within its mask to
    the mean and covariance of the target's within its mask. The regions' results are mixed by
    mask × weight; where the regions cover a pixel only in part, the photo keeps the rest.
    Clipped to [0, 1], in the photo's dtype.
    """
    out = photo.double().clone()
    for target, photo_mask, target_mask, weight in regions:
        share = weight * (1.0 if photo_mask is None else photo_mask.double().to(photo.device))
        recoloured = apply_map(photo, *colour_map(photo, target, photo_mask, target_mask))
        out += share * (recoloured - photo.double())
    return out.clamp(0, 1).to(photo.dtype)
