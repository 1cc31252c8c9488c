"""Semantic pairing for photo to photo (transfer/segmentation.py): the paper's colour code read
from drawn files, antialiased edges included, and each photo region painted from its partner."""

from __future__ import annotations

import pytest
import torch
from PIL import Image, ImageFilter

from stylegram.transfer import segmentation


def drawn(path, size, top, bottom, blur: float = 0.0):
    """A segmentation: `top` colour above the middle, `bottom` below, edges blurred by `blur`."""
    im = Image.new("RGB", size, bottom)
    im.paste(top, (0, 0, size[0], size[1] // 2))
    if blur:
        im = im.filter(ImageFilter.GaussianBlur(blur))
    im.save(path)
    return path


def test_antialiased_edges_go_to_the_nearest_colour_and_regions_partition(tmp_path):
    path = drawn(tmp_path / "s.png", (40, 30), (0, 0, 255), (255, 255, 255), blur=1.5)
    regions = segmentation.read_segmentation(path, (40, 30))
    assert set(regions) == {"blue", "white"}  # the blur's in-between colours are no region
    total = sum(regions.values())
    assert torch.equal(total, torch.ones_like(total))  # every pixel in exactly one region
    column = regions["blue"][0, 0, :, 20]
    assert column[:13].eq(1).all() and column[17:].eq(0).all()  # split near the middle
    # A black and white edge passes through grey itself: still no grey region.
    path = drawn(tmp_path / "bw.png", (40, 30), (0, 0, 0), (255, 255, 255), blur=1.5)
    assert set(segmentation.read_segmentation(path, (40, 30))) == {"black", "white"}


def test_a_segmentation_in_the_images_proportions_is_resized_to_it(tmp_path):
    """The paper's pair 7 has a 512×287 segmentation for a 512×288 photo; half size is fine too."""
    for size in [(40, 29), (20, 15), (40, 30)]:
        regions = segmentation.read_segmentation(
            drawn(tmp_path / "s.png", size, (0, 0, 255), (255, 255, 255)), (40, 30)
        )
        assert regions["blue"].shape == (1, 1, 30, 40)
        assert abs(float(regions["blue"].mean()) - 0.5) < 0.04  # the upper half, give or take a row
    with pytest.raises(ValueError, match="is 40×20 but its image is 40×30"):
        segmentation.read_segmentation(
            drawn(tmp_path / "s.png", (40, 20), (0, 0, 255), (255, 255, 255)), (40, 30)
        )


def test_a_colour_only_the_photo_has_keeps_the_photo_and_one_only_the_style_has_is_unused(
    tmp_path,
):
    photo = segmentation.read_segmentation(
        drawn(tmp_path / "p.png", (20, 20), (0, 255, 0), (0, 0, 255)), (20, 20)
    )
    style = segmentation.read_segmentation(
        drawn(tmp_path / "s.png", (30, 10), (255, 0, 0), (0, 0, 255)), (30, 10)
    )
    pairs = segmentation.pair(photo, style, ("p.png", "s.png"))
    assert [p.colour for p in pairs] == ["blue"]
    assert pairs[0].photo.shape == (1, 1, 20, 20) and pairs[0].style.shape == (1, 1, 10, 30)


def test_each_photo_region_takes_the_look_of_its_partner(vgg, tmp_path, content_path):
    """A style image red on top and green below, segmented the other way round from the photo:
    the photo's top (blue in both segmentations) must come out greener than its bottom."""
    from stylegram import StyleConfig, stylize
    from stylegram.image import to_tensor

    photo = Image.open(content_path).convert("RGB").resize((96, 64))
    photo.save(tmp_path / "photo.png")
    style = Image.new("RGB", (96, 64), (200, 30, 30))
    style.paste((30, 170, 40), (0, 32, 96, 64))
    style = style.filter(ImageFilter.GaussianBlur(0.5))
    style.save(tmp_path / "style.png")
    # The photo's top is blue and pairs with the style's green bottom; white pairs with red.
    drawn(tmp_path / "seg_photo.png", (96, 64), (0, 0, 255), (255, 255, 255))
    drawn(tmp_path / "seg_style.png", (96, 64), (255, 255, 255), (0, 0, 255))
    config = StyleConfig(
        size=96,
        iterations=30,
        scales=1,
        seed=0,
        content_weight=0.1,
        content_seg=str(tmp_path / "seg_photo.png"),
        style_seg=str(tmp_path / "seg_style.png"),
    )
    out = to_tensor(stylize(tmp_path / "photo.png", tmp_path / "style.png", config, model=vgg))
    top, bottom = out[0, :, :28].mean((1, 2)), out[0, :, 36:].mean((1, 2))
    green = lambda rgb: float(rgb[1] - rgb[0])  # noqa: E731
    assert green(top) > green(bottom) + 0.2, (top, bottom)


@pytest.mark.parametrize("missing", ["content_seg", "style_seg"])
def test_one_segmentation_alone_is_refused(missing):
    from stylegram import StyleConfig

    given = {"content_seg": "a.png", "style_seg": "b.png"}
    del given[missing]
    with pytest.raises(ValueError, match=f"{missing} is needed too"):
        StyleConfig(**given)


@pytest.mark.parametrize("unpaired", [None, "style", "photo"])
def test_the_regions_targets_add_up_to_the_style_images_paired_part(
    vgg, tmp_path, content_path, style_path, unpaired
):
    """Luan et al.'s augmented style loss: each region's Gram is taken over the whole layer, so
    the targets, each weighted by the share of the photo its region covers, add up to the
    style image's own Gram, whatever the regions' shares in the two images (here the photo's
    blue region is a quarter of it, the style's half). With a colour only one image has (a
    red quarter), the unpaired colour does not dim the others: in the style image, the targets
    add up to the Gram of the rest of it, the paired part; in the photo, which keeps its own
    look there, to the style's Gram times the share of the photo that is paired. And every
    region's cost is relative to the style image's whole Gram energy."""
    from stylegram import StyleConfig
    from stylegram.gram import mean_gram
    from stylegram.image import to_tensor
    from stylegram.transfer.stylize import _open_inputs, _share, _style_grams

    Image.open(content_path).convert("RGB").resize((96, 64)).save(tmp_path / "photo.png")
    style = Image.open(style_path).convert("RGB").resize((96, 64))
    style.save(tmp_path / "style.png")
    seg = Image.new("RGB", (96, 64), "white")
    seg.paste((0, 0, 255), (0, 0, 96, 16))
    seg.save(tmp_path / "seg_photo.png")
    drawn(tmp_path / "seg_style.png", (96, 64), (255, 255, 255), (0, 0, 255))
    paired = torch.ones(1, 1, 64, 96)
    if unpaired is not None:
        name = tmp_path / f"seg_{unpaired}.png"
        seg = Image.open(name)
        seg.paste((255, 0, 0), (72, 0, 96, 64))
        seg.save(name)
    if unpaired == "style":
        paired[..., 72:] = 0
    config = StyleConfig(
        size=96,
        content_seg=str(tmp_path / "seg_photo.png"),
        style_seg=str(tmp_path / "seg_style.png"),
    )
    inputs = _open_inputs(tmp_path / "photo.png", [tmp_path / "style.png"], config, need=32)
    targets, norms = _style_grams(vgg, inputs, 96, config, None, torch.device("cpu"))
    shares = [_share(m) for m in inputs.style_masks]
    photo_paired = 0.75 if unpaired == "photo" else 1.0
    assert sorted(round(s / photo_paired, 2) for s in shares) == [0.25, 0.75]
    whole = vgg(to_tensor(style), ["relu1_1"])["relu1_1"]
    expected = photo_paired * mean_gram(whole, paired)[0]
    added = sum(s * t["relu1_1"] for s, t in zip(shares, targets, strict=True))
    error = float((added - expected).norm() / expected.norm())
    assert error < 0.02, error
    # Every region's cost is relative to the whole style image's Gram energy, not its own.
    energy = float(mean_gram(whole)[0].pow(2).sum())
    for norm in norms:
        assert norm is not None and abs(float(norm["relu1_1"]) / energy - 1) < 1e-3


def test_a_region_only_the_photo_has_keeps_the_photo_in_photo_to_photo(vgg, data):
    """The README's portraits: the astronaut's backdrop and flag pair with Grace Hopper's, and
    the astronaut herself (green) has no partner (Hopper is drawn in yellow). Photorealistic,
    she must come out as the photo while the backdrop takes the reference's blue. Without the
    photorealism term's hold (photoreal.photo_term's `held`) the neighbouring regions' Grams,
    whose receptive fields reach over her edge, recoloured her (a mean change of 0.026 here), and
    at 384 px a green face."""
    from stylegram import StyleConfig, stylize
    from stylegram.image import open_image, resize_long_side, to_tensor

    photos = data / "photos"
    config = StyleConfig(
        size=128,
        iterations=30,
        scales=1,
        seed=0,
        photorealistic=True,
        content_seg=str(photos / "astronaut_seg.png"),
        style_seg=str(photos / "grace_hopper_seg.png"),
    )
    out = to_tensor(
        stylize(photos / "astronaut.jpg", photos / "grace_hopper.jpg", config, model=vgg)
    )
    photo = to_tensor(resize_long_side(open_image(photos / "astronaut.jpg"), 128))
    regions = segmentation.read_segmentation(photos / "astronaut_seg.png", (128, 128))
    person, backdrop = regions["green"][0, 0].bool(), regions["blue"][0, 0].bool()
    change = (out - photo).abs().mean(1)[0]  # (H, W)
    blueness = (out[0, 2] - out[0, 0])[backdrop].mean() - (photo[0, 2] - photo[0, 0])[
        backdrop
    ].mean()
    assert float(blueness) > 0.1  # the backdrop took the reference's blue
    assert float(change[person].mean()) < 0.005, float(change[person].mean())  # she kept the photo
