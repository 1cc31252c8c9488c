"""Activation maximisation: an image synthesised to excite one unit, as in Lucid/Lucent.

The image is parameterised in a decorrelated space so that gradient ascent does not produce
high-frequency noise (Olah et al., "Feature Visualization", Distill 2017):
- a Fourier spectrum scaled by 1/frequency, so every frequency starts equally easy to change;
- colours through the square root of ImageNet's colour correlation matrix, then a sigmoid;
- each step sees a randomly padded, jittered, scaled and rotated copy, so only patterns that
  survive small transformations are rewarded.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor
from torch.nn import functional as F

from ..vgg import VGG, check_layers

# Lucid's square root of the ImageNet RGB colour covariance (its "color_correlation_svd_sqrt").
COLOR_CORRELATION_SQRT = torch.tensor(
    [[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]]
)


class FourierImage(torch.nn.Module):
    """A batch of images held as decorrelated Fourier coefficients; call it for RGB in [0, 1].

    Args:
        batch: number of images.
        size: side of each square image in pixels.
        decay: the spectrum's 1/f**decay scaling (Lucid uses 1).
        generator: for a reproducible start.
    """

    scale: Tensor  # buffers, declared for the type checker
    colors: Tensor

    def __init__(
        self, batch: int, size: int, *, decay: float = 1.0, generator: torch.Generator | None = None
    ) -> None:
        super().__init__()
        fy = torch.fft.fftfreq(size)[:, None]
        fx = torch.fft.rfftfreq(size)[None, :]
        freqs = (fx * fx + fy * fy).sqrt()  # (size, size // 2 + 1)
        self.register_buffer("scale", 1.0 / freqs.clamp(min=1.0 / size) ** decay)
        self.spectrum = torch.nn.Parameter(
            0.01 * torch.randn(batch, 3, *freqs.shape, 2, generator=generator)
        )
        self.size = size
        corr = COLOR_CORRELATION_SQRT / COLOR_CORRELATION_SQRT.norm(dim=0).max()
        self.register_buffer("colors", corr)

    def forward(self) -> Tensor:
        spectrum = torch.view_as_complex(self.spectrum) * self.scale
        x = (
            torch.fft.irfft2(spectrum, s=(self.size, self.size), norm="ortho") / 4.0
        )  # Lucid's constant
        x = torch.einsum("ij,bjhw->bihw", self.colors, x)  # decorrelated -> RGB
        return torch.sigmoid(x)  # (B, 3, size, size)


def random_transform(x: Tensor, generator: torch.Generator) -> Tensor:
    """Lucid's standard robustness transforms: pad 12 (grey), jitter 8, scale ±5 %, rotate
    ±10°, jitter 4; one draw per image."""
    b = x.shape[0]
    x = F.pad(x, (12, 12, 12, 12), value=0.5)
    x = _jitter(x, 8, generator)
    scale = 1 + (torch.randint(0, 11, (b,), generator=generator) - 5) / 50
    angle = torch.randint(-10, 11, (b,), generator=generator).float() * math.pi / 180
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [torch.stack([cos, -sin, torch.zeros(b)], 1), torch.stack([sin, cos, torch.zeros(b)], 1)], 1
    )
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, padding_mode="border", align_corners=False)
    return _jitter(x, 4, generator)


def _jitter(x: Tensor, d: int, generator: torch.Generator) -> Tensor:
    dy, dx = torch.randint(0, d + 1, (2,), generator=generator).tolist()
    return x[..., dy : x.shape[-2] - d + dy, dx : x.shape[-1] - d + dx]


def unit_objective(vgg: VGG, images: Tensor, layer: str, units: Sequence[int]) -> Tensor:
    """Per image b, the mean activation of channel ``units[b]`` of `layer`, shape (B,)."""
    features = vgg(images, [layer])[layer].float()  # (B, C, h, w)
    index = torch.as_tensor(list(units), device=features.device)
    return features[torch.arange(len(units)), index].mean(dim=(1, 2))


def maximize_units(
    vgg: VGG,
    layer: str,
    units: Sequence[int],
    *,
    size: int = 128,
    steps: int = 128,
    learning_rate: float = 0.05,
    batch_size: int = 9,
    seed: int = 0,
) -> Tensor:
    """Images (len(units), 3, size, size) in [0, 1], each maximising one unit's mean activation.

    Args:
        vgg: the extractor (a bf16 `fast_copy` works and is faster).
        layer: the layer name, e.g. ``"relu4_4"``.
        units: channel indices in `layer`.
        size: image side in pixels.
        steps: Adam steps.
        learning_rate: Adam's step size on the Fourier coefficients (Lucid's 0.05).
        batch_size: units optimised together in one batch.
        seed: for reproducible noise, jitter and start.
    """
    check_layers([layer], vgg.arch)
    for unit in units:
        vgg.info[layer].check_unit(unit)
    generator = torch.Generator().manual_seed(seed)
    out = []
    for start in range(0, len(units), batch_size):
        chunk = list(units[start : start + batch_size])
        param = FourierImage(len(chunk), size, generator=generator)
        optimizer = torch.optim.Adam(param.parameters(), lr=learning_rate)
        for _ in range(steps):
            optimizer.zero_grad()
            loss = -unit_objective(vgg, random_transform(param(), generator), layer, chunk).sum()
            loss.backward()
            optimizer.step()
        out.append(param().detach())
    return torch.cat(out)
