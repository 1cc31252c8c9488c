"""NNPACK's convolution with the kernels transformed once (stylegram.nnpack): torch's own NNPACK
call to the bit, the direct convolution to rounding, and calls from two threads at once."""

from __future__ import annotations

import threading

import pytest
import torch
from torch.nn import functional as F

from stylegram import nnpack

pytestmark = pytest.mark.skipif(not nnpack.available(), reason="NNPACK does not run here")


CASES = [
    (1, 64, 64, 48, 64, True),
    (1, 512, 512, 12, 16, True),
    (2, 16, 24, 13, 11, False),
    (1, 256, 8, 7, 30, True),
]


def case(batch, c_in, c_out, h, w, bias):
    generator = torch.Generator().manual_seed(c_in + h)
    x = torch.randn(batch, c_in, h, w, generator=generator)
    weight = torch.randn(c_out, c_in, 3, 3, generator=generator) / (3 * c_in**0.5)
    return x, weight, torch.randn(c_out, generator=generator) if bias else None


@pytest.mark.parametrize(("batch", "c_in", "c_out", "h", "w", "bias"), CASES)
def test_the_transformed_kernels_give_torchs_nnpack_to_the_bit(batch, c_in, c_out, h, w, bias):
    x, weight, b = case(batch, c_in, c_out, h, w, bias)
    ours = nnpack.Transformed(weight, b)(x)
    # torch's for one image at a time: for a batch it runs NNPACK's training convolution.
    torchs = [torch._nnpack_spatial_convolution(image[None], weight, b, [1, 1]) for image in x]
    assert torch.equal(ours, torch.cat(torchs))
    direct = F.conv2d(x, weight, b, padding=1)
    assert (ours - direct).norm() / direct.norm() < 1e-5


@pytest.mark.parametrize(("batch", "c_in", "c_out", "h", "w", "bias"), CASES)
def test_the_fft_gives_the_direct_convolution_to_rounding(batch, c_in, c_out, h, w, bias):
    x, weight, b = case(batch, c_in, c_out, h, w, bias)
    fft = nnpack.Transformed(weight, b, fft=True)
    direct = F.conv2d(x, weight, b, padding=1)
    assert fft.algorithm != nnpack.Transformed(weight, b).algorithm
    assert (fft(x) - direct).norm() / direct.norm() < 2e-6


def test_calls_from_two_threads_at_once_each_get_their_own_result():
    """Each thread has its own scratch for NNPACK's transforms (different sizes here)."""
    generator = torch.Generator().manual_seed(0)
    weight = torch.randn(32, 32, 3, 3, generator=generator) / 17
    conv = nnpack.Transformed(weight, None)
    inputs = [torch.randn(1, 32, 40 + 9 * i, 52, generator=generator) for i in range(2)]
    expected = [conv(x) for x in inputs]
    wrong = []

    def run(i: int) -> None:
        for _ in range(100):
            if not torch.equal(conv(inputs[i]), expected[i]):
                wrong.append(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not wrong and not any(thread.is_alive() for thread in threads)


def test_without_the_binding_torchs_own_nnpack_runs(monkeypatch):
    """A torch that does not export NNPACK's functions: torch's own call, as before."""
    monkeypatch.setattr(nnpack, "_library", lambda: None)
    x, weight, b = case(1, 64, 64, 48, 64, True)
    conv = nnpack.Transformed(weight, b, fft=True)
    assert conv.algorithm is None
    assert torch.equal(conv(x), torch._nnpack_spatial_convolution(x, weight, b, [1, 1]))
