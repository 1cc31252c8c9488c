"""Colour preservation (Gatys et al. 2017, "Controlling Perceptual Factors", section 5).

Two ways to keep the photo's colours while taking the painting's brushwork:
- ``luminance``: transfer on luminance alone, then put the content's chroma back (YIQ);
- ``histogram``: recolour the style image to the content's colour mean and covariance first.
Pure functions of (1, 3, H, W) RGB tensors in [0, 1].
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


def _mean_cov(rgb: Tensor) -> tuple[Tensor, Tensor]:
    x = rgb.double().flatten(2)[0]  # (3, H·W)
    mean = x.mean(dim=1, keepdim=True)
    centred = x - mean
    return mean, centred @ centred.T / x.shape[1]


def match_color_histogram(style: Tensor, content: Tensor) -> Tensor:
    """The style image recoloured so its colour mean and covariance are the content's.

    x' = Σ_c^½ Σ_s^-½ (x − μ_s) + μ_c: the paper's "colour histogram matching" (its
    Cholesky variant differs only by a rotation; the symmetric root keeps hues closest).
    Values may leave [0, 1] slightly; they are clipped.
    """
    mu_s, cov_s = _mean_cov(style)
    mu_c, cov_c = _mean_cov(content)
    a = _sqrtm(cov_c) @ _sqrtm(cov_s, inverse=True)
    x = style.double().flatten(2)[0]
    y = a @ (x - mu_s) + mu_c
    return y.view_as(style).clamp(0, 1).to(style.dtype)
