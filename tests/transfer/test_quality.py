"""The content and style gaps that back the README's and the benchmarks' quality figures."""

from __future__ import annotations

import pytest

from stylegram.transfer.quality import gaps


def test_the_content_itself_has_content_gap_zero_and_style_gap_one(vgg, small_content, small_style):
    # By definition: the style gap is ‖Ĝ(out) − Ĝ(S)‖² / ‖Ĝ(C) − Ĝ(S)‖², which is 1 for out = C.
    g = gaps(vgg, small_content, small_content, small_style)
    assert g.content == pytest.approx(0.0, abs=1e-6)
    assert g.style == pytest.approx(1.0, rel=1e-4)


def test_the_painting_itself_is_far_from_the_content_and_close_to_the_style(
    vgg, small_content, small_style
):
    painting = small_style.resize(small_content.size)
    g = gaps(vgg, painting, small_content, small_style)
    assert g.content > 0.5
    assert g.style < 0.2


def test_a_half_way_blend_lies_between_the_photo_and_the_painting(vgg, small_content, small_style):
    from PIL import Image

    painting = small_style.resize(small_content.size)
    blend = Image.blend(small_content, painting, 0.5)
    photo_g, blend_g, painting_g = (
        gaps(vgg, im, small_content, small_style) for im in (small_content, blend, painting)
    )
    assert photo_g.content < blend_g.content < painting_g.content
    assert painting_g.style < blend_g.style < photo_g.style
