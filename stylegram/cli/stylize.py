"""`stylegram stylize`: paint a photo in the style of one or more paintings."""
from __future__ import annotations

import argparse
import sys
import time
from importlib import resources
from pathlib import Path

from ..transfer.config import StyleConfig
from .files import refuse_overwriting_inputs
from .options import add_config_options, config_from_args
from .signals import interrupted_exit_code


def demo_images() -> tuple[Path, Path]:
    """The bundled content and style images (see stylegram/data/LICENSES.md)."""
    data = resources.files("stylegram") / "data"
    return Path(str(data / "chelsea.jpg")), Path(str(data / "starry_night.jpg"))


def add_parser(sub) -> None:
    p = sub.add_parser("stylize", help="paint a content image in the style of one or more paintings",
                       description="Neural style transfer (Gatys et al.). With no images, runs on the bundled demo.")
    p.add_argument("content", nargs="?", help="content image (default: the bundled demo photo)")
    p.add_argument("styles", nargs="*", metavar="style", help="style image(s) (default: the bundled painting)")
    p.add_argument("-o", "--output", default="stylized.png", help="output image (default: stylized.png)")
    p.add_argument("--save-every", type=int, default=0, metavar="N",
                   help="also save the image every N steps, as OUT_0050.png and so on (default: 0, never)")
    p.add_argument("--checkpoint-every", type=int, default=0, metavar="N",
                   help="keep the image, scale and step every N steps in a side file (.OUT.checkpoint) written"
                        " atomically; rerunning the same command continues from it (default: 0, only on Ctrl-C"
                        " when given)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    add_config_options(p, StyleConfig)
    p.set_defaults(run=run)


def _inputs(args: argparse.Namespace, config: StyleConfig) -> list[str]:
    """Every file the job reads, so that none of them is overwritten."""
    files = [args.content, *args.styles, config.content_mask]
    files += [spec.partition("=")[2] for spec in config.style_masks or ()]
    if config.init not in ("content", "random"):
        files.append(config.init)
    return [str(f) for f in files if f]


def work_done(plans, step: int) -> float:
    """The share of a job's work done after `step` steps: a step costs its scale's pixels."""
    done = total = 0.0
    before = 0
    for scale in plans:
        pixels = scale.size[0] * scale.size[1]
        done += pixels * min(scale.steps, max(0, step - before))
        total += pixels * scale.steps
        before += scale.steps
    return done / total if total else 1.0


def _check_inputs(args: argparse.Namespace, config: StyleConfig) -> None:
    """Decode every input file and check --style-scale against the styles now, before the model
    loads, so that a bad file or setting is one line within a second, not after a minute."""
    from ..image import open_image
    from ..transfer.schedule import check_style_scale
    from ..vgg import min_size

    sizes = {name: open_image(name).size for name in _inputs(args, config)}
    check_style_scale(config, [sizes[str(s)] for s in args.styles], min_size(config.style_layers), args.styles)


def run(args: argparse.Namespace) -> int:
    from ..image import check_writable, resize_long_side, save_image, to_pil
    from ..transfer import stylize
    from ..transfer.config import png_metadata
    from ..transfer.plan import plan
    from . import release_freed_memory
    from .checkpoint import Checkpoint, job_key
    from .progress import Progress

    config = config_from_args(args, StyleConfig)
    for flag in ("save_every", "checkpoint_every"):
        if getattr(args, flag) < 0:
            raise ValueError(f"--{flag.replace('_', '-')} must be 0 (never) or a number of steps, not"
                             f" {getattr(args, flag)}")
    if args.content is None:
        content, style = demo_images()
        args.content, args.styles = content, [style]
    elif not args.styles:
        raise ValueError("give a style image after the content image")
    output = check_writable(args.output)
    refuse_overwriting_inputs(output, _inputs(args, config))
    _check_inputs(args, config)  # every input decodes, before the model loads
    plans = plan(args.content, config)  # from the header: refuse what cannot fit before any work
    if not args.quiet:
        print(f"plan: {len(plans)} scales, peak about {max(p.peak for p in plans) / 2**30:.1f} GB", file=sys.stderr)
        for scale in plans:
            print(f"  {scale.describe()}", file=sys.stderr)
    checkpoint = Checkpoint(output, job_key(_inputs(args, config), config))
    resume = checkpoint.load()
    if resume is not None and not args.quiet:
        print(f"resuming from {checkpoint.path.name}: step {resume.step}, scale {resume.scale + 1}", file=sys.stderr)
    progress: Progress | None = None  # made at the first step, so an early error has no empty bar before it
    last = None
    start = time.perf_counter()

    def on_step(event) -> None:
        nonlocal last, progress
        if last is not None and event.scale != last.scale:
            release_freed_memory()
        last = event
        if progress is None:
            progress = Progress(event.total_steps, unit="step", quiet=args.quiet)
        progress.update(event.step, label="{}×{}".format(*event.size), values=event.losses,
                        fraction=work_done(plans, event.step))
        if args.save_every and event.step % args.save_every == 0:
            save_image(event.image, output.with_name(f"{output.stem}_{event.step:04d}{output.suffix}"))
        if args.checkpoint_every and event.step % args.checkpoint_every == 0:
            checkpoint.save(event)

    try:
        result = stylize(args.content, args.styles, config, callback=on_step, resume=resume)
    except KeyboardInterrupt as stop:
        if progress is not None:
            progress.close()
        if last is None:
            print("stylegram: interrupted before the first step; nothing saved", file=sys.stderr)
        else:
            if args.checkpoint_every:
                checkpoint.save(last)
            # A coarse scale's image is upsampled so the file has the size that was asked for.
            save_image(resize_long_side(to_pil(last.image), config.size), output)
            print(f"stylegram: interrupted at step {last.step}/{last.total_steps}; saved the current image"
                  f" to {output}", file=sys.stderr)
        return interrupted_exit_code(stop)
    if progress is not None:
        progress.close()
    save_image(result, output, metadata=png_metadata(config, str(args.content), [str(s) for s in args.styles],
                                                     str(output)))
    checkpoint.remove()
    if not args.quiet:
        print(f"wrote {output} ({result.width}×{result.height}) in {time.perf_counter() - start:.1f} s",
              file=sys.stderr)
    return 0
