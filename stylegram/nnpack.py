"""NNPACK's convolutions of fp32 images (F(6×6, 3×3), a 16×16 FFT), kernels transformed once.

torch carries NNPACK (x86-64 with AVX2 and FMA, ARM with NEON) and runs it for one image as
`torch._nnpack_spatial_convolution`, which asks NNPACK to transform every kernel into its 8×8
Winograd tile on every call (`nnp_convolution_transform_strategy_compute`): Cout·Cin·64 numbers
written and read back, 67 MB for 512×512 kernels, which on small maps takes about as long as
the products. 512→512 channels at 64×48, forward: 33 ms a call, 9.5 of them the kernels'
transform (NNPACK's own profile); at 32×24, 18 ms, 9.4 of them. NNPACK can transform the kernels
once (`precompute`) and take them transformed (`reuse`): 23 and 8.6 ms (2 cores capped to AVX2,
2026-12-05). torch does not offer that, so `Transformed` calls the function torch calls,
`nnp_convolution_inference` in torch's own library, through ctypes, with torch's arguments but
the strategy, on a thread pool of its own; the outputs equal torch's call bit for bit
(tests/test_nnpack.py). NNPACK's interface has not changed since 2019; `available` checks the
binding against torch's direct convolution once. Where this torch does not export NNPACK's
functions, `Transformed` calls torch's own NNPACK convolution instead (its F(6×6, 3×3), the
kernels transformed on every call), as stylegram did before.

Memory: the transformed kernels are 64/9 of the weights (a 512×512 layer's, 67 MB) for
F(6×6, 3×3), 256/9 for the FFT, once per direction for the layers whose gradient is carried
back (`winograd.Kernels`).
"""

from __future__ import annotations

import ctypes
import functools
import os
import threading
from pathlib import Path

import torch
from torch import Tensor
from torch.nn import functional as F

# nnpack.h's constants: the algorithms (a 16×16 FFT; F(6×6, 3×3) on 8×8 tiles), the kernel
# transform's strategy.
_FT16X16, _WT8X8 = 2, 3
_PRECOMPUTE, _REUSE = 2, 3
_SUCCESS = 0
_IDENTITY = 0


class _Size(ctypes.Structure):
    _fields_ = [("width", ctypes.c_size_t), ("height", ctypes.c_size_t)]


class _Padding(ctypes.Structure):
    _fields_ = [(side, ctypes.c_size_t) for side in ("top", "right", "bottom", "left")]


_ONE, _THREE, _PADDING = _Size(1, 1), _Size(3, 3), _Padding(1, 1, 1, 1)


@functools.cache
def _library() -> ctypes.CDLL | None:
    """torch's own library with NNPACK's functions declared and NNPACK initialised; None where
    this torch has no NNPACK or does not export it."""
    folder = Path(torch.__file__).parent / "lib"
    for path in sorted(folder.glob("libtorch_cpu.*")):
        try:
            lib = ctypes.CDLL(str(path))
            convolve, initialize = lib.nnp_convolution_inference, lib.nnp_initialize
            create = lib.pthreadpool_create
        except (OSError, AttributeError):
            continue
        convolve.restype = initialize.restype = ctypes.c_int
        convolve.argtypes = [
            ctypes.c_int, ctypes.c_int, ctypes.c_size_t, ctypes.c_size_t,
            _Size, _Padding, _Size, _Size,
            ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
            ctypes.c_void_p, ctypes.POINTER(ctypes.c_size_t),
            ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
        ]  # fmt: skip
        create.restype, create.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
        if initialize() == _SUCCESS:
            return lib
    return None


@functools.cache
def _pool(threads: int) -> int | None:
    """A thread pool of `threads` for NNPACK's calls, made once per count and kept, as torch
    keeps its own (torch.get_num_threads() when first used)."""
    lib = _library()
    return None if lib is None else lib.pthreadpool_create(threads)


# A forked child has none of its parent's pool threads: it makes its own pools.
os.register_at_fork(after_in_child=_pool.cache_clear)

# NNPACK's scratch memory for the input's and output's transforms, per calling thread (calls
# from two threads at once each need their own), grown as needed and kept, as torch keeps its.
_scratch = threading.local()


def _call(
    algorithm: int, strategy: int, x: Tensor, kernels: Tensor, bias: Tensor, out: Tensor, work
) -> int:
    """nnp_convolution_inference for one image `x` (C, H, W) into `out` (K, H, W), padding 1.
    `work`: None to ask for the scratch size (returned), else a tensor of scratch."""
    lib = _library()
    assert lib is not None
    channels, height, width = x.shape
    size = ctypes.c_size_t(0 if work is None else work.numel() * work.element_size())
    status = lib.nnp_convolution_inference(
        algorithm, strategy, channels, out.shape[0], _Size(width, height), _PADDING, _THREE, _ONE,
        x.data_ptr(), kernels.data_ptr(), bias.data_ptr(), out.data_ptr(),
        None if work is None else work.data_ptr(), ctypes.byref(size),
        _IDENTITY, None, _pool(torch.get_num_threads()), None,
    )  # fmt: skip
    if status != _SUCCESS:
        raise RuntimeError(f"NNPACK's convolution failed (status {status})")
    return size.value


class Transformed:
    """A 3×3 convolution (padding 1) whose kernels (K, C, 3, 3) NNPACK has transformed once, for
    its F(6×6, 3×3) or, with `fft`, its 16×16 FFT (14×14 outputs a tile: fewer transforms per
    pixel, which is what few channels spend their time on; 4 times the memory per kernel)."""

    def __init__(self, weight: Tensor, bias: Tensor | None, *, fft: bool = False) -> None:
        self.algorithm: int | None = _FT16X16 if fft else _WT8X8
        self.out_channels, self.in_channels = weight.shape[:2]
        self.bias = weight.new_zeros(self.out_channels) if bias is None else bias.contiguous()
        weight = weight.contiguous()
        if _library() is None:  # torch's own call, which transforms the kernels every time
            self.algorithm, self.kernels = None, weight
            return
        # The transform's size and then the transform itself; NNPACK reads only the channel
        # counts of the image and output it is given here, not their pixels.
        probe = weight.new_empty(self.in_channels, 16, 16)
        out = weight.new_empty(self.out_channels, 16, 16)
        size = self._call(_PRECOMPUTE, probe, weight, out, None)
        self.kernels = weight.new_empty(-(-size // weight.element_size()))
        self._call(_PRECOMPUTE, probe, weight, out, self.kernels)

    def __call__(self, x: Tensor) -> Tensor:
        """The convolution of fp32 images `x` (B, C, H, W) on the CPU, one at a time."""
        x = x.contiguous()
        if self.algorithm is None:
            return torch._nnpack_spatial_convolution(x, self.kernels, self.bias, [1, 1])
        out = x.new_empty(x.shape[0], self.out_channels, *x.shape[2:])
        for image, result in zip(x, out, strict=True):
            need = self._call(_REUSE, image, self.kernels, result, None)
            work = getattr(_scratch, "work", None)
            if work is None or work.numel() * work.element_size() < need:
                work = _scratch.work = torch.empty(-(-need // 4))
            self._call(_REUSE, image, self.kernels, result, work)
        return out

    def _call(self, strategy: int, x: Tensor, kernels: Tensor, out: Tensor, work) -> int:
        assert self.algorithm is not None
        return _call(self.algorithm, strategy, x, kernels, self.bias, out, work)


@functools.cache
def available() -> bool:
    """Whether NNPACK's convolution runs here, through this binding or torch's own call, and
    agrees with torch's direct convolution on a small input."""
    if _library() is None and not (
        hasattr(torch, "_nnpack_spatial_convolution") and torch._nnpack_available()
    ):
        return False
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(2, 8, 13, 11, generator=generator)
    weight = torch.randn(16, 8, 3, 3, generator=generator)
    bias = torch.randn(16, generator=generator)
    direct = F.conv2d(x, weight, bias, padding=1)
    try:
        ways = [Transformed(weight, bias, fft=fft)(x) for fft in (False, True)]
    except RuntimeError:
        return False
    return all(torch.allclose(way, direct, rtol=1e-4, atol=1e-4) for way in ways)
