"""`stylegram video` end to end on a tiny clip with audio, and every bad input as one line."""

from __future__ import annotations

import pytest

from stylegram.cli import main

from .conftest import FPS, write_clip
from .test_io import streams

TINY = [
    "--size",
    "64",
    "--scales",
    "1",
    "--iterations",
    "2",
    "--frame-iterations",
    "1",
    "--seed",
    "0",
    "-q",
]


def test_video_end_to_end_keeps_frames_ratio_rate_duration_and_audio(
    clip, style_path, tmp_path, capsys
):
    out = tmp_path / "out.mp4"
    assert (
        main(
            ["video", str(clip), str(style_path), "-o", str(out), "--duration", str(4 / 12), *TINY]
        )
        == 0
    )
    n, size, rate, audio, audio_seconds, pix_fmt, codec = streams(out)
    assert (n, size, rate, audio, pix_fmt, codec) == (4, (64, 42), FPS, ["aac"], "yuv420p", "h264")
    assert pytest.approx(size[0] / size[1], rel=0.02) == 96 / 64
    # 1/3 s of picture and of sound, to the AAC packet (1024 samples = 23 ms, and the priming packet).
    assert n / rate == pytest.approx(audio_seconds, abs=0.05)
    assert sorted(p.name for p in (tmp_path / "out.mp4.frames" / "pass1").iterdir()) == [
        "00001.png",
        "00002.png",
        "00003.png",
        "00004.png",
    ]
    # Run again: every frame is found in the work folder and nothing is stylised anew.
    assert (
        main(
            [
                "video",
                str(clip),
                str(style_path),
                "-o",
                str(out),
                "--duration",
                str(4 / 12),
                *TINY[:-1],
            ]
        )
        == 0
    )
    assert "resuming: 4 of 4 frames" in capsys.readouterr().err
    # Another job in the same work folder is refused before any work.
    assert main(["video", str(clip), str(style_path), "-o", str(out), *TINY]) == 1
    assert "holds frames of another job" in capsys.readouterr().err


@pytest.mark.parametrize(
    "case, message",
    [
        ("text", "not a video FFmpeg can read"),
        ("sound", "has no video stream"),
        ("avi", "cannot write '.avi'"),
        ("late", "--start 9 s is past the end"),
        ("negative", "--temporal-weight must be at least 0, not -1.0"),
        ("luminance", "--preserve-colors luminance cannot be combined with a temporal loss"),
        ("segmentation", "--content-seg is drawn for one photo; the frames of a video cannot"),
    ],
)
def test_bad_input_is_one_line_before_any_work(
    case, message, clip, clip_frames, style_path, tmp_path, capsys
):
    source, out, extra = clip, tmp_path / "out.mp4", []
    if case == "text":
        source = tmp_path / "notes.mp4"
        source.write_text("hello\n" * 100)
    elif case == "sound":
        source = write_clip(clip_frames, tmp_path / "sound.m4a", video=False)
    elif case == "avi":
        out = tmp_path / "out.avi"
    else:
        extra = {
            "late": ["--start", "9"],
            "negative": ["--temporal-weight", "-1"],
            "luminance": ["--preserve-colors", "luminance"],
            "segmentation": ["--content-seg", str(style_path), "--style-seg", str(style_path)],
        }[case]
    assert main(["video", str(source), str(style_path), "-o", str(out), *extra, *TINY]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("stylegram: error: ") and message in err, err
    assert not list(tmp_path.glob("*.frames"))  # no work folder: nothing was started
