"""The cost functions against hand computations on tiny tensors."""
from __future__ import annotations

import itertools

import pytest
import torch

from stylegram.transfer.losses import content_loss, gram_matrix, mean_gram, style_loss, tv_loss


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


def test_style_loss_is_the_seeds_formula_for_equal_sizes():
    s, g = _tiny(1), _tiny(2)
    _, n_c, n_h, n_w = s.shape
    seed_formula = (gram_matrix(s) - gram_matrix(g)).pow(2).sum() / (2 * n_h * n_w * n_c) ** 2
    assert float(style_loss(g, mean_gram(s)[0])) == pytest.approx(float(seed_formula), rel=1e-5)


def test_style_loss_by_hand():
    g = torch.tensor([[1.0, 2.0], [0.0, -1.0]]).view(1, 2, 1, 2)
    target = torch.zeros(2, 2)
    # Ĝ = G / 2 = [[2.5, -1], [-1, 0.5]]; ‖Ĝ‖² = 6.25 + 1 + 1 + 0.25 = 8.5; (2·n_C)² = 16.
    assert float(style_loss(g, target)) == pytest.approx(8.5 / 16)


def test_style_target_does_not_depend_on_image_size():
    a = _tiny(3, c=4, h=3, w=5)
    tiled = a.repeat(1, 1, 2, 2)  # the same texture over four times the area
    torch.testing.assert_close(mean_gram(tiled), mean_gram(a))
    assert float(style_loss(tiled, mean_gram(a)[0])) == pytest.approx(0.0, abs=1e-6)


def test_content_loss_is_half_the_mean_squared_difference():
    a, b = _tiny(4), _tiny(5)
    expected = 0.5 * sum(float(x - y) ** 2 for x, y in zip(a.flatten(), b.flatten())) / a.numel()
    assert float(content_loss(a, b)) == pytest.approx(expected, rel=1e-5)
    assert float(content_loss(a, a)) == 0.0


def test_total_variation_of_a_checkerboard_and_a_flat_image():
    board = (torch.arange(8).view(8, 1) + torch.arange(8).view(1, 8)) % 2
    image = board.float().expand(1, 3, 8, 8)
    assert float(tv_loss(image)) == pytest.approx(2.0)  # every neighbour differs by exactly 1
    assert float(tv_loss(torch.full((1, 3, 8, 8), 0.3))) == 0.0


def test_losses_take_bf16_features_and_answer_in_fp32():
    a = _tiny(6).bfloat16()
    assert gram_matrix(a).dtype == torch.float32
    assert style_loss(a, mean_gram(_tiny(7))[0]).dtype == torch.float32
