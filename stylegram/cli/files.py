"""Every command's reads and writes, from its options: the one place that knows them.

Each function turns a command's parsed options into a `FilePlan` (stylegram.files) and checks
it, before the model loads: an output, snapshot, checkpoint, report or work folder that would
land on an input is refused in one line naming both paths. A new option that names a file is
declared here, or the guarantee does not cover it (tests/test_files_property.py generates
command lines that collide on purpose).
"""

from __future__ import annotations

import argparse
import glob
from collections.abc import Iterable, Sequence
from pathlib import Path

from ..batch.manifest import MANIFEST
from ..files import FilePlan, temporaries
from ..transfer.config import StyleConfig
from ..units import explain as explain_report
from ..units import report as units_report
from ..units.atlas import ATLAS


def checkpoint_path(output: Path) -> Path:
    """The side file that keeps a stylize job's state (see cli/checkpoint.py)."""
    return output.with_name(f".{output.name}.checkpoint")


def snapshot_name(output: Path, step: int) -> Path:
    """The file --save-every writes at `step`: OUT_0050.png."""
    return output.with_name(f"{output.stem}_{step:04d}{output.suffix}")


def snapshot_temporaries(output: Path) -> Path:
    """One glob for the temporary files of every `snapshot_name` of `output`."""
    family = output.with_name(f"{glob.escape(output.stem)}_*{glob.escape(output.suffix)}")
    return temporaries(family, pattern=True)


def snapshot_names(output: Path, every: int, total_steps: int) -> list[Path]:
    """Every file --save-every writes: one for each multiple of `every`."""
    return (
        [snapshot_name(output, step) for step in range(every, total_steps + 1, every)]
        if every
        else []
    )


def style_inputs(
    contents: Iterable, styles: Iterable, config: StyleConfig
) -> list[tuple[str, str]]:
    """What a style transfer reads, as (option, path): photo, paintings, masks, init. Not the
    weights, which `_style_reads` adds: they are no part of a job's identity."""
    found = [("the photo", c) for c in contents] + [("the painting", s) for s in styles]
    found.append(("--content-mask", config.content_mask))
    found += [("--content-seg", config.content_seg), ("--style-seg", config.style_seg)]
    found += [("--style-masks", spec.partition("=")[2]) for spec in config.style_masks or ()]
    if config.init not in ("content", "random"):
        found.append(("--init", config.init))
    return [(option, str(path)) for option, path in found if path]


def _style_reads(
    files: FilePlan, contents: Iterable, styles: Iterable, config: StyleConfig
) -> None:
    for option, path in style_inputs(contents, styles, config):
        files.read(option, path)
    files.read("--weights", config.weights)


def stylize_files(args: argparse.Namespace, config: StyleConfig, total_steps: int) -> FilePlan:
    files = FilePlan()
    _style_reads(files, [args.content], args.styles, config)
    output = Path(args.output)
    files.write("-o", output)
    snapshots = snapshot_names(output, args.save_every, total_steps)
    for snapshot in snapshots:
        files.write("--save-every", snapshot, temporary=False)
    if snapshots:  # their temporary files, one glob for all of them
        files.write_family("--save-every (its temporary files)", snapshot_temporaries(output))
    files.write(
        "--checkpoint-every" if args.checkpoint_every else "-o (its checkpoint)",
        checkpoint_path(output),
    )
    files.check()
    return files


def _report_files(files: FilePlan, args: argparse.Namespace, names: Sequence[str]) -> None:
    out = Path(args.output)
    files.read_folder("--images", args.images)
    files.own("-o", out, "writes its report in")
    for name in names:
        files.write_family("-o", out / name)
    files.own(
        "--cache" if args.cache else "-o (its .cache)",
        Path(args.cache) if args.cache else out / ".cache",
        "keeps its cache in",
    )


def units_files(args: argparse.Namespace, weights: str | None) -> FilePlan:
    files = FilePlan()
    files.read("--weights", weights)
    _report_files(files, args, units_report.REPORT_NAMES)
    out = Path(args.output)
    files.own("-o", out / units_report.HITS, "keeps each patch and projection in")
    files.own("-o", out / units_report.OPT, "keeps each unit's synthesised image in")
    files.own("-o", out / ATLAS, "writes its atlas in")
    if getattr(args, "styles", None):
        files.read_folder("--styles", args.styles)
        files.own("-o", out / units_report.STYLES, "writes the paintings' explain-style views in")
    files.check()
    return files


def explain_files(args: argparse.Namespace, weights: str | None) -> FilePlan:
    files = FilePlan()
    files.read("the painting", args.style)
    files.read("--weights", weights)
    _report_files(files, args, explain_report.REPORT_NAMES)
    files.check()
    return files


def video_files(
    source: str,
    styles: Sequence[str],
    config: StyleConfig,
    output: Path,
    frames_out: bool,
    work_dir: Path,
    work_option: str,
) -> FilePlan:
    from ..video.io import frame_files

    files = FilePlan()
    if Path(source).is_dir():
        files.read_folder("the input", source)
        for frame in frame_files(
            Path(source)
        ):  # each, resolved: a frame may be a link to an output
            files.read("a frame of the input", frame)
    else:
        files.read("the input", source)
    _style_reads(files, [], styles, config)
    if frames_out:
        files.own("-o", output, "replaces with its frames", replaced=True)
    else:
        files.write("-o", output)
    files.own(work_option, work_dir, "keeps its frames in")
    files.check()
    return files


def batch_files(args: argparse.Namespace, config: StyleConfig) -> FilePlan:
    """Before listing: the folders. `batch_outputs` adds each job's output once they are known."""
    files = FilePlan()
    for option, sources in (("the photos", args.contents), ("--styles", args.styles)):
        for source in sources:
            if Path(source).is_dir():
                files.read_folder(option, source)
            else:
                files.read(option, source)
    _style_reads(files, [], [], config)
    files.own("-o", Path(args.output), "writes its results in")
    files.write("-o (its record)", Path(args.output) / MANIFEST)
    files.check()
    return files


def batch_outputs(files: FilePlan, out: Path, jobs) -> None:
    """Every job's inputs and output, now that the folders are listed."""
    for job in jobs:
        files.read("the photo", job.content.path)
        files.read("the painting", job.style.path)
        files.write("-o", out / job.output)
    files.check()
