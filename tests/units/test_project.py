"""Projections (units/project.py): where they are zero, what they show, and that each method
is the computation its paper describes, checked against code written independently of it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from stylegram.units.project import (
    Stage,
    Target,
    picture,
    project,
    project_back,
    trace,
    vgg_stages,
)
from stylegram.units.scan import load_scan_image
from tests.conftest import DATA


@pytest.fixture(scope="module")
def photo():
    return load_scan_image(DATA / "photos" / "astronaut.jpg", 96)[0]


def strongest(vgg, image, layer, y, x) -> Target:
    with torch.no_grad():
        acts = vgg(image, [layer])[layer][0, :, y, x]
    return Target(int(acts.argmax()), y, x)


@pytest.mark.parametrize("method", ["deconv", "guided"])
@pytest.mark.parametrize(
    "layer, positions",
    [
        ("relu1_2", [(40, 50), (0, 0)]),
        ("pool2", [(10, 12), (23, 0)]),
        ("conv3_1", [(11, 11)]),
        ("relu3_4", [(12, 12), (2, 21)]),
    ],
)
def test_projection_is_zero_outside_the_receptive_field_and_the_window_changes_nothing(
    vgg, photo, layer, positions, method
):
    targets = [strongest(vgg, photo, layer, y, x) for y, x in positions]
    whole = project(vgg, photo, layer, targets, method=method, crop=False)
    windowed = project(vgg, photo, layer, targets, method=method)
    for signal, fast, t in zip(whole, windowed, targets, strict=True):
        x0, y0, x1, y1 = vgg.info[layer].box(t.x, t.y)
        inside = torch.zeros_like(signal, dtype=torch.bool)
        inside[:, max(0, y0) : y1, max(0, x0) : x1] = True
        assert signal[~inside].abs().max() == 0
        assert signal[inside].abs().max() > 0
        torch.testing.assert_close(fast, signal, rtol=0, atol=1e-5 * float(signal.abs().max()))


def edge_image(vertical: bool, side: int = 32) -> torch.Tensor:
    """Dark left (or top) half, light right (or bottom) half."""
    ramp = (torch.arange(side) >= side // 2).float() * 0.6 + 0.2
    plane = ramp.expand(side, side) if vertical else ramp[:, None].expand(side, side)
    return plane.expand(1, 3, side, side).clone()


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a * b).sum() / (a.norm() * b.norm()))


@pytest.mark.parametrize("vertical", [True, False])
def test_an_edge_unit_projects_onto_its_edge(vgg, vertical):
    """The relu1_2 unit that prefers this edge most to the same edge turned by 90° projects onto
    the edge: inside its receptive field the projection has the edge's pattern, dark where the
    image is dark and light where it is light, much more than the turned edge's."""
    layer, c = "relu1_2", 16
    image, turned = edge_image(vertical), edge_image(not vertical)
    y, x = (c, c - 1) if vertical else (c - 1, c)  # a position on the edge
    with torch.no_grad():
        here = vgg(image, [layer])[layer][0, :, y, x]
        there = vgg(turned, [layer])[layer][0, :, x, y]
    unit = int((here - there).argmax())
    assert there[unit] < 0.1 * here[unit]  # tuned to this orientation
    (signal,) = project(vgg, image, layer, [Target(unit, y, x)], method="deconv")
    x0, y0, x1, y1 = vgg.info[layer].box(x, y)
    seen = signal.sum(0)[y0:y1, x0:x1]

    def pattern(im):
        patch = im[0, 0, y0:y1, x0:x1]
        return patch - patch.mean()

    # measured: 0.67 and -0.36 (a unit for edges a little off vertical), 0.76 and 0.10
    assert cosine(seen, pattern(image)) > 0.6
    assert cosine(seen, pattern(image)) > 1.5 * abs(cosine(seen, pattern(turned)))


def tiny_network():
    """conv(3→4) ReLU maxpool conv(4→5) ReLU: two layers, random filters."""
    torch.manual_seed(3)
    first, second = nn.Conv2d(3, 4, 3, padding=1), nn.Conv2d(4, 5, 3, padding=1)
    return [Stage("conv", first), Stage("relu"), Stage("max"), Stage("conv", second), Stage("relu")]


def reference_deconv(stages, image: np.ndarray, unit: int, y: int, x: int) -> np.ndarray:
    """Zeiler & Fergus's deconvnet, written out with loops over numpy arrays: forward with the
    switches of each 2×2 pool, then from one activation: rectify, unpool, filter with the
    flipped filters."""
    w1 = stages[0].conv.weight.detach().double().numpy()
    b1 = stages[0].conv.bias.detach().double().numpy()
    w2 = stages[3].conv.weight.detach().double().numpy()
    b2 = stages[3].conv.bias.detach().double().numpy()

    def conv(a, w, b):
        c_out = w.shape[0]
        h, wd = a.shape[1:]
        pad = np.pad(a, ((0, 0), (1, 1), (1, 1)))
        out = np.zeros((c_out, h, wd))
        for o in range(c_out):
            for i in range(h):
                for j in range(wd):
                    out[o, i, j] = (pad[:, i : i + 3, j : j + 3] * w[o]).sum() + b[o]
        return out

    def deconv(s, w):  # the same filters flipped in space, input and output channels swapped
        c_in = w.shape[1]
        flipped = w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)
        return conv(s, flipped, np.zeros(c_in))

    a1 = np.maximum(conv(image, w1, b1), 0)
    h, wd = a1.shape[1] // 2, a1.shape[2] // 2
    pooled, switches = np.zeros((4, h, wd)), np.zeros((4, h, wd, 2), int)
    for c in range(4):
        for i in range(h):
            for j in range(wd):
                window = a1[c, 2 * i : 2 * i + 2, 2 * j : 2 * j + 2]
                di, dj = np.unravel_index(window.argmax(), (2, 2))
                pooled[c, i, j], switches[c, i, j] = window[di, dj], (2 * i + di, 2 * j + dj)
    a2 = np.maximum(conv(pooled, w2, b2), 0)

    s = np.zeros_like(a2)
    s[unit, y, x] = a2[unit, y, x]
    s = deconv(np.maximum(s, 0), w2)  # relu2 on the way down, then conv2 undone
    unpooled = np.zeros_like(a1)
    for c in range(4):
        for i in range(h):
            for j in range(wd):
                unpooled[c, switches[c, i, j, 0], switches[c, i, j, 1]] = s[c, i, j]
    return deconv(np.maximum(unpooled, 0), w1)  # relu1, then conv1 undone


def test_deconv_equals_a_hand_written_reference_on_a_tiny_network():
    stages = tiny_network()
    image = torch.rand(1, 3, 12, 10, generator=torch.Generator().manual_seed(4)) - 0.5
    top, records = trace(stages, image)
    unit, y, x = 2, 3, 2
    assert top[0, unit, y, x] > 0
    signal = torch.zeros_like(top)
    signal[0, unit, y, x] = top[0, unit, y, x]
    ours = project_back(stages, records, signal, "deconv", (12, 10))[0]
    theirs = reference_deconv(stages, image[0].double().numpy(), unit, y, x)
    np.testing.assert_allclose(ours.numpy(), theirs, rtol=1e-4, atol=1e-5)


class GuidedReLU(torch.autograd.Function):
    """ReLU whose backward pass lets through only positive gradients where its input was
    positive (Springenberg et al.)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad.clamp(min=0) * (x > 0)


def test_guided_backprop_equals_autograd_with_the_guided_relu_rule(vgg, photo):
    layer = "relu3_2"
    image = photo[..., :40, :48]
    target = strongest(vgg, image, layer, 4, 6)
    x = image.clone().requires_grad_(True)
    a = vgg.preprocess(x)
    for stage in vgg_stages(vgg, layer):
        if stage.kind == "conv":
            a = stage.conv(a)
        elif stage.kind == "relu":
            a = GuidedReLU.apply(a)
        else:
            a = F.max_pool2d(a, 2)
    value = a[0, target.unit, target.y, target.x]
    value.backward()
    expected = x.grad[0] * value.detach()
    (ours,) = project(vgg, image, layer, [target], method="guided", crop=False)
    torch.testing.assert_close(ours, expected, rtol=1e-4, atol=1e-4 * float(expected.abs().max()))
    # and the deconvnet is another computation: it ignores the forward ReLUs' signs
    (deconv,) = project(vgg, image, layer, [target], method="deconv", crop=False)
    assert (deconv - expected).abs().max() > 0.1 * expected.abs().max()


def test_picture_is_grey_at_zero_and_keeps_the_sign():
    signal = torch.zeros(1, 3, 5, 5)
    signal[0, :, 1, 1], signal[0, :, 3, 3] = 2.0, -2.0
    shown = picture(signal)
    assert shown[0, 0, 0, 0] == 0.5
    assert shown[0, 0, 1, 1] > 0.9 and shown[0, 0, 3, 3] < 0.1
    assert torch.equal(picture(torch.zeros(1, 3, 4, 4)), torch.full((1, 3, 4, 4), 0.5))
