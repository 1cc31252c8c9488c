"""Activation maximisation: an image synthesised to excite one unit, as in Lucid/Lucent.

The image is parameterised in a decorrelated space so that gradient ascent does not produce
high-frequency noise (Olah et al., "Feature Visualization", Distill 2017):
- a Fourier spectrum scaled by 1/frequency, so every frequency starts equally easy to change;
- colours through the square root of ImageNet's colour correlation matrix, then a sigmoid;
- each step sees a randomly padded, jittered, scaled and rotated copy, so only patterns that
  survive small transformations are rewarded.

Each unit draws its start and its transforms from its own generator, seeded by (seed, layer,
unit): its image does not depend on the units it is optimised with, so a batch here and one
Dask task per unit (stylegram.batch.maximize) make the same picture to the eye (not to the bit:
a batch's convolutions round differently, and Adam's normalised steps carry that on; after 64
steps at 64 px the mean difference was 0.012, against 0.24 between two seeds).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence

import torch
from torch import Tensor
from torch.nn import functional as F

from ..vgg import VGG, check_layers

BATCH = 9  # units optimised together in one batch here (a cluster runs one per task)

# Lucid's square root of the ImageNet RGB colour covariance (its "color_correlation_svd_sqrt").
COLOR_CORRELATION_SQRT = torch.tensor(
    [[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]]
)


class FourierImage(torch.nn.Module):
    """A batch of images held as decorrelated Fourier coefficients; call it for RGB in [0, 1].

    Args:
        generators: one per image, for its reproducible start.
        size: side of each square image in pixels.
        decay: the spectrum's 1/f**decay scaling (Lucid uses 1).
    """

    scale: Tensor  # buffers, declared for the type checker
    colors: Tensor

    def __init__(
        self, generators: Sequence[torch.Generator], size: int, *, decay: float = 1.0
    ) -> None:
        super().__init__()
        fy = torch.fft.fftfreq(size)[:, None]
        fx = torch.fft.rfftfreq(size)[None, :]
        freqs = (fx * fx + fy * fy).sqrt()  # (size, size // 2 + 1)
        self.register_buffer("scale", 1.0 / freqs.clamp(min=1.0 / size) ** decay)
        self.spectrum = torch.nn.Parameter(
            torch.cat([0.01 * torch.randn(1, 3, *freqs.shape, 2, generator=g) for g in generators])
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


def random_transform(x: Tensor, generators: Sequence[torch.Generator]) -> Tensor:
    """Lucid's standard robustness transforms: pad 12 (grey), jitter 8, scale ±5 %, rotate
    ±10°, jitter 4; image b draws its own from ``generators[b]``."""
    x = F.pad(x, (12, 12, 12, 12), value=0.5)
    x = _jitter(x, 8, generators)
    scale = 1 + torch.cat([torch.randint(0, 11, (1,), generator=g) for g in generators]).sub(5) / 50
    angle = torch.cat([torch.randint(-10, 11, (1,), generator=g) for g in generators])
    angle = angle.float() * math.pi / 180
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    zero = torch.zeros(len(generators))
    theta = torch.stack([torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, padding_mode="border", align_corners=False)
    return _jitter(x, 4, generators)


def _jitter(x: Tensor, d: int, generators: Sequence[torch.Generator]) -> Tensor:
    """Each image cut by `d` pixels in each direction, at its own random offset."""
    h, w = x.shape[-2] - d, x.shape[-1] - d
    crops = []
    for image, g in zip(x, generators, strict=True):
        dy, dx = torch.randint(0, d + 1, (2,), generator=g).tolist()
        crops.append(image[..., dy : dy + h, dx : dx + w])
    return torch.stack(crops)


def unit_generator(seed: int, layer: str, unit: int) -> torch.Generator:
    """The random numbers of one unit's image: the same for the same (seed, layer, unit),
    whatever it is batched with and wherever it runs."""
    return torch.Generator().manual_seed(zlib.crc32(f"{seed}/{layer}/{unit}".encode()))


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
    batch_size: int = BATCH,
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
        seed: with the layer and unit, seeds each unit's start and transforms.
    """
    check_layers([layer], vgg.arch)
    for unit in units:
        vgg.info[layer].check_unit(unit)
    out = []
    for start in range(0, len(units), batch_size):
        chunk = list(units[start : start + batch_size])
        generators = [unit_generator(seed, layer, unit) for unit in chunk]
        param = FourierImage(generators, size)
        optimizer = torch.optim.Adam(param.parameters(), lr=learning_rate)
        for _ in range(steps):
            optimizer.zero_grad()
            loss = -unit_objective(vgg, random_transform(param(), generators), layer, chunk).sum()
            loss.backward()
            optimizer.step()
        out.append(param().detach())
    return torch.cat(out)
