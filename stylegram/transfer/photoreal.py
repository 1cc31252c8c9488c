"""The photorealism regulariser of Luan et al. (2017), `Σ_c V_c(O)ᵀ L V_c(O)`, with L the matting
Laplacian of the photo (Levin, Lischinski & Weiss 2008) over 3×3 windows, never built.

For a window k of the photo I, with colour mean μ_k, colour covariance Σ_k and
Δ_k = Σ_k + (ε/|w|)·1 (|w| = 9 pixels), Levin et al.'s L satisfies, for any channel v,

    vᵀ L v = Σ_k |w| · (var_k(v) − d_kᵀ Δ_k⁻¹ d_k),    d_k = cov_k(I, v),

the part of v's variance in each window that no affine function of the photo's colours explains
(a ridge fit, penalty ε). An output that is locally an affine recolouring of the photo costs
nothing; invented edges and texture cost their variance. Every quantity is a 3×3 box mean of
the photo, of v, or of their products (He, Sun & Tang 2010), so memory and time are O(pixels).
Windows lie wholly inside the image (their centres are not on its border), as in Levin et al.

The term reads one pixel around each window centre, so it is computed a band of rows at a time
with a one-row halo: the bands' windows partition the image's, and their sums are the whole
image's value and gradient exactly (as the smoothness term is, transfer/objective.py).
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor
from torch.nn import functional as F

WINDOW = 9  # |w|: pixels in a 3×3 window
# Levin et al.'s ε, and Luan et al.'s (their matting Laplacian's epsilon).
EPS = 1e-7
# The guided filter's ridge penalty (the start's smoothing and the guided upsampling; it was the
# post-process's): on the paper's pair 1 the residual after it was 0.037–0.040 for ε from 1e-2
# to 1e-5, and the style gap 0.130–0.137; 1e-4 sits between.
SMOOTH_EPS = 1e-4


def _box(x: Tensor) -> Tensor:
    """Means over every 3×3 window wholly inside the image: (..., H, W) -> (..., H-2, W-2)."""
    shape = x.shape
    out = F.avg_pool2d(x.reshape(-1, 1, *shape[-2:]), 3, stride=1)
    return out.reshape(*shape[:-2], *out.shape[-2:])


def _spread(x: Tensor) -> Tensor:
    """The transpose of `_box`'s sum: each pixel gets the sum over the windows that hold it,
    (..., H-2, W-2) -> (..., H, W)."""
    shape = x.shape
    ones = x.new_ones((1, 1, 3, 3))
    out = F.conv_transpose2d(x.reshape(-1, 1, *shape[-2:]), ones)
    return out.reshape(*shape[:-2], *out.shape[-2:])


def _exact(x: Tensor) -> Tensor:
    """`x` in float64, where the windows' sums are taken: in float32, E[I·Iᵀ] − μμᵀ loses what
    ε/|w| = 1e-8 adds to it. On the CPU where the device has no float64 (MPS)."""
    return x.to("cpu" if x.device.type == "mps" else x.device, torch.float64)


def window_stats(photo: Tensor, eps: float = EPS) -> tuple[Tensor, Tensor]:
    """Each window's colour mean μ (3, h, w) and Δ⁻¹ = (Σ + ε/|w|·1)⁻¹ (h, w, 3, 3), in float64,
    for a photo (1, 3, H, W) in [0, 1]; h, w = H − 2, W − 2."""
    im = _exact(photo[0])
    mu = _box(im)
    cov = _box(im[:, None] * im[None]) - mu[:, None] * mu[None]  # (3, 3, h, w)
    delta = cov.permute(2, 3, 0, 1) + (eps / WINDOW) * torch.eye(
        3, dtype=im.dtype, device=im.device
    )
    return mu, torch.linalg.inv(delta)


def _fit(photo: Tensor, image: Tensor, eps: float) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Per window: the photo's colour mean μ (3, h, w), and per channel of `image` its mean p̄
    (c, h, w), its covariance with the photo's colours d (c, 3, h, w), and the ridge fit's
    coefficients a = Δ⁻¹d (c, 3, h, w)."""
    mu, inv = window_stats(photo, eps)
    im, v = _exact(photo[0]), _exact(image[0])
    mean = _box(v)
    d = _box(im[None] * v[:, None]) - mu[None] * mean[:, None]
    a = torch.einsum("hwij,cjhw->cihw", inv, d)
    return mu, mean, d, a


def window_energy(image: Tensor, photo: Tensor, eps: float = EPS) -> Tensor:
    """Σ_c |w|·(var_k(v_c) − d_kᵀΔ_k⁻¹d_k) per window k (h, w), float64: the windows' shares of
    Σ_c V_cᵀ L V_c for an image (1, C, H, W) and the photo (1, 3, H, W) of L."""
    _, mean, d, a = _fit(photo, image, eps)
    var = _box(_exact(image[0]).pow(2)) - mean.pow(2)
    return WINDOW * (var - (d * a).sum(1)).sum(0)


def band_rows(width: int) -> int:
    """Rows per band of the banded computations below: about 2^18 pixels a band at any width."""
    return max(8, 2**18 // width)


def window_bands(height: int, rows: int) -> Iterator[slice]:
    """The image rows each band of `rows` window rows reads: window centres run over rows
    1 … height−2, and a band of centres [c0, c1) reads rows c0−1 … c1 (a one-row halo). The
    bands' windows partition the image's, so their sums are the whole image's."""
    for c0 in range(1, height - 1, rows):
        yield slice(c0 - 1, min(height - 1, c0 + rows) + 1)


def _window_sums(photo: Tensor, v: Tensor, eps: float) -> tuple[Tensor, Tensor, Tensor]:
    """Per pixel i, the sums over the windows k that hold it of each window's ridge fit of v on
    the photo's colours, a_k (c, 3, H, W) and b_k = p̄_k − a_kᵀ μ_k (c, H, W), and the number of
    those windows (1, H, W); float64."""
    mu, mean, _, a = _fit(photo, v, eps)
    b = mean - (a * mu[None]).sum(1)
    return _spread(a), _spread(b), _spread(torch.ones_like(mean[:1]))


def _window_fits(photo: Tensor, v: Tensor, eps: float) -> tuple[Tensor, Tensor]:
    """Per pixel i, Σ_{k ∋ i} (a_kᵀ I_i + b_k), the windows' fits evaluated at i, and the number
    of those windows: (c, H, W) and (1, H, W), float64."""
    a, b, count = _window_sums(photo, v, eps)
    return (a * _exact(photo[0])[None]).sum(1) + b, count


def laplacian_product(photo: Tensor, v: Tensor, eps: float = EPS) -> Tensor:
    """L·v for each channel of v (1, C, H, W), matrix-free (He, Sun & Tang 2010), float64:

        (L v)_i = Σ_{k ∋ i} (v_i − a_kᵀ I_i − b_k),    b_k = p̄_k − a_kᵀ μ_k,

    with a_k, p̄_k as in `_fit`. The gradient of `window_energy(v).sum()` is 2·L·v."""
    fitted, count = _window_fits(photo, v, eps)
    return (count * _exact(v[0]) - fitted)[None]


# The weight of the held part's constraint against the Laplacian's term. Departure: Levin et al.
# weigh their scribbles by λ = 100. Here that stiffness made the first step of each warm-started
# scale (−γ·∇J, γ learnt on the softer terms) overshoot, and two steps went to recovering; 10
# holds the region as well for the eye (a mean change of 7e-5 of the pixel range on the
# README's portraits at 256 px, 1e-5 at 100, 1e-3 at 1, 0.026 without) and loses about one.
HOLD = 10.0


@torch.no_grad()
def photo_term(
    image: Tensor,
    photo: Tensor,
    weight: float,
    eps: float = EPS,
    rows: int | None = None,
    held: Tensor | None = None,
) -> Tensor:
    """weight · (Σ_c V_cᵀ L V_c + HOLD · Σ_c (V_c − I_c)ᵀ D (V_c − I_c)) / (H·W), its gradient
    added to image.grad, the Laplacian's part computed a band of `rows` window rows at a time
    (default `band_rows`; see the module's docstring): the value, detached, float32.

    `held` (1, 1, H, W) in [0, 1], D's diagonal, is the part of the photo that no region paints:
    there the output is held to the photo as Levin et al. hold their scribbles to the known
    values (their λ·(α − b)ᵀD(α − b); λ = HOLD). The Laplacian then carries the look into a
    held region only through what is a local recolouring of the photo near its edge. Without
    it, the style Grams of the neighbouring regions, whose receptive fields reach over the edge,
    recolour a region that was to keep the photo (a face turned green beside a backdrop turned
    blue). Also taken a band of rows at a time, so that its temporaries are a band's.
    """
    h, w = image.shape[-2:]
    rows = rows or band_rows(w)
    if image.grad is None:
        image.grad = torch.zeros_like(image)
    total = 0.0
    scale = weight / (h * w)
    if held is not None:
        total += _hold(image, photo, held, scale * HOLD, rows)
    for rows_read in window_bands(h, rows):
        with torch.enable_grad():
            band = image[..., rows_read, :].detach().requires_grad_(True)
            value = scale * window_energy(band, photo[..., rows_read, :], eps).sum()
            value.backward()
        assert band.grad is not None
        image.grad[..., rows_read, :] += band.grad.to(image.grad.dtype)
        total += float(value)
    return torch.tensor(total, dtype=torch.float32, device=image.device)


def _hold(image: Tensor, photo: Tensor, held: Tensor, weight: float, rows: int) -> float:
    """weight · Σ_c (V_c − I_c)ᵀ D (V_c − I_c), its gradient added to image.grad, `rows` rows at a
    time (the pixels' terms are their own: the bands need no halo)."""
    assert image.grad is not None  # made by photo_term
    total = 0.0
    for r0 in range(0, image.shape[-2], rows):
        band = slice(r0, r0 + rows)
        off = image[..., band, :] - photo[..., band, :].to(image.dtype)
        d = held[..., band, :]
        total += float(weight * (d * off.pow(2)).sum())
        image.grad[..., band, :] += (2 * weight * d * off).to(image.grad.dtype)
    return total


def local_affine_residual(output: Tensor, photo: Tensor, eps: float = 1e-6) -> float:
    """The share of the output's local variance that no affine recolouring of the photo explains:
    Σ_k,c max(0, var − dᵀΔ⁻¹d) / Σ_k,c var over the 3×3 windows (0: the photo, recoloured; issue 26's
    yardstick of photorealism). Images (1, 3, H, W) in [0, 1] of one size."""
    with torch.no_grad():
        _, mean, d, a = _fit(photo, output, eps)
        var = _box(_exact(output[0]).pow(2)) - mean.pow(2)
        unexplained = (var - (d * a).sum(1)).clamp_min(0)  # ≥ 0 but for rounding
        return float(unexplained.sum() / var.sum().clamp_min(1e-12))


def local_affine_map(
    output: Tensor, photo: Tensor, eps: float = SMOOTH_EPS, rows: int | None = None
) -> tuple[Tensor, Tensor]:
    """The output as a local affine recolouring of the photo: at each pixel the mean over the
    3×3 windows that hold it of each window's ridge fit (a_k, b_k) of the output on the photo's
    colours, A (C, 3, H, W) and B (C, H, W), float32 on the CPU. A·I + B is the guided filter
    (He, Sun & Tang 2013) of the output with the photo as guide.

    Computed `rows` rows at a time (default: about 2^18 pixels a band): a pixel's windows read
    two rows around it, so each band reads two more on either side and gives exactly the whole
    image's rows (float64 temporaries of the band only). Images (1, C, H, W) and (1, 3, H, W).
    """
    h, w = output.shape[-2:]
    rows = rows or band_rows(w)
    a_bands, b_bands = [], []
    with torch.no_grad():
        for r0 in range(0, h, rows):
            r1 = min(h, r0 + rows)
            a0, a1 = max(0, r0 - 2), min(h, r1 + 2)
            a, b, count = _window_sums(photo[..., a0:a1, :], output[..., a0:a1, :], eps)
            keep = slice(r0 - a0, r1 - a0)
            a_bands.append((a / count[:, None])[..., keep, :].float().cpu())
            b_bands.append((b / count)[..., keep, :].float().cpu())
    return torch.cat(a_bands, dim=-2), torch.cat(b_bands, dim=-2)


def _apply(a: Tensor, b: Tensor, photo: Tensor) -> Tensor:
    """A·I + B at every pixel, in float64, a channel at a time: (C, H, W)."""
    im = _exact(photo[0])
    return torch.stack([(a[c].to(im) * im).sum(0) + b[c].to(im) for c in range(a.shape[0])])


def affine_smooth(
    output: Tensor, photo: Tensor, eps: float = SMOOTH_EPS, rows: int | None = None
) -> Tensor:
    """The output made locally an affine recolouring of the photo (`local_affine_map` applied to
    the photo): the fast form of Luan et al.'s closed-form smoothing (`closed_form_smooth`),
    where photo to photo starts. Images (1, 3, H, W) in [0, 1]; the result is clamped to
    [0, 1], in the output's dtype."""
    a, b = local_affine_map(output, photo, eps, rows)
    return _apply(a, b, photo)[None].clamp(0, 1).to(output.device, output.dtype)


# The closed-form post-process's λ, the Laplacian's weight against staying at the result. On the
# paper's pairs 2 and 3 (with segmentations; docs/benchmarks.md) the residual after the guided
# filter was 0.017 and 0.0030; solved here at λ = 1, 0.012 and 0.0024 (10–11 products of L at
# SMOOTH_TOL, 1.1–1.3 s at 512 px on 2 cores), at 10, 0.008 and 0.0020 (4–6 times the time):
# 1 takes most of it. A larger λ also smooths away texture the style asked for (pair 4's style
# gap 0.042 after the guided filter, 0.046 at λ = 1, 0.049 at 2).
SMOOTH_WEIGHT = 1.0
# CG stops when the residual of (1 + λL)V = O is this share of O's norm.
SMOOTH_TOL = 1e-4


def laplacian_product_bands(
    photo: Tensor, v: Tensor, eps: float = EPS, rows: int | None = None
) -> Tensor:
    """`laplacian_product` a band of window rows at a time (default `band_rows`), each band's
    windows spread back over its rows and their one-row halo: the whole image's L·v exactly, with
    a band's float64 temporaries. (1, C, H, W) in v's dtype."""
    h, w = v.shape[-2:]
    out = torch.zeros_like(v)
    for band in window_bands(h, rows or band_rows(w)):
        out[..., band, :] += laplacian_product(photo[..., band, :], v[..., band, :], eps).to(v)
    return out


def closed_form_smooth(
    output: Tensor,
    photo: Tensor,
    weight: float = SMOOTH_WEIGHT,
    tol: float = SMOOTH_TOL,
    rows: int | None = None,
) -> Tensor:
    """Luan et al.'s post-process in closed form: the V nearest the output O that is locally an
    affine recolouring of the photo, argmin ‖V − O‖² + λ Σ_c V_cᵀ L V_c, i.e. (1 + λL)V = O,
    solved for each channel by conjugate gradients with L·V matrix-free in bands of rows
    (`laplacian_product_bands`). L's eigenvalues lie in [0, |w|], so 1 + λL's condition number
    is at most 1 + 9λ and the steps needed do not grow with the image. An output that is already
    a local recolouring (L·O = 0) is its own solution. Images (1, 3, H, W); the output is clamped
    to [0, 1] first and the result after, in the output's dtype and device."""
    with torch.no_grad():
        # The picture as it would be saved: smoothing the optimiser's values outside [0, 1] and
        # clamping after would bring back the clipped edges the smoothing is there to remove
        # (pair 3's residual 0.0047 so, 0.0024 clamped first).
        o = output.detach().float().cpu().clamp(0, 1)
        guide = photo.detach().cpu()

        def apply(v: Tensor) -> Tensor:
            return v + weight * laplacian_product_bands(guide, v, rows=rows)

        v = o.clone()
        r = o - apply(v)
        p = r.clone()
        rr = (r * r).sum((0, 2, 3), keepdim=True)  # per channel: the channels are independent
        stop = (tol**2) * (o * o).sum((0, 2, 3), keepdim=True)
        for _ in range(200):  # a bound; at λ = 1 it stops after 10–11 products
            if bool((rr <= stop).all()):
                break
            q = apply(p)
            alpha = rr / (p * q).sum((0, 2, 3), keepdim=True).clamp_min(1e-30)
            v += alpha * p
            r -= alpha * q
            new = (r * r).sum((0, 2, 3), keepdim=True)
            p = r + (new / rr.clamp_min(1e-30)) * p
            rr = new
        return v.clamp(0, 1).to(output.device, output.dtype)


def guided_upsample(image: Tensor, photo: Tensor, eps: float = SMOOTH_EPS) -> Tensor:
    """A coarser result (1, 3, h, w) brought to the photo's size (1, 3, H, W) as the same local
    recolouring of the photo: its `local_affine_map` against the photo at its size, upsampled
    bilinearly and applied to the full-size photo (He & Sun 2015, the fast guided filter).

    Where photo to photo goes from one scale to the next: the photo's finer detail comes in at
    the contrast and colour the coarse result gave its neighbourhood (a dimmed façade's windows
    dimmed too), so the new scale starts photorealistic instead of with the photo's detail as
    it was. Clamped to [0, 1], in the image's dtype and device.
    """
    h, w = photo.shape[-2:]
    small = F.interpolate(
        photo, size=image.shape[-2:], mode="bilinear", antialias=True, align_corners=False
    )
    a, b = local_affine_map(image, small, eps)

    im = photo[0].float()

    def up(t: Tensor) -> Tensor:  # (n, h, w) -> (n, H, W), on the photo's device
        t = t.to(im.device)[None]
        return F.interpolate(t, size=(h, w), mode="bilinear", align_corners=False)[0]

    # A channel at a time, in float32 (a start, not a term of J): a full-size map of 3
    # coefficients at the peak, not 12.
    out = torch.stack([(up(a[c]) * im).sum(0) + up(b[c : c + 1])[0] for c in range(a.shape[0])])
    return out[None].clamp(0, 1).to(image.device, image.dtype)
