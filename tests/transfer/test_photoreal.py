"""The photorealism regulariser (transfer/photoreal.py) against Levin et al.'s matting Laplacian
built entry by entry from its formula, on images small enough for a dense matrix."""

from __future__ import annotations

import itertools
from pathlib import Path

import torch

from stylegram.transfer import photoreal

DATA_STYLE = Path(__file__).resolve().parents[1] / "data" / "paintings" / "starry_night.jpg"
EPS = 1e-3  # larger than the default so that Δ is well conditioned on random pixels


def explicit_laplacian(photo: torch.Tensor, eps: float) -> torch.Tensor:
    """L_ij = Σ_{k: i,j ∈ w_k} (δ_ij − (1 + (I_i − μ_k)ᵀ(Σ_k + ε/9·1)⁻¹(I_j − μ_k)) / 9), over
    the 3×3 windows wholly inside the image (Levin, Lischinski & Weiss 2008, eq. 12)."""
    _, _, h, w = photo.shape
    pixels = photo[0].double().reshape(3, -1).T  # (h·w, 3)
    lap = torch.zeros(h * w, h * w, dtype=torch.float64)
    for y, x in itertools.product(range(1, h - 1), range(1, w - 1)):
        idx = [(y + dy) * w + (x + dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
        colours = pixels[idx]
        mu = colours.mean(0)
        cov = (colours - mu).T @ (colours - mu) / 9
        inv = torch.linalg.inv(cov + eps / 9 * torch.eye(3, dtype=torch.float64))
        centred = colours - mu
        block = torch.eye(9, dtype=torch.float64) - (1 + centred @ inv @ centred.T) / 9
        lap[torch.tensor(idx)[:, None], torch.tensor(idx)[None]] += block
    return lap


def random_pair(h: int = 6, w: int = 7, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(1, 3, h, w, generator=g, dtype=torch.float64), torch.rand(
        1, 3, h, w, generator=g, dtype=torch.float64
    )


def test_the_matrix_free_product_and_energy_equal_the_matrix_from_the_formula():
    photo, v = random_pair()
    lap = explicit_laplacian(photo, EPS)
    flat = v[0].reshape(3, -1)  # one row per channel
    expected = (flat @ lap.T).reshape(v.shape)
    assert torch.allclose(photoreal.laplacian_product(photo, v, EPS), expected, atol=1e-9)
    quadratic = float((flat @ lap * flat).sum())
    assert abs(float(photoreal.window_energy(v, photo, EPS).sum()) - quadratic) < 1e-9 * abs(
        quadratic
    )
    assert quadratic > 0 and torch.linalg.eigvalsh(lap).min() > -1e-9  # L is PSD


def test_the_energy_gradient_is_twice_the_product():
    photo, v = random_pair(seed=1)
    v.requires_grad_(True)
    photoreal.window_energy(v, photo, EPS).sum().backward()
    assert v.grad is not None
    assert torch.allclose(
        v.grad, 2 * photoreal.laplacian_product(photo, v.detach(), EPS), atol=1e-9
    )


def test_bands_give_the_whole_images_value_and_gradient():
    photo, image = random_pair(11, 9, seed=2)
    results = []
    for rows in (1, 2, 4, 1000):  # one window row per band, … , the whole image at once
        x = image.clone()
        value = photoreal.photo_term(x, photo, weight=3.0, eps=EPS, rows=rows)
        results.append((float(value), x.grad))
    whole_value, whole_grad = results[-1]
    expected = 3.0 * float(photoreal.window_energy(image, photo, EPS).sum()) / (11 * 9)
    assert abs(whole_value - expected) < 1e-6 * expected
    for value, grad in results[:-1]:
        assert abs(value - whole_value) < 1e-6 * whole_value
        assert torch.allclose(grad, whole_grad, atol=1e-12)


def test_the_held_part_adds_levins_constraint_to_value_and_gradient():
    """photo_term with `held` D: weight·(Σ_c V_cᵀLV_c + HOLD·Σ_c (V_c − I_c)ᵀD(V_c − I_c))/(H·W),
    its gradient that of the formula (autograd)."""
    photo, image = random_pair(11, 9, seed=3)
    held = torch.rand(1, 1, 11, 9, generator=torch.Generator().manual_seed(4), dtype=image.dtype)
    x = image.clone()
    value = photoreal.photo_term(x, photo, weight=3.0, eps=EPS, rows=4, held=held)  # 3 bands
    y = image.clone().requires_grad_(True)
    energy = photoreal.window_energy(y, photo, EPS).sum()
    expected = 3.0 * (energy + photoreal.HOLD * (held * (y - photo).pow(2)).sum()) / (11 * 9)
    expected.backward()
    value, expected = float(value), float(expected.detach())
    assert abs(value - expected) < 1e-5 * expected
    assert torch.allclose(x.grad, y.grad, atol=1e-9)


def test_the_residual_is_zero_for_a_recoloured_photo_and_high_for_noise(content_path):
    from stylegram.image import open_image, resize_long_side, to_tensor

    photo = to_tensor(resize_long_side(open_image(content_path), 96)).double()
    mix = torch.tensor([[0.5, 0.3, 0.1], [0.1, 0.7, 0.0], [0.2, 0.2, 0.4]], dtype=torch.float64)
    recoloured = torch.einsum("ij,bjhw->bihw", mix, photo) + 0.1
    noise = torch.rand(photo.shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert photoreal.local_affine_residual(photo, photo) < 1e-3
    assert photoreal.local_affine_residual(recoloured, photo) < 1e-3
    assert photoreal.local_affine_residual(noise, photo) > 0.5


def test_photorealistic_keeps_the_photos_edges(vgg, content_path):
    """A photo restyled after another photo (issue 26): with --photorealistic the output is far
    nearer a local affine recolouring of the photo than the same run without it, and still
    takes the reference's look (its style cost falls well below the photo's own)."""
    from stylegram import StyleConfig, stylize
    from stylegram.cli import build_parser
    from stylegram.image import open_image, resize_long_side, to_tensor
    from tests.conftest import DATA

    reference = DATA / "photos" / "coffee.jpg"
    assert build_parser().parse_args(["stylize", "--photorealistic"]).photorealistic is True
    photo = to_tensor(resize_long_side(open_image(content_path), 96))
    residual, style = {}, {}
    for realistic in (False, True):
        config = StyleConfig(size=96, iterations=30, scales=1, seed=0, photorealistic=realistic)
        losses: list[dict] = []
        out = stylize(content_path, reference, config, model=vgg, callback=losses.append)
        losses = [e.losses for e in losses]
        residual[realistic] = photoreal.local_affine_residual(to_tensor(out), photo)
        style[realistic] = (losses[0]["style"], losses[-1]["style"])
        assert ("photo" in losses[-1]) is realistic
    assert residual[True] < 0.25 * residual[False], residual
    assert style[True][1] < 0.5 * style[True][0], style


def test_the_post_process_solves_the_closed_form_with_the_matrix_from_the_formula():
    """--photo-smooth is argmin ‖V − O‖² + λ Σ_c V_cᵀ L V_c: its result solves (1 + λL)V = O
    with L built entry by entry, and the banded product it uses is the whole image's."""
    photo, _ = random_pair(7, 8, seed=3)
    output = 0.3 + 0.4 * random_pair(7, 8, seed=4)[1]  # inside [0, 1], so no clamp acts
    lap = explicit_laplacian(photo, photoreal.EPS)
    system = torch.eye(lap.shape[0], dtype=torch.float64) + 2.0 * lap
    expected = torch.linalg.solve(system, output[0].reshape(3, -1).T).T.reshape(output.shape)
    smooth = photoreal.closed_form_smooth(output, photo, weight=2.0, tol=1e-9)
    assert torch.allclose(smooth, expected, atol=1e-5), (smooth - expected).abs().max()
    assert not torch.allclose(smooth, output, atol=1e-2)
    whole = photoreal.laplacian_product(photo, output)
    for rows in (1, 2, 4):
        banded = photoreal.laplacian_product_bands(photo, output, rows=rows)
        assert torch.allclose(banded, whole, atol=1e-12)


def test_the_post_process_makes_the_output_locally_affine(vgg, content_path):
    """A noisy recolouring of the photo comes out near an affine one, a recolouring stays as it
    was, and stylize applies the post-process to its result."""
    from stylegram import StyleConfig, stylize
    from stylegram.image import open_image, resize_long_side, to_tensor

    photo = to_tensor(resize_long_side(open_image(content_path), 96))
    recoloured = 0.2 + 0.6 * photo.flip(1)
    noisy = (
        recoloured + 0.1 * torch.rand(photo.shape, generator=torch.Generator().manual_seed(0))
    ).clamp(0, 1)
    smooth = photoreal.closed_form_smooth(noisy, photo)
    before = photoreal.local_affine_residual(noisy, photo)
    assert before > 3 * photoreal.local_affine_residual(smooth, photo), before
    kept = photoreal.closed_form_smooth(recoloured, photo)
    assert float((kept - recoloured).abs().max()) < 2e-3
    # The guided filter (the start's, photoreal.affine_smooth) is exact in bands too.
    guided = photoreal.affine_smooth(noisy, photo, rows=1000)
    assert before > 3 * photoreal.local_affine_residual(guided, photo)
    for rows in (1, 5):
        assert torch.allclose(photoreal.affine_smooth(noisy, photo, rows=rows), guided, atol=1e-6)

    # Ten steps from noise, so that the smoothing has something to take away on any CPU. The
    # saved plain result is rounded to 8 bits, and the smoothing can amplify that rounding where
    # the photo is flat, so the comparison is of means: stylize's output is the smoothed result,
    # give or take a small fraction of what the smoothing changed.
    base = dict(size=96, iterations=10, scales=1, seed=0)
    plain = stylize(content_path, DATA_STYLE, StyleConfig(**base), model=vgg)
    smoothed = stylize(content_path, DATA_STYLE, StyleConfig(**base, photo_smooth=True), model=vgg)
    expected = photoreal.closed_form_smooth(to_tensor(plain), photo)
    off = (to_tensor(smoothed) - expected).abs()
    changed = (to_tensor(smoothed) - to_tensor(plain)).abs()
    assert float(changed.max()) > 10 / 255
    assert float(off.mean()) < 0.2 * float(changed.mean()), (off.mean(), changed.mean())


def test_guided_upsampling_carries_a_recolouring_to_the_photos_full_size(content_path):
    """Between scales, photo to photo upsamples by the guided filter: a coarse result that is a
    recolouring of the coarse photo comes out as the same recolouring of the full-size photo
    (its detail recoloured too), where the painting's upsampling adds the photo's detail as
    it was."""
    from torch.nn import functional as F

    from stylegram.image import open_image, resize_long_side, to_tensor
    from stylegram.transfer.stylize import _upsample

    photo = to_tensor(resize_long_side(open_image(content_path), 128))
    mix = torch.tensor([[0.3, 0.1, 0.0], [0.0, 0.4, 0.1], [0.1, 0.0, 0.2]])
    recoloured = torch.einsum("ij,bjhw->bihw", mix, photo) + 0.05  # dusk: darker, less contrast
    small = F.interpolate(recoloured, scale_factor=0.5, mode="bilinear", antialias=True)
    guided = photoreal.guided_upsample(small, photo)
    plain = _upsample(small, photo)
    err_guided = float((guided - recoloured).abs().mean())
    err_plain = float((plain - recoloured).abs().mean())
    assert err_guided < 0.3 * err_plain, (err_guided, err_plain)
    assert photoreal.local_affine_residual(guided, photo) < 0.1 * photoreal.local_affine_residual(
        plain, photo
    )


def test_the_preset_sets_the_weights_layers_and_steps_the_user_left_alone():
    from stylegram import StyleConfig
    from stylegram.transfer.config import PHOTO_PRESET, PHOTO_STYLE_LAYERS, style_layers, weight
    from stylegram.transfer.schedule import schedule
    from stylegram.vgg import STYLE_LAYERS

    assert style_layers(StyleConfig(photorealistic=True)) == PHOTO_STYLE_LAYERS
    assert style_layers(StyleConfig()) == STYLE_LAYERS
    mine = ("relu2_1", "relu5_1")
    assert style_layers(StyleConfig(photorealistic=True, style_layers=mine)) == mine

    photo_steps = schedule(StyleConfig(photorealistic=True), (400, 300), min_side=32)
    assert photo_steps == [(128, 40, 0), (256, 25, 0), (512, 30, 0)]  # no texture steps
    given = StyleConfig(photorealistic=True, iterations=73)
    assert schedule(given, (400, 300), min_side=32) == [(128, 31, 0), (256, 19, 0), (512, 23, 0)]

    photo, painting = StyleConfig(photorealistic=True), StyleConfig()
    for name in ("content_weight", "style_weight", "photo_weight"):
        assert weight(photo, name) == PHOTO_PRESET[name]
    assert (weight(painting, "content_weight"), weight(painting, "style_weight")) == (1, 1)
    assert weight(painting, "photo_weight") == 0
    assert weight(StyleConfig(photorealistic=True, style_weight=2.0), "style_weight") == 2


def test_photo_to_photo_starts_from_the_photo_recoloured_to_the_styles_colours(vgg, content_path):
    """With no step taken, --photorealistic gives its start: the photo with the reference's
    colour mean, and still locally an affine recolouring of the photo; a painting run's start
    is the photo itself."""
    from stylegram import StyleConfig, stylize
    from stylegram.image import open_image, resize_long_side, to_tensor
    from tests.conftest import DATA

    reference = DATA / "photos" / "coffee.jpg"
    photo = to_tensor(resize_long_side(open_image(content_path), 96))
    ref = to_tensor(open_image(reference))
    base = dict(size=96, iterations=0, scales=1, seed=0)
    start = to_tensor(
        stylize(content_path, reference, StyleConfig(**base, photorealistic=True), model=vgg)
    )
    plain = to_tensor(stylize(content_path, reference, StyleConfig(**base), model=vgg))
    assert float((plain - photo).abs().max()) <= 1 / 255
    mean = lambda x: x.mean(dim=(0, 2, 3))  # noqa: E731
    assert (
        float((mean(start) - mean(ref)).abs().max())
        < 0.03
        < float((mean(photo) - mean(ref)).abs().max())
    )
    assert photoreal.local_affine_residual(start, photo) < 0.01


def test_a_reference_of_another_scene_is_not_drawn_into_the_photo(vgg):
    """The coffee takes the look of a rocket at dusk: the preset (style at relu1_1 to relu3_1)
    keeps more of the photo than Gatys's five style layers, which draw the launch pad into the
    cup (docs/photo.md)."""
    from PIL import Image

    from stylegram import StyleConfig, stylize
    from stylegram.transfer.quality import gaps
    from stylegram.vgg import STYLE_LAYERS
    from tests.conftest import DATA

    photo, reference = DATA / "photos" / "coffee.jpg", DATA / "photos" / "rocket.jpg"
    content_gap = {}
    for name, layers in (("preset", None), ("five", STYLE_LAYERS)):
        config = StyleConfig(photorealistic=True, size=96, seed=0, style_layers=layers)
        out = stylize(photo, reference, config, model=vgg)
        content_gap[name] = gaps(vgg, out, Image.open(photo), Image.open(reference)).content
    assert content_gap["preset"] < 0.9 * content_gap["five"], content_gap
