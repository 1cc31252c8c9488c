"""oneDNN's convolutions with kernels packed once (stylegram/packed.py) against torch's own:
bit for bit, forward and backward, alone and through the whole bf16 network."""

from __future__ import annotations

import copy
import pickle

import pytest
import torch
from torch.nn import functional as F

from stylegram import packed
from stylegram.vgg import CONTENT_LAYERS, STYLE_LAYERS

pytestmark = pytest.mark.skipif(
    not packed.available(), reason="this torch has no oneDNN packed convolutions"
)


def bf16(t: torch.Tensor) -> torch.Tensor:
    return t.to(torch.bfloat16, memory_format=torch.channels_last)


@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize(
    ("n", "c_in", "c_out", "h", "w"), [(1, 3, 64, 37, 50), (2, 64, 128, 13, 11)]
)
def test_a_convolution_and_its_input_gradient_are_torchs_own(n, c_in, c_out, h, w, relu):
    """With `relu`, the ReLU in the convolution's pass: F.relu of torch's convolution."""
    generator = torch.Generator().manual_seed(0)
    weight = bf16(torch.randn(c_out, c_in, 3, 3, generator=generator) / (9 * c_in) ** 0.5)
    bias = torch.randn(c_out, generator=generator).to(torch.bfloat16)
    x = bf16(torch.randn(n, c_in, h, w, generator=generator))
    upstream = bf16(torch.randn(n, c_out, h, w, generator=generator))
    ours_in, ref_in = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    ours = packed.conv3x3(
        ours_in, packed.pack(weight), bias, packed.pack(packed.transposed(weight)), relu=relu
    )
    ref = F.conv2d(ref_in, weight, bias, padding=1)
    ref = F.relu(ref) if relu else ref
    ours.backward(upstream)
    ref.backward(upstream)
    assert torch.equal(ours, ref)
    assert torch.equal(ours_in.grad, ref_in.grad)


def test_the_bf16_network_packs_its_kernels_and_computes_what_it_did(vgg):
    """The fast copy's layers and the image's gradient are those of the same copy through
    torch's own convolution; a copy of it (deep, or pickled) packs its own and agrees too."""
    fast = vgg.fast_copy()
    assert sorted(fast._packed) == sorted(fast.convs)
    unpacked = vgg.fast_copy()
    unpacked._packed = {}
    image = torch.rand(1, 3, 48, 64, generator=torch.Generator().manual_seed(1))

    def features_and_gradient(network):
        x = image.clone().requires_grad_(True)
        out = network(x, STYLE_LAYERS + CONTENT_LAYERS)
        sum(f.float().square().mean() for f in out.values()).backward()
        return out, x.grad

    ref_out, ref_grad = features_and_gradient(unpacked)
    for network in (fast, copy.deepcopy(fast), pickle.loads(pickle.dumps(fast))):
        out, grad = features_and_gradient(network)
        assert len(network._packed) == len(fast.convs)
        assert all(torch.equal(out[k], ref_out[k]) for k in ref_out)
        assert torch.equal(grad, ref_grad)


def test_a_copy_packs_only_where_its_network_runs_bf16_on_the_cpu(vgg):
    """A packed copy turned to fp32 and copied again, an fp16 fast copy and the fp32 network's
    own copies hold no packed kernels: their convolutions are torch's own."""
    as_fp32 = copy.deepcopy(vgg.fast_copy()).float()
    assert not copy.deepcopy(as_fp32)._packed
    assert not vgg.fast_copy(torch.float16)._packed
    assert not copy.deepcopy(vgg)._packed and not copy.copy(vgg)._packed
