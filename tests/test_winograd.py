"""Winograd's convolutions (NNPACK, F(4×4, 3×3)) against torch's direct ones: values,
gradients, the way chosen, copies, whole network."""

from __future__ import annotations

import copy
import functools
import pickle

import pytest
import torch
from torch.nn import functional as F

from stylegram import winograd
from stylegram.vgg import CONTENT_LAYERS, STYLE_LAYERS, network_for

needs_nnpack = pytest.mark.skipif(
    not winograd.available(), reason="NNPACK does not run on this CPU"
)


def check_against_direct(convolve, batch, c_in, c_out, h, w, bias=True, channels_last=False):
    """`convolve(x, kernels)` and its input's gradient against F.conv2d's, to 1e-4."""
    generator = torch.Generator().manual_seed(0)
    weight = torch.randn(c_out, c_in, 3, 3, generator=generator) / (9 * c_in) ** 0.5
    b = torch.randn(c_out, generator=generator) if bias else None
    x = torch.randn(batch, c_in, h, w, generator=generator)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    upstream = torch.randn(batch, c_out, h, w, generator=generator)
    ours_in, ref_in = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    ours = convolve(ours_in, winograd.Kernels(weight, b))
    ref = F.conv2d(ref_in, weight, b, padding=1)
    (ours * upstream).sum().backward()
    (ref * upstream).sum().backward()
    torch.testing.assert_close(ours, ref, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(ours_in.grad, ref_in.grad, rtol=1e-4, atol=1e-4)


# 64×48 and up: NNPACK's, its gradient carried back by NNPACK.
@needs_nnpack
def test_nnpack_and_its_input_gradient_equal_the_direct_ones():
    check_against_direct(functools.partial(winograd.conv3x3, nnpack="all"), 1, 64, 32, 60, 64)


# The RGB image's: one product, its gradient by shifted sums. Odd sizes, a batch of two (the
# offsets and the edges), no bias, a channels-last input, a map smaller than the kernel.
@pytest.mark.parametrize(
    ("batch", "c_in", "h", "w", "bias", "channels_last"),
    [
        (1, 3, 60, 64, True, False),
        (2, 3, 49, 67, True, False),
        (1, 3, 13, 9, False, True),
        (1, 1, 2, 1, True, False),
    ],
)
def test_few_channels_and_their_input_gradient_equal_the_direct_ones(
    batch, c_in, h, w, bias, channels_last
):
    check_against_direct(winograd._FewChannels.apply, batch, c_in, 32, h, w, bias, channels_last)


# F(4×4, 3×3) on its own: odd sizes (tiles past the edge), a map under one tile's height, a
# batch of two (images side by side in one product), no bias, a channels-last input.
@pytest.mark.parametrize(
    ("batch", "c_in", "c_out", "h", "w", "bias", "channels_last"),
    [
        (1, 64, 128, 24, 32, True, False),
        (2, 24, 40, 13, 22, True, False),
        (1, 16, 8, 2, 96, True, False),
        (1, 512, 64, 12, 16, False, False),
        (1, 32, 16, 17, 15, True, True),
    ],
)
def test_f4x4_and_its_input_gradient_equal_the_direct_ones(
    batch, c_in, c_out, h, w, bias, channels_last
):
    check_against_direct(winograd._Tiled.apply, batch, c_in, c_out, h, w, bias, channels_last)


def test_copies_keep_the_weights_and_drop_the_forms_made():
    """A copy or pickle (of a network, say) does not carry the forms made (4× the weights)."""
    kernels = winograd.Kernels(torch.randn(8, 4, 3, 3), torch.randn(8))
    made = [kernels.tiled]
    if winograd.available():
        made += [kernels.nnpack(back=True, fft=False), kernels.nnpack(back=False, fft=True)]
    forms = {"tiled", "nnpack_back", "nnpack_forward_fft"} if len(made) > 1 else {"tiled"}
    assert set(vars(kernels)) == {"weight", "bias", *forms}
    for twin in (copy.deepcopy(kernels), pickle.loads(pickle.dumps(kernels))):
        assert set(vars(twin)) == {"weight", "bias"}
        assert torch.equal(twin.weight, kernels.weight) and torch.equal(twin.tiled, kernels.tiled)


@pytest.mark.parametrize(
    ("nnpack", "c", "h", "w", "way"),
    [
        ("all", 3, 48, 64, "few"),
        ("large", 3, 96, 128, "few"),
        ("none", 3, 96, 128, "few"),
        ("all", 8, 48, 64, "nnpack"),
        ("all", 8, 24, 32, "nnpack"),
        ("all", 511, 12, 16, "nnpack"),
        ("all", 8, 12, 15, None),
        ("all", 512, 24, 32, "nnpack"),
        ("all", 512, 23, 32, "tiled"),
        ("all", 512, 12, 16, "tiled"),
        ("all", 512, 12, 15, None),
        ("large", 8, 96, 128, "nnpack"),
        ("large", 256, 96, 128, "nnpack"),
        ("large", 512, 384, 512, "nnpack"),
        ("large", 8, 95, 128, None),
        ("large", 256, 95, 128, "tiled"),
        ("large", 256, 12, 16, "tiled"),
        ("large", 256, 12, 15, None),
        ("large", 255, 24, 32, None),
        ("none", 256, 96, 128, "tiled"),
        ("none", 256, 12, 16, "tiled"),
        ("none", 256, 96, 129, None),
        ("none", 256, 12, 15, None),
        ("none", 255, 24, 32, None),
        ("none", 64, 384, 512, None),
    ],
)
def test_the_way_follows_the_maps_size(nnpack, c, h, w, way, monkeypatch):
    """The RGB image's by one product. Threads asleep ("all"): NNPACK from 32×24, and from 16×12
    under 512 channels; F(4×4, 3×3) for 512 channels from 16×12; direct below. Threads spinning
    ("large"): NNPACK from 128×96; below, F(4×4, 3×3) for 256 channels and more from 16×12,
    direct otherwise. Without NNPACK ("none"), the same F(4×4, 3×3) up to 128×96, direct
    otherwise."""
    ran = []
    for name, cls in (
        ("few", winograd._FewChannels),
        ("nnpack", winograd._Nnpack),
        ("tiled", winograd._Tiled),
    ):
        monkeypatch.setattr(cls, "apply", lambda x, k, name=name: ran.append(name) or x)
    kernels = winograd.Kernels(torch.zeros(8, c, 3, 3), None)
    winograd.conv3x3(torch.zeros(1, c, h, w), kernels, nnpack=nnpack)
    assert ran == ([way] if way else [])


@pytest.mark.parametrize(
    "policy", [pytest.param("passive", marks=needs_nnpack), pytest.param(None, id="spinning")]
)
def test_fp32_on_the_cpu_runs_vgg_by_winograd_to_within_rounding(vgg, policy, monkeypatch):
    """network_for gives fp32 on the CPU Winograd's convolutions, NNPACK's among them where
    OpenMP's threads sleep (as the command line has them for fp32); the style transfer's layers
    come out as the direct convolutions' to 1e-5 (relative, in norm), the image's gradient too
    but where the last bits flip a choice."""
    if policy:
        monkeypatch.setenv("OMP_WAIT_POLICY", policy)
    else:
        monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    vgg = copy.deepcopy(vgg)  # its own kernels' forms: none made yet
    fast, name = network_for(vgg, "fp32")
    direct, _ = network_for(vgg, "fp32", fast_fp32=False)
    spinning = "large" if winograd.available() else "none"
    assert name == "fp32" and fast is not vgg and direct is vgg
    assert fast._nnpack == ("all" if policy else spinning)
    assert fast._winograd and fast._kernels.keys() == vgg.convs.keys() and not vgg._winograd
    assert fast.conv("conv3_1").weight is vgg.conv("conv3_1").weight  # shared, not copied
    # Every copy shares the kernels, so their forms are made once per process, not per job.
    assert network_for(vgg, "fp32")[0]._kernels is fast._kernels
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
    # The image's gradient agrees but where a max-pool's choice or a ReLU's sign flips with the
    # last bits (seeds 1-8: up to 1.3 % of the pixels past 1e-4 of the largest value, 2e-3 of
    # the norm; at this seed 1.2e-3 since conv1_1 runs as one product, 3e-6 before).
    diff = (fast_grad - ref_grad).abs()
    assert (diff > 1e-4 * ref_grad.abs().max()).float().mean() < 0.05
    assert diff.norm() / ref_grad.norm() < 1e-2
    # At 96×128, each layer's kernels in the forms its maps took, and no others (the
    # transformed ones are 4-28× the weights). Asleep: blocks 1 to 3 and conv4_1 (256 channels
    # in) by NNPACK, both ways, conv4_2 to conv4_4 (512 in, 16×12) by F(4×4, 3×3), block 5
    # directly. Spinning: NNPACK's FFT for conv1_2 (128×96) where it runs, F(4×4, 3×3) from
    # conv3_2 (256 channels in) to conv4_4.
    made = {name: set(k.__dict__) - {"weight", "bias"} for name, k in fast._kernels.items()}
    assert made["conv4_2"] == made["conv4_4"] == {"tiled"}
    assert made["conv5_1"] == made["conv5_4"] == set()
    assert not torch.equal(fast_out["relu4_1"], ref_out["relu4_1"])  # Winograd did run
    assert not torch.equal(fast_out["relu1_1"], ref_out["relu1_1"])  # the RGB image's product
    assert made["conv1_1"] == set()  # which needs no other form of the kernels
    if policy:
        # NNPACK's FFT for conv1_2 (64 channels out either way, at 128×96), F(6×6, 3×3) deeper.
        assert made["conv1_2"] == {"nnpack_forward_fft", "nnpack_back_fft"}
        both = {"nnpack_forward", "nnpack_back"}
        assert made["conv2_2"] == made["conv3_2"] == made["conv4_1"] == both
    else:
        assert made["conv3_2"] == made["conv4_1"] == {"tiled"}
        assert made["conv2_1"] == made["conv3_1"] == set()
        fft = {"nnpack_forward_fft", "nnpack_back_fft"} if spinning == "large" else set()
        assert made["conv1_2"] == fft


def test_where_nnpack_does_not_run_threads_asleep_get_the_rest(vgg, monkeypatch):
    """OMP_WAIT_POLICY=PASSIVE (as the command line sets it for fp32) on a CPU or torch build
    without NNPACK: a Winograd copy without NNPACK's convolutions, not a failure."""
    monkeypatch.setenv("OMP_WAIT_POLICY", "passive")
    monkeypatch.setattr(winograd, "available", lambda: False)
    fast, name = network_for(vgg, "fp32")
    assert name == "fp32" and fast is not vgg and fast._nnpack == "none"
    rgb = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    # Within 1e-5 in norm, as the test above holds every layer: Winograd's error is relative to
    # the layer's scale, not to each value (under the AVX2 cap one value of 0.14, in a layer
    # whose largest is 12079, was 2.8e-3 off, and a per-value 1e-3 failed).
    ours, theirs = fast(rgb, ["relu4_1"])["relu4_1"], vgg(rgb, ["relu4_1"])["relu4_1"]
    assert (ours - theirs).norm() / theirs.norm() < 1e-5
