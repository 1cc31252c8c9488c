"""Clips in and out: frame count, size, rate, duration and audio survive; bad inputs fail early."""

from __future__ import annotations

from fractions import Fraction

import av
import pytest
from PIL import Image

from stylegram.video import io

from .conftest import FPS, SIZE, write_clip


def streams(path):
    """Frames, size, rate, audio codecs, audio seconds, pixel format and codec of a file."""
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        facts = [
            (v.codec_context.width, v.codec_context.height),
            v.average_rate,
            v.codec_context.pix_fmt,
            v.codec_context.name,
        ]
        frames = sum(1 for _ in c.decode(v))
    with av.open(str(path)) as c:
        audio = [s.codec_context.name for s in c.streams.audio]
        seconds = (
            sum(float(p.duration * p.time_base) for p in c.demux(c.streams.audio[0]) if p.duration)
            if audio
            else 0.0
        )
    size, rate, pix_fmt, codec = facts
    return frames, size, rate, audio, seconds, pix_fmt, codec


def test_probe_and_read_a_clip(clip):
    info = io.probe(clip)
    assert info.size == SIZE and info.fps == FPS and info.has_audio
    assert info.duration == pytest.approx(5 / 12, abs=0.02)
    frames = io.read(info, (48, 32))
    assert len(frames) == 5 and frames[0].size == (48, 32)
    assert len(io.read(info, (48, 32), start=2 / 12, duration=2 / 12)) == 2


def test_mp4_out_keeps_count_rate_duration_and_audio(clip, tmp_path):
    info = io.probe(clip)
    frames = io.read(info, io.working_size(info.size, 64))
    assert frames[0].size == (64, 42)  # 96×64 at 64 px, both sides even for yuv420p
    out = tmp_path / "out.mp4"
    assert io.write(frames, out, info.fps, audio_from=info) == []
    n, size, rate, audio, audio_seconds, pix_fmt, codec = streams(out)
    assert (n, size, rate, audio, pix_fmt, codec) == (5, (64, 42), FPS, ["aac"], "yuv420p", "h264")
    assert audio_seconds == pytest.approx(streams(clip)[4])  # the packets, copied
    assert audio_seconds == pytest.approx(5 / 12, abs=0.05)
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind


def test_part_of_a_clip_takes_its_part_of_the_audio(clip, tmp_path):
    info = io.probe(clip)
    frames = io.read(info, SIZE, start=1 / 12, duration=3 / 12)
    out = io.write(
        frames, tmp_path / "part.mp4", info.fps, audio_from=info, start=1 / 12, duration=3 / 12
    )
    n, *_, audio_seconds, _, _ = streams(tmp_path / "part.mp4")
    assert out == [] and n == 3 and audio_seconds == pytest.approx(3 / 12, abs=0.05)


def test_gif_webp_and_folders(clip_frames, tmp_path):
    for name in ("a.gif", "a.webp"):
        io.write(clip_frames, tmp_path / name, Fraction(10))
        with Image.open(tmp_path / name) as im:
            assert im.n_frames == 5 and im.size == SIZE
    io.write(clip_frames, tmp_path / "frames", Fraction(10))
    info = io.probe(tmp_path / "frames", fps=10)
    assert len(info.frame_paths) == 5 and info.fps == 10 and info.duration == pytest.approx(0.5)
    gif = io.probe(tmp_path / "a.gif")  # an animated GIF reads through FFmpeg
    assert len(io.read(gif, SIZE)) == 5 and gif.fps == 10


def test_bad_inputs_are_one_line_errors(tmp_path, clip_frames):
    text = tmp_path / "notes.mp4"
    text.write_text("not a video at all\n" * 50)
    with pytest.raises(ValueError, match="not a video FFmpeg can read"):
        io.probe(text)
    sound = write_clip(clip_frames, tmp_path / "sound.m4a", video=False)
    with pytest.raises(ValueError, match="has no video stream"):
        io.probe(sound)
    with pytest.raises(ValueError, match="cannot write '.avi'"):
        io.check_output(tmp_path / "out.avi")
    with pytest.raises(ValueError, match="no such file"):
        io.probe(tmp_path / "missing.mp4")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="folder has no frames"):
        io.probe(tmp_path / "empty")
