"""Artist controls: colour preservation and spatial masks (Gatys et al. 2017)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from stylegram import StyleConfig, stylize
from stylegram.image import to_tensor
from stylegram.transfer.color import (
    match_color_histogram,
    match_regions,
    rgb_to_yiq,
    yiq_to_rgb,
)
from stylegram.transfer.losses import mean_gram
from stylegram.transfer.masks import normalise_overlaps, parse_style_masks

QUICK = dict(size=96, scales=1, iterations=40, seed=0)


def test_yiq_round_trips():
    x = torch.rand(1, 3, 8, 8)
    torch.testing.assert_close(yiq_to_rgb(rgb_to_yiq(x)), x, atol=1e-5, rtol=0)


def test_luminance_mode_keeps_the_contents_chroma(vgg, small_content, small_style):
    out = stylize(
        small_content, [small_style], StyleConfig(**QUICK, preserve_colors="luminance"), model=vgg
    )
    photo = to_tensor(small_content.resize(out.size, Image.LANCZOS))
    iq_out, iq_photo = rgb_to_yiq(to_tensor(out))[:, 1:], rgb_to_yiq(photo)[:, 1:]
    # Only clipping to [0, 1] and 8-bit rounding may move the chroma.
    assert float((iq_out - iq_photo).abs().mean()) < 0.01
    # ...while the luminance did change: the style was applied.
    y_out, y_photo = rgb_to_yiq(to_tensor(out))[:, :1], rgb_to_yiq(photo)[:, :1]
    assert float((y_out - y_photo).abs().mean()) > 0.03


def _mean_cov(x: torch.Tensor):
    flat = x.double().flatten(2)[0]
    mean = flat.mean(1)
    centred = flat - mean[:, None]
    return mean, centred @ centred.T / flat.shape[1]


def test_histogram_mode_gives_the_style_the_contents_colour_statistics(small_content, small_style):
    content, style = to_tensor(small_content), to_tensor(small_style)
    recoloured = match_color_histogram(style, content)
    (m_r, c_r), (m_c, c_c), (m_s, _) = _mean_cov(recoloured), _mean_cov(content), _mean_cov(style)
    assert float((m_r - m_c).abs().max()) < 0.01 < float((m_s - m_c).abs().max())
    assert float((c_r - c_c).abs().max()) < 0.1 * float(c_c.abs().max())


def test_regions_take_the_colours_of_their_partners_and_the_rest_keeps_the_photo(
    small_content, small_style
):
    """match_regions, where photo to photo starts: the photo's left third takes the colour
    statistics of the style's top half, its middle third those of the bottom half, and its
    right third, in no region, stays the photo."""
    photo, style = to_tensor(small_content), to_tensor(small_style)
    (_, _, h, w), (sh, sw) = photo.shape, style.shape[-2:]
    third = w // 3
    left, middle = torch.zeros(1, 1, h, w), torch.zeros(1, 1, h, w)
    left[..., :third], middle[..., third : 2 * third] = 1, 1
    top, bottom = torch.zeros(1, 1, sh, sw), torch.zeros(1, 1, sh, sw)
    top[..., : sh // 2, :], bottom[..., sh // 2 :, :] = 1, 1
    out = match_regions(photo, [(style, left, top, 1.0), (style, middle, bottom, 1.0)])
    halves = ((slice(0, third), slice(0, sh // 2)), (slice(third, 2 * third), slice(sh // 2, sh)))
    for cols, rows in halves:
        (m_o, c_o), (m_s, c_s) = _mean_cov(out[..., cols]), _mean_cov(style[..., rows, :])
        m_p, c_p = _mean_cov(photo[..., cols])
        # Clipping to [0, 1] moves them a little (the covariance by up to a quarter here).
        assert float((m_o - m_s).abs().max()) < 0.02 < float((m_p - m_s).abs().max())
        assert float((c_o - c_s).abs().max()) < 0.5 * float((c_p - c_s).abs().max())
    torch.testing.assert_close(out[..., 2 * third :], photo[..., 2 * third :])
    assert float((out[..., :third] - photo[..., :third]).abs().mean()) > 0.05


def test_histogram_mode_runs_and_changes_the_result(vgg, small_content, small_style):
    plain = stylize(small_content, [small_style], StyleConfig(**QUICK), model=vgg)
    kept = stylize(
        small_content, [small_style], StyleConfig(**QUICK, preserve_colors="histogram"), model=vgg
    )
    m_plain, m_kept, m_photo = (
        _mean_cov(to_tensor(im.resize(plain.size)))[0] for im in (plain, kept, small_content)
    )
    assert float((m_kept - m_photo).abs().sum()) < float((m_plain - m_photo).abs().sum())


def _half_masks(tmp_path, size):
    w, h = size
    left, right = Image.new("L", (w, h), 0), Image.new("L", (w, h), 0)
    left.paste(255, (0, 0, w // 2, h))
    right.paste(255, (w // 2, 0, w, h))
    # Saved at another size on purpose: masks are resized to the content.
    paths = [tmp_path / "left.png", tmp_path / "right.png"]
    left.resize((w * 2, h * 2)).save(paths[0])
    right.resize((w * 2, h * 2)).save(paths[1])
    return paths


def _region_distance(vgg, image, style, box) -> float:
    layers = ("relu1_1", "relu2_1", "relu3_1")
    crop = to_tensor(image.crop(box))
    s = to_tensor(style.resize(image.size))
    with torch.no_grad():
        a, b = vgg(crop, layers), vgg(s, layers)
    # Divided by the region's own Gram energy, so the two styles are measured on one scale.
    return sum(
        float((mean_gram(a[n]) - mean_gram(b[n])).pow(2).sum() / mean_gram(a[n]).pow(2).sum())
        for n in layers
    )


def test_two_styles_each_paint_their_own_half(vgg, small_content, data, tmp_path):
    starry = Image.open(data / "paintings" / "starry_night.jpg").convert("RGB").resize((96, 60))
    scream = Image.open(data / "paintings" / "the_scream.jpg").convert("RGB").resize((76, 96))
    left, right = _half_masks(tmp_path, small_content.size)
    config = StyleConfig(
        **{**QUICK, "size": 128, "iterations": 60}, style_masks=(f"0={left}", f"1={right}")
    )
    out = stylize(small_content, [starry, scream], config, model=vgg)
    w, h = out.size
    left_box, right_box = (0, 0, w // 2, h), (w // 2, 0, w, h)
    assert _region_distance(vgg, out, starry, left_box) < _region_distance(
        vgg, out, scream, left_box
    )
    assert _region_distance(vgg, out, scream, right_box) < _region_distance(
        vgg, out, starry, right_box
    )


def test_outside_every_mask_the_content_stays(vgg, small_content, small_style, tmp_path):
    w, h = small_content.size
    mask = Image.new("L", (w, h), 0)
    mask.paste(255, (0, 0, w // 2, h))
    mask.save(tmp_path / "left.png")
    out = stylize(
        small_content,
        [small_style],
        StyleConfig(**QUICK, style_masks=(f"0={tmp_path / 'left.png'}",)),
        model=vgg,
    )
    photo = to_tensor(small_content.resize(out.size))
    diff = (to_tensor(out) - photo).abs().mean(dim=(0, 1))  # (H, W)
    half = out.size[0] // 2
    assert float(diff[:, half + 8 :].mean()) < 0.5 * float(diff[:, : half - 8].mean())


def test_overlapping_masks_are_scaled_to_sum_to_one():
    a, b = torch.full((1, 1, 2, 2), 0.8), torch.full((1, 1, 2, 2), 0.6)
    a[..., 0, 0], b[..., 0, 0] = 0.3, 0.2  # sums to 0.5 here: left alone
    na, nb = normalise_overlaps([a, b])
    torch.testing.assert_close(na + nb, torch.tensor([[[[0.5, 1.0], [1.0, 1.0]]]]))
    assert float(na[..., 1, 1] / nb[..., 1, 1]) == pytest.approx(0.8 / 0.6)


@pytest.mark.parametrize(
    "specs, n, message",
    [
        (["sky.png"], 1, "is not INDEX=MASK.png"),
        (["2=sky.png"], 2, "names style 2, but the styles are numbered 0 to 1"),
        (["0=a.png", "0=b.png"], 2, "style 0 has two masks"),
        (["0=a.png"], 2, r"give a mask for every style or for none; style\(s\) \[1\] have none"),
    ],
)
def test_bad_mask_specs(specs, n, message):
    with pytest.raises(ValueError, match=message):
        parse_style_masks(specs, n)


def test_when_every_style_mask_is_empty_nothing_would_be_painted(
    vgg, small_content, small_style, tmp_path
):
    Image.new("L", (40, 30), 0).save(tmp_path / "black.png")
    with pytest.raises(ValueError, match="every style mask is empty: '.*black.png' have no pixel"):
        stylize(
            small_content,
            [small_style],
            StyleConfig(**QUICK, style_masks=(f"0={tmp_path / 'black.png'}",)),
            model=vgg,
        )


def test_a_style_scale_error_names_the_painting_it_is_about(vgg, small_content, data, tmp_path):
    """With an unpainted painting left out, the paintings that remain keep their own names."""
    wide = Image.open(data / "paintings" / "starry_night.jpg").convert("RGB").resize((200, 40))
    wide.save(tmp_path / "wide.png")
    Image.new("L", small_content.size, 0).save(tmp_path / "black.png")
    Image.new("L", small_content.size, 255).save(tmp_path / "white.png")
    config = StyleConfig(
        **{**QUICK, "style_scale": 0.3},
        style_masks=(f"0={tmp_path / 'black.png'}", f"1={tmp_path / 'white.png'}"),
    )
    painting = data / "paintings" / "the_scream.jpg"
    with pytest.raises(ValueError, match=r"makes style image '.*wide.png'"):
        stylize(small_content, [painting, tmp_path / "wide.png"], config, model=vgg)


def test_a_style_with_an_empty_mask_paints_nowhere(vgg, small_content, small_style, data, tmp_path):
    """Two paintings, one mask painted (the studio's unpainted painting): the picture is the one
    painting alone under its mask, to the bit. The CLI and the studio share this rule."""
    scream = Image.open(data / "paintings" / "the_scream.jpg").convert("RGB").resize((76, 96))
    left, _ = _half_masks(tmp_path, small_content.size)
    Image.new("L", small_content.size, 0).save(tmp_path / "black.png")
    both = StyleConfig(**QUICK, style_masks=(f"0={left}", f"1={tmp_path / 'black.png'}"))
    alone = StyleConfig(**QUICK, style_masks=(f"0={left}",))
    with_unpainted = stylize(small_content, [small_style, scream], both, model=vgg)
    np.testing.assert_array_equal(
        np.asarray(with_unpainted),
        np.asarray(stylize(small_content, [small_style], alone, model=vgg)),
    )


def test_the_content_mask_keeps_the_content_only_where_it_is_white(
    vgg, small_content, small_style, tmp_path
):
    w, h = small_content.size
    mask = Image.new("L", (w, h), 0)
    mask.paste(255, (0, 0, w // 2, h))
    mask.save(tmp_path / "keep_left.png")
    config = StyleConfig(**QUICK, content_weight=5.0, content_mask=str(tmp_path / "keep_left.png"))
    out = stylize(small_content, [small_style], config, model=vgg)
    photo = to_tensor(small_content.resize(out.size))
    diff = (to_tensor(out) - photo).abs().mean(dim=(0, 1))  # (H, W)
    half = out.size[0] // 2
    # Left: content and style compete; right: style alone, so the photo is lost there.
    assert float(diff[:, : half - 8].mean()) < 0.7 * float(diff[:, half + 8 :].mean())
