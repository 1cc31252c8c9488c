"""`stylegram stylize`: paint a photo in the style of one or more paintings."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from ..transfer.config import StyleConfig
from .files import checkpoint_path, snapshot_name, style_inputs, stylize_files
from .options import add_config_options, config_from_args
from .signals import interrupted_exit_code

if TYPE_CHECKING:
    from .progress import Progress


def demo_images() -> tuple[Path, Path]:
    """The bundled content and style images (see stylegram/data/LICENSES.md)."""
    data = resources.files("stylegram") / "data"
    return Path(str(data / "chelsea.jpg")), Path(str(data / "starry_night.jpg"))


def add_parser(sub) -> None:
    p = sub.add_parser(
        "stylize",
        help="paint a content image in the style of one or more paintings",
        description="Neural style transfer (Gatys et al.). With no images, runs on the bundled demo.",
    )
    p.add_argument("content", nargs="?", help="content image (default: the bundled demo photo)")
    p.add_argument(
        "styles", nargs="*", metavar="style", help="style image(s) (default: the bundled painting)"
    )
    p.add_argument(
        "-o", "--output", default="stylized.png", help="output image (default: stylized.png)"
    )
    p.add_argument(
        "--save-every",
        type=int,
        default=0,
        metavar="N",
        help="also save the image every N steps, as OUT_0050.png and so on (default: 0, never)",
    )
    p.add_argument(
        "--checkpoint-every",
        type=int,
        default=0,
        metavar="N",
        help="keep the image, scale and step every N steps in a side file (.OUT.checkpoint) written"
        " atomically; rerunning the same command continues from it (default: 0, only on Ctrl-C"
        " when given)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    add_config_options(p, StyleConfig)
    p.set_defaults(run=run)


def _inputs(args: argparse.Namespace, config: StyleConfig) -> list[str]:
    """Every image the job reads."""
    return [path for _, path in style_inputs([args.content], args.styles, config)]


def _check_inputs(args: argparse.Namespace, config: StyleConfig) -> None:
    """Decode every input file and check --style-scale against the styles now, before the model
    loads, so that a bad file or setting is one line within a second, not after a minute."""
    from ..image import open_image
    from ..transfer import segmentation
    from ..transfer.config import check_styles, style_layers
    from ..transfer.schedule import check_style_scale
    from ..vgg import min_size

    sizes = {name: open_image(name).size for name in _inputs(args, config)}
    check_style_scale(
        config, [sizes[str(s)] for s in args.styles], min_size(style_layers(config)), args.styles
    )
    check_styles(config, len(args.styles))
    if config.content_seg is not None and config.style_seg is not None:
        segmentation.read_pairs(
            config.content_seg,
            config.style_seg,
            sizes[str(args.content)],
            sizes[str(args.styles[0])],
        )


def _prepare(args: argparse.Namespace):
    """The config and the memory plan, with every check that needs no model: flags, files,
    inputs, output, memory."""
    from ..image import check_writable
    from ..transfer.plan import plan

    config = config_from_args(args, StyleConfig)
    for flag in ("save_every", "checkpoint_every"):
        if getattr(args, flag) < 0:
            raise ValueError(
                f"--{flag.replace('_', '-')} must be 0 (never) or a number of steps, not"
                f" {getattr(args, flag)}"
            )
    if args.content is None:
        args.content, style = demo_images()
        args.styles = [style]
    elif not args.styles:
        raise ValueError("give a style image after the content image")
    args.output = check_writable(args.output)
    _check_inputs(args, config)  # every input decodes, before the model loads
    plans = plan(args.content, config)  # from the header: refuse what cannot fit before any work
    stylize_files(args, config, sum(p.steps for p in plans))  # nothing written lands on an input
    return config, plans


class _Run:
    """What the CLI does at each step: progress, frames, checkpoints; and after a Ctrl-C."""

    def __init__(self, args: argparse.Namespace, config: StyleConfig, plans, checkpoint) -> None:
        self.args, self.config, self.plans, self.checkpoint = args, config, plans, checkpoint
        # Made at the first step, so an early error has no empty bar before it.
        self.progress: Progress | None = None
        self.last = None

    def on_step(self, event) -> None:
        from ..image import save_image
        from ..transfer.plan import work_done
        from ..transfer.stylize import finished_scale
        from .progress import Progress

        args, output = self.args, self.args.output
        scale_done = event.step == sum(p.steps for p in self.plans[: event.scale + 1])
        if not args.checkpoint_every:  # the optimiser's state is kept only for a checkpoint
            event = dataclasses.replace(event, optimizer=None)
        elif scale_done:
            # Held here, a finished scale's L-BFGS history (hundreds of MB at 2048 px) would
            # stay alive through the next scale's start; the next scale needs only its γ.
            event = dataclasses.replace(event, optimizer=finished_scale(event.optimizer))
        self.last = event
        if self.progress is None:  # after this run's first step: the pace counts from here
            self.progress = Progress(
                event.total_steps,
                unit="step",
                quiet=args.quiet,
                initial=event.step,
                done_before=work_done(self.plans, event.step),
            )
        self.progress.update(
            event.step,
            label="{}×{}".format(*event.size),
            values=event.losses,
            fraction=work_done(self.plans, event.step),
        )
        if args.save_every and event.step % args.save_every == 0:
            save_image(event.image, snapshot_name(output, event.step))
        if args.checkpoint_every and event.step % args.checkpoint_every == 0:
            self.checkpoint.save(event)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.close()

    def interrupted(self, stop: KeyboardInterrupt) -> int:
        from ..image import resize_long_side, save_image, to_pil

        self.close()
        last, output = self.last, self.args.output
        if last is None:
            print("stylegram: interrupted before the first step; nothing saved", file=sys.stderr)
            return interrupted_exit_code(stop)
        if self.args.checkpoint_every:
            self.checkpoint.save(last)
        # A coarse scale's image is upsampled so the file has the size that was asked for.
        save_image(resize_long_side(to_pil(last.image), self.config.size), output)
        print(
            f"stylegram: interrupted at step {last.step}/{last.total_steps}; saved the current image"
            f" to {output}",
            file=sys.stderr,
        )
        return interrupted_exit_code(stop)


def run(args: argparse.Namespace) -> int:
    from ..image import save_image
    from ..transfer import stylize
    from ..transfer.plan import plan_line
    from ..transfer.provenance import png_metadata
    from .checkpoint import Checkpoint, job_key

    start = time.perf_counter()
    config, plans = _prepare(args)
    if not args.quiet:
        peak = max(p.peak for p in plans) / 2**30
        print(plan_line(config, f"{len(plans)} scales, peak about {peak:.1f} GB"), file=sys.stderr)
        for scale in plans:
            print(f"  {scale.describe()}", file=sys.stderr)
    checkpoint = Checkpoint(checkpoint_path(args.output), job_key(_inputs(args, config), config))
    checkpoint.check()
    resume = checkpoint.load()
    if resume is not None and not args.quiet:
        note = (
            ""
            if resume.optimizer is not None
            else " (an older checkpoint, without L-BFGS's history)"
        )
        print(
            f"resuming from {checkpoint.path.name}: step {resume.step}, scale {resume.scale + 1}{note}",
            file=sys.stderr,
        )
    steps = _Run(args, config, plans, checkpoint)
    try:
        result = stylize(args.content, args.styles, config, callback=steps.on_step, resume=resume)
    except KeyboardInterrupt as stop:
        return steps.interrupted(stop)
    steps.close()
    save_image(
        result,
        args.output,
        metadata=png_metadata(
            config, str(args.content), [str(s) for s in args.styles], str(args.output)
        ),
    )
    checkpoint.remove()
    if not args.quiet:
        print(
            f"wrote {args.output} ({result.width}×{result.height}) in {time.perf_counter() - start:.1f} s",
            file=sys.stderr,
        )
    return 0
