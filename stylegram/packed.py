"""bf16 3×3 convolutions on the CPU with oneDNN's weights laid out once, not on every call.

torch's own convolution hands oneDNN the kernels in torch's layout, and oneDNN reorders them
into its blocked one on every call, forward and backward. The reorder costs what the kernels
weigh, not what the image does, so it is the small maps that pay: in a bf16 pass to relu5_1 at
128×96 with AMX on 2 cores, the reorders took 12 ms against 14 ms for the convolutions
themselves (oneDNN's verbose log, 2026-12-04). Here each kernel is reordered once per network
(`pack`), and so are the transposed kernels that carry the gradient back
(winograd.transposed): only the input's gradient is taken (the network is frozen), and it is
the forward convolution of the output's gradient with them. A ReLU after the convolution can
run in the same pass (oneDNN's post-op) rather than in one of its own over the map: at 512 px a
ReLU of a 64-channel map took 3.8 ms, as long as the map's convolution takes with AMX. The
values are oneDNN's own, bit for bit, forward and backward (tests/test_packed.py). The default
job in-process, AMX, 2 cores: 4.3-4.6 s with both, 4.9-5.2 s with the kernels packed alone,
5.3-5.6 s with neither (2026-12-04).
"""

from __future__ import annotations

import functools

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable
from torch.nn import functional as F

from .winograd import transposed

# A 3×3 convolution's padding, stride and dilation, per side.
_ONES = [1, 1]


@functools.cache
def available() -> bool:
    """Whether this torch has oneDNN's packed convolutions and they agree with its own."""
    if not torch.backends.mkldnn.is_available():
        return False
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(1, 8, 13, 11, generator=generator).to(
        torch.bfloat16, memory_format=torch.channels_last
    )
    weight = torch.randn(16, 8, 3, 3, generator=generator).to(
        torch.bfloat16, memory_format=torch.channels_last
    )
    try:
        packed = conv3x3(x, pack(weight), None, pack(transposed(weight)))
    except (RuntimeError, AttributeError):  # AttributeError: a torch without these operators
        return False
    return torch.equal(packed, F.conv2d(x, weight, padding=1))


def pack(weight: Tensor) -> Tensor:
    """A bf16 3×3 kernel in oneDNN's own layout, for `conv3x3` at any input size.

    oneDNN picks the layout for an input size, here 64×64; at another size it may want another
    and reorders then, with the same values. At the sizes measured (AMX, 2026-12-04) only the
    largest map lost by it: 64 channels at 384×512 took 10.7-13.1 ms against 8.6 ms with kernels
    packed for that size (12.8-14.6 ms unpacked); 128 to 512 channels at 6×8 to 192×256 took
    the same either way.
    """
    weight = weight.contiguous(memory_format=torch.channels_last)
    shape = [1, weight.shape[1], 64, 64]
    return torch.ops.mkldnn._reorder_convolution_weight(weight, _ONES, _ONES, _ONES, 1, shape)


def _convolve(x: Tensor, packed: Tensor, bias: Tensor | None, relu: bool = False) -> Tensor:
    x = x.contiguous(memory_format=torch.channels_last)
    return torch.ops.mkldnn._convolution_pointwise(
        x, packed, bias, _ONES, _ONES, _ONES, 1, "relu" if relu else "none", [], ""
    )


class _Packed(torch.autograd.Function):
    """A 3×3, stride-1, padding-1 convolution of a frozen kernel, with or without the ReLU
    after it; the gradient is the input's."""

    @staticmethod
    def forward(
        ctx, x: Tensor, packed: Tensor, bias: Tensor | None, back: Tensor, relu: bool
    ) -> Tensor:
        y = _convolve(x, packed, bias, relu)
        ctx.back, ctx.relu = back, relu
        if relu:
            ctx.save_for_backward(y)  # the ReLU's gradient passes where its output is positive
        return y

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None, None, None, None]:
        if ctx.relu:
            grad = torch.ops.aten.threshold_backward(grad, ctx.saved_tensors[0], 0)
        return _convolve(grad, ctx.back, None), None, None, None, None


def conv3x3(
    x: Tensor, packed: Tensor, bias: Tensor | None, back: Tensor, *, relu: bool = False
) -> Tensor:
    """`F.conv2d(x, weight, bias, padding=1)` for bf16 `x` on the CPU, channels-last out, and
    with `relu` the ReLU of it in the same pass over the output; `packed` is `pack(weight)` and
    `back` is `pack(transposed(weight))`, made once per network."""
    return _Packed.apply(x, packed, bias, back, relu)


def suits(x: Tensor) -> bool:
    """Whether `conv3x3` takes the input `x`: bf16 on the CPU."""
    return x.device.type == "cpu" and x.dtype == torch.bfloat16
