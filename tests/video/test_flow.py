"""Flow, warping and the consistency map on clips whose motion is known exactly."""

from __future__ import annotations

import numpy as np

from stylegram.video.flow import consistency, flow, warp
from stylegram.video.temporal import to_array

from .conftest import PAN, SIZE, pan_frames


def test_warp_is_exact_for_a_known_translation(photo):
    a = to_array(pan_frames(photo, n=1, disc=False)[0])  # (H, W, 3)
    dx, dy = 3, 2
    moved = np.zeros_like(a)
    moved[dy:, dx:] = a[:-dy, :-dx]  # the content moved by (dx, dy): moved(x) = a(x − d)
    f = np.broadcast_to(np.array([-dx, -dy], np.float32), a.shape[:2] + (2,))  # moved -> a
    np.testing.assert_array_equal(warp(a, f)[dy:, dx:], moved[dy:, dx:])


def test_dis_flow_finds_the_pan_and_warps_back(photo):
    frames = [to_array(im) for im in pan_frames(photo, n=2, disc=False)]
    back = flow(frames[1], frames[0])  # frame 1(x) = frame 0(x + PAN): the camera went right
    inner = back[8:-8, 8 : -8 - PAN]
    assert abs(np.median(inner[..., 0]) - PAN) < 0.25 and abs(np.median(inner[..., 1])) < 0.25
    err = np.abs(warp(frames[0], back) - frames[1])[8:-8, 8 : -8 - PAN].mean()
    assert err < 0.03, err


def test_consistency_marks_the_disoccluded_band_and_the_disc_trail(photo):
    frames = [to_array(im) for im in pan_frames(photo, n=2)]
    back, fwd = flow(frames[1], frames[0]), flow(frames[0], frames[1])
    c = consistency(back, fwd)
    h, w = c.shape
    assert c.shape == (SIZE[1], SIZE[0]) and c.min() >= 0 and c.max() <= 1
    # The camera pans right, frame 1(x) = frame 0(x + PAN): its rightmost PAN columns are new.
    band = c[:, w - PAN :]
    assert band.mean() < 0.1, band.mean()
    background = c[40:, 50 : w - PAN - 4]  # far from the disc and the band
    assert background.mean() > 0.9, background.mean()
    # Background that the disc covered in frame 0 (centre (20, 18) then, seen PAN px to the left
    # in frame 1) and uncovers in frame 1 (centre (26, 21)): mostly marked unreliable.
    ys, xs = np.mgrid[0:h, 0:w]
    was_hidden = (xs - (20 - PAN)) ** 2 + (ys - 18) ** 2 <= 7**2
    still_hidden = (xs - 26) ** 2 + (ys - 21) ** 2 <= 11**2
    assert c[was_hidden & ~still_hidden].mean() < 0.5
    # With the photometric check the trail is cut out entirely (the warp would drag the disc).
    c_photo = consistency(back, fwd, frames=(frames[1], frames[0]))
    assert c_photo[was_hidden & ~still_hidden].mean() < 0.05
    assert c_photo[40:, 50 : w - PAN - 4].mean() > 0.9


def test_warping_error_is_zero_for_the_input_and_grows_with_flicker(photo):
    from PIL import Image

    from stylegram.video.quality import warping_error

    frames = pan_frames(photo, n=3)
    assert warping_error(frames, frames) < 2e-4  # bilinear resampling only
    rng = np.random.default_rng(0)
    noisy = [
        Image.fromarray(
            np.clip(
                np.asarray(im, float) + rng.normal(0, 20, (SIZE[1], SIZE[0], 3)), 0, 255
            ).astype(np.uint8)
        )
        for im in frames
    ]
    # Independent noise of σ = 20/255 in each frame: E ≈ 2σ² = 0.0123, a little less where the
    # bilinear warp of a sub-pixel flow averages the previous frame's noise.
    assert 0.7 * 2 * (20 / 255) ** 2 < warping_error(noisy, frames) < 1.05 * 2 * (20 / 255) ** 2
