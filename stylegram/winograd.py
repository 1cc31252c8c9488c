"""Winograd 3×3 convolutions for fp32 on CPUs, from NNPACK, which every x86-64 and ARM build of
torch carries: about half the arithmetic of oneDNN's direct convolution, so the fp32 CPU class
(most laptops: no bf16 instructions) runs VGG's forward and backward passes 1.5-2× faster.

Departure for speed: Gatys et al. convolve directly. Winograd's F(6×6, 3×3) transform rounds
differently; in fp32 a VGG19 forward and backward pass differs from the direct one by about 4e-7
in the loss and 1e-3 (relative, in norm) in the image's gradient, far below what an optimiser
of pixels resolves. Only the input's gradient is taken (the network is frozen): it is the
convolution of the output's gradient with the kernels flipped and their channels swapped,
itself a Winograd convolution.

NNPACK runs on its own thread pool, beside torch's OpenMP threads. OpenMP's threads spin for a
while after each ReLU and pooling, taking the cores NNPACK's threads want: with them spinning a
128-px step took 0.33 s against 0.19 s direct (2 cores). So Winograd is used only where they
sleep instead (OMP_WAIT_POLICY=PASSIVE when torch loaded): the command line sets it where the
network will run in fp32 (stylegram/cpu.py); a program using the library sets it in its
environment.
"""

from __future__ import annotations

import functools
import os

import torch
from torch import Tensor
from torch.nn import functional as F

# Smaller maps convolve directly: NNPACK pads them to its 8×8 tiles and loses (a 16×12 map of
# 512 channels took longer by Winograd; a 32×24 one less; measured in whole steps of VGG19).
MIN_PIXELS = 32 * 24


@functools.cache
def available() -> bool:
    """Whether NNPACK runs here (x86-64 with AVX2 and FMA, or ARM with NEON) and agrees with
    the direct convolution on a small input. Initialises NNPACK: its convolution fails until
    `torch._nnpack_available()` has been called once."""
    if not hasattr(torch, "_nnpack_spatial_convolution") or not torch._nnpack_available():
        return False
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(1, 8, 13, 11, generator=generator)
    weight = torch.randn(16, 8, 3, 3, generator=generator)
    bias = torch.randn(16, generator=generator)
    try:
        fast = torch._nnpack_spatial_convolution(x, weight, bias, [1, 1])
    except RuntimeError:
        return False
    return torch.allclose(fast, F.conv2d(x, weight, bias, padding=1), rtol=1e-4, atol=1e-4)


def pays() -> bool:
    """Whether to convolve by Winograd here: NNPACK runs, and OpenMP's threads sleep between
    operations (the environment says OMP_WAIT_POLICY=PASSIVE, read by OpenMP when torch loaded)."""
    return os.environ.get("OMP_WAIT_POLICY", "").upper() == "PASSIVE" and available()


def suits(x: Tensor) -> bool:
    """Whether `conv3x3` takes the input `x`: fp32 on the CPU, a map of at least MIN_PIXELS."""
    return (
        x.device.type == "cpu"
        and x.dtype == torch.float32
        and x.shape[-2] * x.shape[-1] >= MIN_PIXELS
    )


def transposed(weight: Tensor) -> Tensor:
    """The kernels of a 3×3 convolution's transpose: flipped, input and output channels swapped.
    Convolving with them (padding 1) carries a gradient from the output back to the input."""
    return weight.flip(2, 3).transpose(0, 1).contiguous()


class _Conv3x3(torch.autograd.Function):
    """A 3×3, stride-1, padding-1 convolution of a frozen kernel; the gradient is the input's."""

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Tensor | None, back: Tensor) -> Tensor:
        ctx.back = back
        return torch._nnpack_spatial_convolution(x.contiguous(), weight, bias, [1, 1])

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None, None, None]:
        return (
            torch._nnpack_spatial_convolution(grad.contiguous(), ctx.back, None, [1, 1]),
            None,
            None,
            None,
        )


def conv3x3(x: Tensor, weight: Tensor, bias: Tensor | None, back: Tensor) -> Tensor:
    """`F.conv2d(x, weight, bias, padding=1)` by Winograd, for fp32 NCHW `x` on the CPU.
    `back` is `transposed(weight)`, made once per network rather than per call."""
    return _Conv3x3.apply(x, weight, bias, back)
