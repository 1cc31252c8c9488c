"""`stylegram batch`: every content in every style (or one to one with --zip), times a sweep of
settings, here or on a Dask cluster. OUTDIR/batch.jsonl records each job, so the same command
run again skips the jobs done and reruns the failed ones.

    stylegram batch photos/ --styles paintings/ -o out --size 512 --sweep style_weight=0.5,2
    stylegram batch photos/ --styles paintings/ -o out --scheduler tcp://10.0.0.5:8786
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from ..batch.config import BatchConfig
from ..transfer.config import StyleConfig
from .options import add_config_options, config_from_args
from .signals import interrupted_exit_code

VERBOSE_EVERY = 10  # steps between per-job progress lines with --verbose


def add_parser(sub) -> None:
    p = sub.add_parser(
        "batch",
        help="style transfer over folders and sweeps of settings, here or on a Dask cluster",
        description="Paint every content image in every style (or one to one with --zip); resumable.",
    )
    p.add_argument(
        "contents", nargs="+", metavar="CONTENT", help="content images or folders of them"
    )
    p.add_argument(
        "--styles",
        nargs="+",
        required=True,
        metavar="STYLE",
        help="style images or folders of them",
    )
    p.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUTDIR",
        help="output folder (made if missing): <content>__<style>[__<setting>].png and batch.jsonl",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    p.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="also a line per finished job, and per-step progress of local jobs",
    )
    add_config_options(p, BatchConfig)
    add_config_options(p, StyleConfig)
    p.set_defaults(run=run)


def _engine(batch: BatchConfig, style: StyleConfig, scheduler: str | None, on_step):
    from ..batch import LocalEngine

    if not scheduler:
        return LocalEngine(on_step=on_step)
    from ..batch.cluster import DaskEngine, connect

    client = connect(scheduler, timeout=batch.connect_timeout)
    try:
        return DaskEngine(
            client, weights=style.weights, pooling=style.pooling, retries=batch.retries
        )
    except BaseException:
        client.close()
        raise


def _check_inputs(args: argparse.Namespace, jobs) -> None:
    """Every photo and painting named on the command line is an image large enough for its
    job's layers, from its header, before any model loads: one line, as stylize says it. A bad
    file found in a folder fails its own jobs, and the batch goes on."""
    from ..image import image_size
    from ..transfer.config import check_size, min_side

    named = {Path(p) for p in (*args.contents, *args.styles) if not Path(p).is_dir()}
    seen = set()
    for job in jobs:
        for what, path in (("content image", job.content.path), ("style image", job.style.path)):
            need = min_side(job.config)
            if path in named and (path, need) not in seen:
                seen.add((path, need))
                check_size(what, path, image_size(path), need)


def run(args: argparse.Namespace) -> int:
    from ..batch import make_jobs, run_batch
    from ..batch.cluster import SCHEDULER_ENV
    from ..batch.jobs import input_files
    from ..batch.manifest import Manifest
    from .files import batch_files, batch_outputs
    from .progress import Progress

    batch, style = config_from_args(args, BatchConfig), config_from_args(args, StyleConfig)
    out = Path(args.output)
    if out.exists() and not out.is_dir():
        raise ValueError(f"'{out}': output must be a folder, and this is a file")
    files = batch_files(args, style)
    if style.weights:
        from ..weights import check_weights

        check_weights(style.weights)  # the model loads in each job, after the output folder is made
    Manifest(out).check()
    jobs = make_jobs(
        input_files(args.contents, "content", skip=files.skips),
        input_files(args.styles, "style", skip=files.skips),
        style,
        pairwise=batch.zip,
        sweeps=batch.sweep or (),
    )
    batch_outputs(files, out, jobs)
    _check_inputs(args, jobs)
    already = len({job.key for job in jobs} & Manifest(out).done())
    progress = Progress(len(jobs) - already, unit="jobs", quiet=args.quiet, desc="batch")

    def on_step(task, event) -> None:
        if event.step % VERBOSE_EVERY == 0 or event.step == event.total_steps:
            progress.write(
                f"  {Path(task.content_name).name} × {Path(task.style_name).name}: "
                f"step {event.step}/{event.total_steps}"
            )

    def on_outcome(job, outcome) -> None:
        if args.verbose and not args.quiet:
            progress.write(
                f"{'failed' if outcome.error else 'wrote'} {job.output} ({outcome.seconds:.1f} s)"
                + (f": {outcome.error}" if outcome.error else "")
            )
        progress.update(progress.n + 1)

    try:
        engine = _engine(
            batch,
            style,
            batch.scheduler or os.environ.get(SCHEDULER_ENV),
            on_step if args.verbose and not args.quiet else None,
        )
    except BaseException:
        progress.close()
        raise
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    try:
        summary = run_batch(jobs, out, engine, on_outcome=on_outcome)
    except KeyboardInterrupt as stop:
        progress.close()
        print(
            f"stylegram: interrupted after {progress.n} of {len(jobs) - already} jobs; the finished ones are kept,"
            " run the same command to do the rest",
            file=sys.stderr,
        )
        return interrupted_exit_code(stop)
    finally:
        engine.close()
    progress.close()
    line = (
        f"{summary.total} jobs: {summary.done} done, {summary.skipped} already done, {len(summary.failed)} failed"
        f" in {time.perf_counter() - start:.1f} s; see {out / 'batch.jsonl'}"
    )
    if summary.failed:
        for job, error in summary.failed:
            print(f"stylegram: failed: {job.output}: {error}", file=sys.stderr)
        print(f"stylegram: error: {line}", file=sys.stderr)
        return 1
    if not args.quiet:
        print(line, file=sys.stderr)
    return 0
