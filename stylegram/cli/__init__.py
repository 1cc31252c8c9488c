"""The command line: argv to config, progress, files and exit codes. Only here (and in the web
server) does stylegram touch argv, print progress, or choose an exit status.

    stylegram stylize [CONTENT [STYLE ...]] [-o OUT] [options]   # no arguments: the demo images
    stylegram layers                                             # the VGG19 layers and their geometry
    stylegram units --images DIR -o OUTDIR                       # top patches per unit
    stylegram explain-style STYLE --images DIR -o OUTDIR         # a painting read as units
    stylegram video IN STYLE [...] -o OUT.mp4                    # a clip without flicker
    stylegram batch CONTENT... --styles STYLE... -o OUTDIR       # folders, sweeps, a Dask cluster
    stylegram serve [--port 8000]                                # the local web studio

Every user error ends in one line on stderr and exit status 1; Ctrl-C saves the current work and
exits 130, SIGTERM likewise with 143.
"""

from __future__ import annotations

import os
import sys

from . import signals  # first: it guards the imports below

with signals.start_up():  # a Ctrl-C while these (and torch) load: one line and exit 130
    from .. import cpu

    # Before torch loads its OpenMP runtime, which reads this once: where the network will run
    # in fp32, OpenMP's threads sleep between operations, for NNPACK's (stylegram/cpu.py). This
    # process's choice, so the CLI makes it; a value the user set is kept.
    if policy := cpu.omp_wait_policy(sys.argv[1:]):
        os.environ.setdefault("OMP_WAIT_POLICY", policy)

    import argparse
    import ctypes
    import gc
    from collections.abc import Sequence

    from . import batch, explain, layers, serve, stylize, units, video

EXIT_ERROR = 1
EXIT_BROKEN_PIPE = 128 + 13  # as a shell reports a process ended by SIGPIPE
SUBCOMMANDS = (stylize, layers, units, explain, video, batch, serve)


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="stylegram", description="Neural style transfer and a look inside VGG."
    )
    parser.add_argument("--version", action="version", version=f"stylegram {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in SUBCOMMANDS:
        module.add_parser(sub)
    return parser


def _keep_freed_memory() -> None:
    """Ask glibc's malloc to reuse freed memory instead of handing it back to the OS.

    Each optimisation step allocates and frees the same large activation tensors. By default
    glibc mmaps each one afresh and unmaps it on free, so every step page-faults its memory back
    in: 2 million faults and 3.5 s of system time in a 512-px run here, and 293 s in a tiled
    2048-px one. With these settings the 512-px run is about 9% faster at the same peak RSS.
    This is a process-wide choice, so the CLI makes it, not the library. Other libcs: no-op.

    Blocks of 64 MB and more still get their own maps, returned to the OS when freed: on tiled
    scales, kept in the heap, image-sized tensors and tiles of several sizes fragmented it, and
    an A3 job at --max-memory 8G peaked at 8.54 GB; with this threshold 6.63 GB, in 935 s
    against 1083 (2026-11-27). A 512-px job's largest tensors are 25 MB.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    m_trim_threshold, m_top_pad, m_mmap_threshold = -1, -2, -3
    libc.mallopt(m_mmap_threshold, 64 * 2**20)
    libc.mallopt(m_trim_threshold, 2**31 - 1)
    libc.mallopt(m_top_pad, 2**28)


def _refuse_negative_indices(argv: list[str]) -> None:
    """``--style-mask -1=m.png``: argparse would take ``-1=m.png`` for an unknown option and say
    "expected at least one argument"; say what is wrong instead, by the masks' own rule."""
    from ..transfer.masks import refuse_negative_index

    for token in argv:
        try:
            refuse_negative_index(token)
        except ValueError as exc:
            raise ValueError(f"--style-masks: {exc}") from None


def main(argv: Sequence[str] | None = None) -> int:
    from ..errors import one_line
    from ..settings import ConfigError

    signals.install()
    try:
        argv = list(sys.argv[1:] if argv is None else argv)
        _refuse_negative_indices(argv)
        args = build_parser().parse_args(argv)
        _keep_freed_memory()
        status = args.run(args)
        sys.stdout.flush()  # here, so that a reader gone away (`| head`) is met below, not at exit
        return status
    except BrokenPipeError:
        # The reader of our output has gone (`stylegram layers | head -1`): nothing is wrong, and
        # nothing more can be said. Point stdout at /dev/null so Python's own flush at exit is quiet.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except ConfigError as exc:  # a setting: name the flag the user typed
        print(f"stylegram: error: {one_line(exc.for_cli())}", file=sys.stderr)
        return EXIT_ERROR
    except ValueError as exc:  # every other user error is a ValueError with a one-line message
        print(f"stylegram: error: {one_line(str(exc))}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt as stop:
        print("stylegram: interrupted", file=sys.stderr)
        return signals.interrupted_exit_code(stop)
    except MemoryError:
        print("stylegram: error: out of memory; try a smaller --size", file=sys.stderr)
        return EXIT_ERROR


def run() -> int:
    """The `stylegram` command (pyproject's script, and `python -m stylegram`): `main`, then
    every object left frozen out of the garbage collector (`gc.freeze`). The interpreter's exit
    passes over torch's objects: a 512-px job's process ended 0.34 s after its file was
    written, and ends 0.14 s after it frozen. Freezing skips only those passes: atexit handlers
    still run, threads are joined, objects no longer referenced are freed, and the command's
    files are written and closed before. Not in `main`, which tests and programs call in their
    own long-lived processes."""
    status = main()
    gc.freeze()
    return status


if __name__ == "__main__":
    sys.exit(run())
