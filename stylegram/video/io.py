"""Clips in and out through PyAV (FFmpeg inside its wheel): a file, an animated GIF or a folder
of frames in; an MP4 (H.264, yuv420p, the input's audio copied), a folder of PNGs, or an
animated GIF/WebP out, chosen by the output's name.

`probe` opens and checks everything cheaply, so every bad input fails before any work; `read`
decodes the chosen part at the working size; `write` encodes the result atomically.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from PIL import Image

from ..files import folder_of, readable_file
from ..geometry import Size
from ..image import (
    check_writable,
    chmod_like_open,
    make_temporary,
    open_image,
    open_temporary,
    save_image,
    write_atomic,
)
from ..settings import ConfigError

FRAME_NAME = re.compile(r"\d{5}\.png")  # what `write` puts in a folder of frames: 00001.png, ...
FRAME_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
VIDEO_OUT = (".mp4", ".m4v", ".mov")
ANIMATION_OUT = (".gif", ".webp")
# Audio codecs an MP4/MOV holds as they are; others are dropped with a note rather than re-encoded.
MP4_AUDIO = ("aac", "mp3", "ac3", "eac3", "alac", "opus", "flac")


@dataclass(frozen=True)
class ClipInfo:
    """What `probe` learned about the input, before decoding it."""

    path: Path
    size: Size  # (W, H) of the source frames
    fps: Fraction
    duration: float  # seconds
    frame_paths: tuple[Path, ...] = ()  # a folder of frames; empty for a file
    has_audio: bool = False


def _av():
    try:
        import av
    except ImportError:
        raise ValueError("video needs PyAV and OpenCV: pip install 'stylegram[video]'") from None
    return av


def probe(path: str | os.PathLike, *, fps: float | None = None) -> ClipInfo:
    """Open the input far enough to know its size, rate and length; ValueError on any problem.

    `fps` is the rate of a folder of frames (default 25), and of a file whose stream names none;
    a file's own rate wins.
    """
    path = Path(path)
    if not path.exists():
        raise ValueError(f"'{path}': no such file or folder")
    if path.is_dir():
        frames = frame_files(path)
        if not frames:
            raise ValueError(f"'{path}': folder has no frames ({', '.join(FRAME_EXTENSIONS)})")
        rate = Fraction(fps or 25).limit_denominator(1001)
        # float(): an int / Fraction is a Fraction, which before Python 3.12 refuses ':.2f'.
        duration = float(len(frames) / rate)
        return ClipInfo(path, open_image(frames[0]).size, rate, duration, frames)
    readable_file(path, "video file")  # a FIFO would block FFmpeg forever
    av = _av()
    try:
        container = av.open(str(path))
    except (av.FFmpegError, UnicodeDecodeError) as exc:
        raise ValueError(
            f"'{path}': not a video FFmpeg can read ({exc.__class__.__name__})"
        ) from None
    with container:
        if not container.streams.video:
            raise ValueError(f"'{path}': has no video stream")
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or Fraction(fps or 25)
        if stream.duration is not None and stream.time_base:
            duration = float(stream.duration * stream.time_base)
        elif container.duration:
            duration = container.duration / 1e6
        elif stream.frames:
            duration = stream.frames / float(rate)
        else:
            # Unknown: check_span passes any --start, and read() says when none is left.
            duration = float("inf")
        size = (stream.codec_context.width, stream.codec_context.height)
        return ClipInfo(
            path, size, Fraction(rate), duration, has_audio=bool(container.streams.audio)
        )


def frame_files(folder: Path) -> tuple[Path, ...]:
    """The frames of a folder given as input: its image files, in name order."""
    return tuple(sorted(p for p in folder.iterdir() if p.suffix.lower() in FRAME_EXTENSIONS))


def check_span(info: ClipInfo, start: float) -> None:
    """--start must fall inside the clip, and the clip must have some length."""
    if not start and info.duration <= 0:
        raise ValueError(
            f"'{info.path}': has no length (a single frame?); a clip needs at least two frames; for"
            " a still image use stylegram stylize"
        )
    if start >= info.duration:
        raise ConfigError(
            "start", f"{start:g} s is past the end of '{info.path}' ({info.duration:.2f} s long)"
        )


def working_size(size: Size, long_side: int) -> Size:
    """The size frames are stylised at: `long_side` px on the long side, both sides even (yuv420p)."""
    w, h = size
    k = long_side / max(w, h)
    return max(2, round(w * k / 2) * 2), max(2, round(h * k / 2) * 2)


def read(
    info: ClipInfo, size: Size, *, start: float = 0.0, duration: float | None = None
) -> list[Image.Image]:
    """Decode the frames in [start, start + duration) resized to `size` (W, H), as RGB PIL images."""
    end = float("inf") if duration is None else start + duration
    if info.frame_paths:
        first, last = round(start * info.fps), end * info.fps
        chosen = [p for k, p in enumerate(info.frame_paths) if first <= k < last]
        frames = [open_image(p).resize(size, Image.Resampling.LANCZOS) for p in chosen]
    else:
        frames = _decode(info, size, start, end)
    if not frames:
        raise ValueError(f"'{info.path}': no frames between {start:g} s and {end:g} s")
    return frames


def _decode(info: ClipInfo, size: Size, start: float, end: float) -> list[Image.Image]:
    av = _av()
    frames = []
    with av.open(str(info.path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        origin = (
            float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
        )
        if start > 0:
            container.seek(int((origin + start) / stream.time_base), stream=stream, backward=True)
        try:
            for k, frame in enumerate(container.decode(stream)):
                t = frame.time - origin if frame.time is not None else k / float(info.fps)
                if t < start - 1e-6:
                    continue
                if t >= end - 1e-6:
                    break
                frames.append(
                    frame.to_image().convert("RGB").resize(size, Image.Resampling.LANCZOS)
                )
        except av.FFmpegError as exc:
            if not frames:
                raise ValueError(f"'{info.path}': cannot decode ({exc})") from None
    return frames


# ---------------------------------------------------------------- output


def output_kind(path: str | os.PathLike) -> str:
    """'video', 'animation' or 'frames' (a folder of PNGs: a name without an extension)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in VIDEO_OUT:
        return "video"
    if suffix in ANIMATION_OUT:
        return "animation"
    if not suffix or path.is_dir():
        return "frames"
    raise ValueError(
        f"'{path}': cannot write '{suffix}'; use {', '.join(VIDEO_OUT + ANIMATION_OUT)}"
        " or a folder name for PNG frames"
    )


def check_output(path: str | os.PathLike) -> Path:
    """Fail now, not after the stylisation, if the output cannot be written."""
    path = Path(path)
    kind = output_kind(path)
    if kind == "frames":
        if path.exists() and not path.is_dir():
            raise ValueError(f"'{path}': exists and is not a folder")
        parent = path.parent if str(path.parent) else Path(".")
        if not parent.is_dir():
            raise ValueError(f"'{path}': cannot write, directory '{parent}' does not exist")
        if path.is_symlink():
            raise ValueError(
                f"'{path}': is a link; the frames replace the folder as a whole, so give the folder"
                " itself"
            )
        foreign = (
            [
                p.name
                for p in path.iterdir()
                if not (FRAME_NAME.fullmatch(p.name) and p.is_file() and not p.is_symlink())
            ]
            if path.is_dir()
            else []
        )
        if foreign:  # the folder is replaced as a whole: only one holding nothing but our frames
            raise ValueError(
                f"'{path}': the folder holds files that are not frames of stylegram's (such as"
                f" '{sorted(foreign)[0]}'), and the frames replace the folder; choose a new or empty folder"
            )
        return path
    # Same checks as an image: an existing parent, writable, not a folder.
    check_writable(path.with_suffix(".png"))
    if path.is_dir():
        raise ValueError(f"'{path}': cannot write, it is a directory")
    return path


def write(
    frames: Sequence[Image.Image],
    path: str | os.PathLike,
    fps: Fraction,
    *,
    audio_from: ClipInfo | None = None,
    start: float = 0.0,
    duration: float | None = None,
) -> list[str]:
    """Write `frames` at `fps` to `path`, atomically; returns notes for the user (dropped audio)."""
    path = Path(path)
    kind = output_kind(path)
    if kind == "frames":
        _write_frames(frames, path)
        return []
    if kind == "animation":
        fmt = "GIF" if path.suffix.lower() == ".gif" else "WEBP"
        ms = round(1000 / float(fps))
        write_atomic(
            path,
            lambda f: frames[0].save(
                f, format=fmt, save_all=True, append_images=list(frames[1:]), duration=ms, loop=0
            ),
        )
        return []
    return _encode(frames, path, fps, audio_from, start, duration)


def _write_frames(frames: Sequence[Image.Image], path: Path) -> None:
    """The frames as 00001.png ... in a new folder beside `path`, which then takes the place of
    `path` as a whole: an earlier, longer run's frames do not linger, and a crash leaves the old
    folder as it was. The old folder holds only frames (`check_output`, before and again now)."""
    parent = folder_of(path)
    made: list[Path] = []
    old = None
    try:
        make_temporary(made, parent, path.name, lambda p: os.mkdir(p, 0o700))
        new = made[0]
        for k, im in enumerate(frames, 1):
            save_image(im, new / f"{k:05d}.png")
        if path.is_dir():
            check_output(path)  # again: a file put there during the run is not ours to remove
            old = new.with_name(new.name[:-4] + ".old")
            os.rename(path, old)
        os.rename(new, path)  # from here the new frames are the folder
        chmod_like_open(path, 0o777)
    except OSError as exc:
        if old is not None and old.exists() and not path.exists():
            os.rename(old, path)
        raise ValueError(f"'{path}': cannot write ({exc.strerror or exc})") from None
    finally:
        for leftover in (*made, old):
            if leftover is not None and leftover.exists() and leftover != path:
                shutil.rmtree(leftover, ignore_errors=True)


def _encode(
    frames,
    path: Path,
    fps: Fraction,
    audio_from: ClipInfo | None,
    start: float,
    duration: float | None,
) -> list[str]:
    """H.264 yuv420p at the input's rate; the input's audio packets copied untouched."""
    av = _av()
    notes: list[str] = []
    # A name of our own making (never a user's file of a guessable name), removed on failure.
    made: list[Path] = []
    try:
        os.close(make_temporary(made, folder_of(path), path.name, open_temporary, path.suffix))
        tmp = made[0]
        with av.open(str(tmp), "w") as out:
            video = out.add_stream("libx264", rate=fps)
            video.width, video.height = frames[0].size
            video.pix_fmt = "yuv420p"
            video.options = {"crf": "18"}
            source = av.open(str(audio_from.path)) if audio_from and audio_from.has_audio else None
            audio = None
            if source is not None:
                codec = source.streams.audio[0].codec_context.name
                if codec in MP4_AUDIO:
                    audio = out.add_stream_from_template(source.streams.audio[0])
                else:
                    notes.append(f"audio dropped: {codec} does not go into {path.suffix} as it is")
            for im in frames:
                for packet in video.encode(av.VideoFrame.from_image(im)):
                    out.mux(packet)
            for packet in video.encode():
                out.mux(packet)
            if audio is not None:
                _copy_audio(source, audio, out, start, duration)
            if source is not None:
                source.close()
        os.replace(tmp, path)
    except OSError as exc:
        raise ValueError(f"'{path}': cannot write ({exc.strerror or exc})") from None
    finally:
        for leftover in made:
            if leftover.exists():
                leftover.unlink()
    return notes


def _copy_audio(source, audio, out, start: float, duration: float | None) -> None:
    """Remux the audio packets of [start, start + duration), shifted to start at 0, undecoded."""
    stream = source.streams.audio[0]
    base = stream.time_base
    offset = round(start / base) if start else 0
    end = None if duration is None else round((start + duration) / base)
    if start:
        source.seek(offset, stream=stream, backward=True)
    for packet in source.demux(stream):
        if packet.pts is None or packet.size == 0:
            continue
        if (
            start and packet.pts < offset
        ):  # from the start, keep the encoder's priming packets (pts < 0)
            continue
        if end is not None and packet.pts >= end:
            break
        packet.pts -= offset
        if packet.dts is not None:
            packet.dts -= offset
        packet.stream = audio
        out.mux(packet)
