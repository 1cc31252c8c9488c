"""`stylegram video`: stylise a clip without flicker (Ruder et al. 2016); resumable."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

from ..transfer.config import StyleConfig
from ..video.config import VideoConfig
from .files import video_files
from .options import add_config_options, config_from_args
from .signals import interrupted_exit_code


def add_parser(sub) -> None:
    p = sub.add_parser(
        "video",
        help="stylise a video, animated GIF or folder of frames without flicker",
        description="Style transfer for clips (Ruder et al. 2016): each frame starts from the last"
        " one warped by the optical flow and is held to it by a temporal loss. Finished"
        " frames go to a work folder; rerun the same command to continue.",
    )
    p.add_argument("input", help="a video file, an animated GIF, or a folder of frames")
    p.add_argument("styles", nargs="+", metavar="style", help="style image(s)")
    p.add_argument(
        "-o",
        "--output",
        required=True,
        help="OUT.mp4 (H.264 with the input's audio), OUT.gif / OUT.webp, or a folder for PNG frames",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    add_config_options(p, VideoConfig)
    add_config_options(p, StyleConfig)
    p.set_defaults(run=run)


def _job(args, info, styles, style: StyleConfig, video: VideoConfig) -> dict:
    """What decides the frames: a rerun with the same job resumes, any other is refused."""
    from ..video.work import file_id

    # A folder by each frame's name, size and time: frames changed under the same names are
    # another job (a rerun took the old frames from the work folder).
    source = (
        {"folder": str(info.path.resolve()), "frames": [file_id(p) for p in info.frame_paths]}
        if info.frame_paths
        else file_id(info.path)
    )
    frame_settings = {
        k: v for k, v in dataclasses.asdict(video).items() if k != "work_dir"
    }  # where, not what
    if video.long_term is None:  # as work folders made before the option was added
        del frame_settings["long_term"]
    return {
        "input": source,
        "styles": [file_id(s) for s in styles],
        "style": dataclasses.asdict(style),
        "video": frame_settings,
    }


def _prepare(args):
    """Every check, before any work: settings, styles, input, span, output, work folder."""
    from ..image import open_image
    from ..transfer.config import min_side
    from ..video import io
    from ..video.config import check_style_for_video
    from ..video.work import WorkFolder
    from ..weights import check_weights

    style = config_from_args(args, StyleConfig)
    video = config_from_args(args, VideoConfig)
    check_style_for_video(style, video)
    style_images = [open_image(s) for s in args.styles]
    output = io.check_output(args.output)
    work_dir = Path(video.work_dir) if video.work_dir else output.with_name(output.name + ".frames")
    video_files(
        args.input,
        args.styles,
        style,
        output,
        io.output_kind(output) == "frames",
        work_dir,
        "--work-dir" if video.work_dir else "-o (its work folder)",
    )
    info = io.probe(args.input, fps=video.fps)
    io.check_span(info, video.start)
    size = io.working_size(info.size, style.size)
    if min(size) < min_side(style):  # checked here: stylize sees each frame's pixels, not its name
        raise ValueError(
            f"'{args.input}': its frames at --size {style.size} are {size[0]}×{size[1]} px; at least"
            f" {min_side(style)}×{min_side(style)} is needed; give a larger --size"
        )
    style = dataclasses.replace(style, size=max(size))
    if style.weights:
        check_weights(style.weights)  # before the work folder is made: the model loads after it
    work = WorkFolder(work_dir, _job(args, info, args.styles, style, video))
    return style, video, style_images, output, info, size, work


def run(args: argparse.Namespace) -> int:
    from ..device import resolve_device
    from ..transfer.plan import plan_line
    from ..video import io
    from ..video.quality import warping_error
    from ..video.temporal import stylize_frames
    from ..weights import load_vgg
    from .progress import Progress

    style, video, style_images, output, info, size, work = _prepare(args)
    try:
        frames = io.read(info, size, start=video.start, duration=video.duration)
        model = load_vgg(style.weights, pooling=style.pooling, device=resolve_device(style.device))
    except BaseException:
        work.remove_if_unused()  # a refused input leaves no work folder behind
        raise
    passes = video.passes if video.temporal_weight > 0 else 1
    if not args.quiet:
        print(plan_line(style, f"{len(frames)} frames, {passes} pass(es)"), file=sys.stderr)
    done_before = work.count_done(passes, len(frames))
    todo = passes * len(frames) - done_before
    if done_before and not args.quiet:
        print(
            f"resuming: {done_before} of {passes * len(frames)} frames already in {work.root}",
            file=sys.stderr,
        )
    progress = Progress(max(todo, 1), unit="frame", quiet=args.quiet)
    new, busy = 0, 0.0

    def on_frame(event) -> None:
        nonlocal new, busy
        if event.resumed:
            return
        new, busy = new + 1, busy + event.seconds
        progress.update(
            new,
            label=f"pass {event.pass_ + 1}/{event.passes}" if event.passes > 1 else None,
            values={"s/frame": busy / new},
        )

    start = time.perf_counter()
    try:
        result = stylize_frames(
            frames, style_images, style, video, work, model=model, callback=on_frame
        )
    except KeyboardInterrupt as stop:
        progress.close()
        kept = work.count_done(passes, len(frames))
        print(
            f"stylegram: interrupted; {kept} of {passes * len(frames)} frames are kept in {work.root};"
            " run the same command again to continue",
            file=sys.stderr,
        )
        return interrupted_exit_code(stop)
    progress.close()
    notes = io.write(
        result,
        output,
        info.fps,
        audio_from=None if info.frame_paths else info,
        start=video.start,
        duration=video.duration,
    )
    for note in notes:
        print(f"stylegram: note: {note}", file=sys.stderr)
    if not args.quiet:
        error = warping_error(result, frames, preset=video.flow)
        print(
            f"wrote {output} ({len(result)} frames, {size[0]}×{size[1]}, {float(info.fps):g} fps) in"
            f" {time.perf_counter() - start:.1f} s; warping error {error:.5f}; frames kept in {work.root}",
            file=sys.stderr,
        )
    return 0
