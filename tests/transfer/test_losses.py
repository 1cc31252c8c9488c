"""The cost functions against hand computations on tiny tensors."""

from __future__ import annotations

import itertools

import pytest
import torch

from stylegram.image import to_tensor
from stylegram.transfer.losses import content_loss, gram_matrix, mean_gram, style_loss, tv_loss
from stylegram.vgg import STYLE_LAYERS
from tests.conftest import thumbnail


def _tiny(seed: int, c=3, h=2, w=4) -> torch.Tensor:
    return torch.randn(1, c, h, w, generator=torch.Generator().manual_seed(seed))


def test_gram_matrix_is_the_sum_over_positions_of_channel_products():
    a = _tiny(0)
    g = gram_matrix(a)[0]
    _, c, h, w = a.shape
    for k, k2 in itertools.product(range(c), repeat=2):
        expected = sum(float(a[0, k, i, j] * a[0, k2, i, j]) for i in range(h) for j in range(w))
        assert float(g[k, k2]) == pytest.approx(expected, rel=1e-5, abs=1e-6)


def test_gram_matrix_by_hand_on_integers():
    a = torch.tensor([[1.0, 2.0], [0.0, -1.0]]).view(1, 2, 1, 2)  # 2 channels, 1×2 positions
    assert gram_matrix(a)[0].tolist() == [[5.0, -2.0], [-2.0, 1.0]]


@pytest.mark.parametrize("batch", [1, 2])
@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_gram_matrix_gradient_matches_finite_differences_in_either_layout(layout, batch):
    # The Gram's backward is one product with a stop-gradient operand (gram._symmetric_product):
    # checked against finite differences in fp64, for one image (reshaped) and two (unbound).
    a = torch.randn(batch, 4, 3, 5, generator=torch.Generator().manual_seed(8), dtype=torch.float64)
    a = a.contiguous(memory_format=layout).requires_grad_(True)
    assert torch.autograd.gradcheck(gram_matrix, (a,))


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_a_masked_gram_is_the_gram_of_the_masked_features_over_the_masks_energy(layout):
    # Computed over the positions the mask touches only (gram.mean_gram); value and gradient
    # as the guided Gram's definition gives them, with soft edges and zeros in the mask.
    a = torch.randn(1, 4, 6, 5, generator=torch.Generator().manual_seed(3))
    a = a.contiguous(memory_format=layout).requires_grad_(True)
    mask = torch.zeros(1, 1, 6, 5)
    mask[..., 1:4, :3] = 1.0
    mask[..., 4, :3] = 0.25
    g = mean_gram(a, mask)
    (g * torch.arange(16.0).view(1, 4, 4)).sum().backward()
    expected_a = a.detach().clone().requires_grad_(True)
    expected = gram_matrix(expected_a * mask) / mask.pow(2).sum()
    (expected * torch.arange(16.0).view(1, 4, 4)).sum().backward()
    torch.testing.assert_close(g, expected)
    torch.testing.assert_close(a.grad, expected_a.grad)
    assert bool(a.grad[..., 0, :].eq(0).all())  # no gradient where the mask is zero


def test_gram_matrix_in_bf16_is_within_a_few_thousandths_of_fp32():
    a = torch.relu(_tiny(9, c=16, h=32, w=32))
    exact, fast = gram_matrix(a), gram_matrix(a.bfloat16())
    assert float((fast - exact).norm() / exact.norm()) < 5e-3
    grad_exact = torch.autograd.grad(gram_matrix(a.requires_grad_()).sum(), a)[0]
    b = a.detach().bfloat16().requires_grad_()
    grad_fast = torch.autograd.grad(gram_matrix(b).sum(), b)[0]
    assert float((grad_fast.float() - grad_exact).norm() / grad_exact.norm()) < 1e-2


def test_style_loss_is_the_seeds_formula_relative_to_the_styles_gram_for_equal_sizes():
    s, g = _tiny(1), _tiny(2)
    _, n_c, n_h, n_w = s.shape
    seed_formula = (gram_matrix(s) - gram_matrix(g)).pow(2).sum() / (2 * n_h * n_w * n_c) ** 2
    energy = mean_gram(s)[0].pow(2).sum()  # ‖Ĝ(S)‖²_F
    expected = seed_formula * (2 * n_c) ** 2 / energy
    assert float(style_loss(g, mean_gram(s)[0])) == pytest.approx(float(expected), rel=1e-5)


def test_style_loss_by_hand():
    g = torch.tensor([[1.0, 2.0], [0.0, -1.0]]).view(1, 2, 1, 2)
    target = torch.eye(2)
    # Ĝ = G / 2 = [[2.5, -1], [-1, 0.5]]; Ĝ − I = [[1.5, -1], [-1, -0.5]], ‖·‖² = 2.25 + 1 + 1 + 0.25
    # = 4.5; the style's energy ‖I‖² = 2.
    assert float(style_loss(g, target)) == pytest.approx(4.5 / 2)


def test_style_loss_of_the_style_scaled_by_k_is_k_minus_one_squared_for_any_painting():
    # Relative: a painting and the same painting ten times brighter in feature space score alike.
    for seed, k in itertools.product(range(3), (0.5, 2.0)):
        s = torch.relu(_tiny(seed, c=4, h=4, w=4))
        for loud in (1.0, 10.0):
            target = mean_gram(loud * s)[0]
            assert float(style_loss(loud * s * k**0.5, target)) == pytest.approx(
                (k - 1) ** 2, rel=1e-4
            )


def test_style_target_does_not_depend_on_image_size():
    a = _tiny(3, c=4, h=3, w=5)
    tiled = a.repeat(1, 1, 2, 2)  # the same texture over four times the area
    torch.testing.assert_close(mean_gram(tiled), mean_gram(a))
    assert float(style_loss(tiled, mean_gram(a)[0])) == pytest.approx(0.0, abs=1e-6)


def test_content_loss_is_half_the_mean_squared_difference_relative_to_the_photos():
    a, b = _tiny(4), _tiny(5)
    energy = sum(float(y) ** 2 for y in b.flatten()) / b.numel()
    expected = (
        0.5
        * sum(float(x - y) ** 2 for x, y in zip(a.flatten(), b.flatten(), strict=True))
        / a.numel()
        / energy
    )
    assert float(content_loss(a, b)) == pytest.approx(expected, rel=1e-5)
    assert float(content_loss(a, a)) == 0.0
    assert float(content_loss(10 * a, 10 * b)) == pytest.approx(expected, rel=1e-5)  # scale-free
    g = a.clone().requires_grad_(True)
    content_loss(g, b).backward()
    torch.testing.assert_close(g.grad, (a - b) / (a.numel() * energy))


def test_total_variation_of_a_checkerboard_and_a_flat_image():
    board = (torch.arange(8).view(8, 1) + torch.arange(8).view(1, 8)) % 2
    image = board.float().expand(1, 3, 8, 8)
    assert float(tv_loss(image)) == pytest.approx(2.0)  # every neighbour differs by exactly 1
    assert float(tv_loss(torch.full((1, 3, 8, 8), 0.3))) == 0.0


def test_losses_take_bf16_features_and_answer_in_fp32():
    a = _tiny(6).bfloat16()
    assert gram_matrix(a).dtype == torch.float32
    assert style_loss(a, mean_gram(_tiny(7))[0]).dtype == torch.float32


def test_starting_style_cost_is_within_a_small_factor_across_the_test_paintings(vgg, data):
    # At the start (G = the photo) the relative costs of the five test paintings lie within 2×
    # (measured: 1.6×, 3.7 to 5.9), where the seed's costs span five orders of magnitude across
    # layers (relu1_1 against relu4_1) and up to 9-fold across the paintings at one layer (relu2_1).
    photo = vgg(to_tensor(thumbnail(data / "photos" / "chelsea.jpg", 128)), STYLE_LAYERS)
    relative, seed = [], []
    for painting in sorted((data / "paintings").glob("*.jpg")):
        style = vgg(to_tensor(thumbnail(painting, 128)), STYLE_LAYERS)
        targets = {n: mean_gram(style[n])[0] for n in STYLE_LAYERS}
        relative.append(sum(float(style_loss(photo[n], targets[n])) for n in STYLE_LAYERS))
        seed.append(
            [
                float((mean_gram(photo[n])[0] - targets[n]).pow(2).sum())
                / (2 * targets[n].shape[0]) ** 2
                for n in STYLE_LAYERS
            ]
        )
    assert len(relative) == 5
    assert max(relative) / min(relative) < 2
    assert min(max(layers) / min(layers) for layers in seed) > 1e3
    by_layer = [max(col) / min(col) for col in zip(*seed, strict=True)]
    assert max(by_layer) > 2 * max(relative) / min(relative)
