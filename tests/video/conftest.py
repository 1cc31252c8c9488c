"""Synthetic clips made in the tests: a pan and a zoom over a bundled photo, with a moving disc."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

av = pytest.importorskip("av")
pytest.importorskip("cv2")

SIZE = (96, 64)  # (W, H) of the clips
FPS = Fraction(12)
PAN = 4  # px per frame, the camera moving right: content moves left


def pan_frames(
    photo: Path, n: int = 5, size=SIZE, zoom: float = 0.0, disc: bool = True
) -> list[Image.Image]:
    """`n` frames of a camera panning right by PAN px a frame (and zooming in by `zoom` a frame)
    over `photo`, with a red disc moving down-right over the scene."""
    w, h = size
    big = (
        Image.open(photo)
        .convert("RGB")
        .resize((w + PAN * n + 8, round((w + PAN * n + 8) * h / w) + 8))
    )
    frames = []
    for k in range(n):
        s = 1 - zoom * k
        cw, ch = w * s, h * s
        x0, y0 = 4 + PAN * k + (w - cw) / 2, 4 + (h - ch) / 2
        im = big.crop((round(x0), round(y0), round(x0 + cw), round(y0 + ch))).resize(
            size, Image.BICUBIC
        )
        if disc:
            cx, cy = 20 + 6 * k, 18 + 3 * k
            ImageDraw.Draw(im).ellipse((cx - 9, cy - 9, cx + 9, cy + 9), fill=(220, 30, 30))
        frames.append(im)
    return frames


def write_clip(
    frames: list[Image.Image],
    path: Path,
    fps: Fraction = FPS,
    *,
    audio: bool = True,
    video: bool = True,
) -> Path:
    """An MP4 (H.264, yuv420p) of `frames`, with a 440 Hz AAC tone as long as the video."""
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=fps) if video else None
        if vs is not None:
            vs.width, vs.height = frames[0].size
            vs.pix_fmt = "yuv420p"
        a_s = out.add_stream("aac", rate=44100) if audio else None
        if vs is not None:  # every frame's packets, then the encoder's last ones
            out.mux(
                [p for im in frames for p in vs.encode(av.VideoFrame.from_image(im))]
                + list(vs.encode())
            )
        if a_s is not None:
            n = round(44100 * len(frames) / fps)
            tone = (0.2 * np.sin(2 * np.pi * 440 * np.arange(n) / 44100)).astype(np.float32)
            pts = 0
            for i in range(0, n, 1024):
                chunk = tone[None, i : i + 1024]
                frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
                frame.sample_rate, frame.pts = 44100, pts
                pts += chunk.shape[1]
                for packet in a_s.encode(frame):
                    out.mux(packet)
            for packet in a_s.encode():
                out.mux(packet)
    return path


@pytest.fixture(scope="session")
def photo(data) -> Path:
    return data / "photos" / "coffee.jpg"


@pytest.fixture(scope="session")
def clip_frames(photo) -> list[Image.Image]:
    return pan_frames(photo, n=5, zoom=0.02)


@pytest.fixture(scope="session")
def clip(clip_frames, tmp_path_factory) -> Path:
    return write_clip(clip_frames, tmp_path_factory.mktemp("clip") / "pan.mp4")
