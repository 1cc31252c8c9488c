"""Winograd's convolutions (NNPACK) against torch's direct ones: values, gradients, whole network."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from stylegram import winograd
from stylegram.vgg import CONTENT_LAYERS, STYLE_LAYERS, network_for

pytestmark = pytest.mark.skipif(not winograd.available(), reason="NNPACK does not run on this CPU")


# (batch, c_in, c_out, h, w): NNPACK's size and up, F(4×4, 3×3)'s (odd sizes, a batch of
# two: tiles past the edge, images side by side in one product), and direct below it.
SHAPES = [
    (1, 3, 64, 60, 64),
    (1, 64, 128, 24, 32),
    (2, 24, 40, 13, 22),
    (1, 512, 64, 12, 16),
    (1, 16, 32, 6, 8),
]


@pytest.mark.parametrize(("batch", "c_in", "c_out", "h", "w"), SHAPES)
def test_a_convolution_and_its_input_gradient_equal_the_direct_ones(batch, c_in, c_out, h, w):
    generator = torch.Generator().manual_seed(0)
    weight = torch.randn(c_out, c_in, 3, 3, generator=generator) / (9 * c_in) ** 0.5
    bias = torch.randn(c_out, generator=generator)
    x = torch.randn(batch, c_in, h, w, generator=generator)
    upstream = torch.randn(batch, c_out, h, w, generator=generator)
    ours_in, ref_in = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    ours = winograd.conv3x3(ours_in, winograd.Kernels(weight, bias))
    ref = F.conv2d(ref_in, weight, bias, padding=1)
    (ours * upstream).sum().backward()
    (ref * upstream).sum().backward()
    torch.testing.assert_close(ours, ref, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(ours_in.grad, ref_in.grad, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    ("h", "w", "way"), [(48, 64, "nnpack"), (24, 32, "tiled"), (12, 16, "tiled"), (6, 8, None)]
)
def test_the_way_follows_the_maps_size(h, w, way, monkeypatch):
    """NNPACK from 64×48, F(4×4, 3×3) from 16×12, direct below: what each does fastest."""
    ran = []
    for name, cls in (("nnpack", winograd._Nnpack), ("tiled", winograd._Tiled)):
        monkeypatch.setattr(cls, "apply", lambda x, k, name=name: ran.append(name) or x)
    kernels = winograd.Kernels(torch.zeros(8, 8, 3, 3), None)
    winograd.conv3x3(torch.zeros(1, 8, h, w), kernels)
    assert ran == ([way] if way else [])


def test_fp32_on_the_cpu_runs_vgg_by_winograd_to_within_a_thousandth(vgg, monkeypatch):
    """network_for gives the fp32 CPU class Winograd's convolutions where OpenMP's threads sleep
    (as the command line has them); the style transfer's layers and the image's gradient come
    out as the direct convolutions' to 1e-3 (relative, in norm)."""
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    assert network_for(vgg, "fp32")[0] is vgg  # spinning threads: direct
    monkeypatch.setenv("OMP_WAIT_POLICY", "passive")
    fast, name = network_for(vgg, "fp32")
    direct, _ = network_for(vgg, "fp32", fast_fp32=False)
    assert name == "fp32" and fast is not vgg and direct is vgg
    # 96×128: blocks 1 and 2 by NNPACK, 3 and 4 by F(4×4, 3×3), 5 directly (winograd.conv3x3).
    assert fast._winograd.keys() == vgg.convs.keys() and not vgg._winograd
    assert fast.conv("conv3_1").weight is vgg.conv("conv3_1").weight  # shared, not copied
    layers = STYLE_LAYERS + CONTENT_LAYERS
    rgb = torch.rand(1, 3, 96, 128, generator=torch.Generator().manual_seed(1))
    grads = []
    for net in (fast, direct):
        image = rgb.clone().requires_grad_(True)
        out = net(image, layers)
        sum((f * f).mean() for f in out.values()).backward()
        grads.append((image.grad, out))
    (fast_grad, fast_out), (ref_grad, ref_out) = grads
    for layer in layers:
        error = (fast_out[layer] - ref_out[layer]).norm() / ref_out[layer].norm()
        assert error < 1e-5, layer
    assert not torch.equal(fast_out["relu1_1"], ref_out["relu1_1"])  # Winograd did run
    assert not torch.equal(fast_out["relu4_1"], ref_out["relu4_1"])
    # Each layer's kernels in the forms its maps took, and no others (they are 4× the weights).
    made = {name: set(k.__dict__) - {"weight", "bias"} for name, k in fast._winograd.items()}
    assert made["conv1_2"] == made["conv2_2"] == {"back"}
    assert made["conv3_1"] == made["conv4_4"] == {"tiled"}
    assert made["conv5_1"] == made["conv5_4"] == set()
    assert (fast_grad - ref_grad).norm() / ref_grad.norm() < 1e-3
