"""SIGTERM behaves like Ctrl-C: the command saves what it has and exits (143 instead of 130).

Before a command has started there is nothing to save: a Ctrl-C while the CLI loads its modules
ends the process at once (`start_up`). Only the standard library's `os` and `signal` are imported
here, so that this module loads before everything it guards.
"""

from __future__ import annotations

import os
import signal

EXIT_INTERRUPTED = 130  # 128 + SIGINT
EXIT_TERMINATED = 143  # 128 + SIGTERM


class Terminated(KeyboardInterrupt):
    """Raised in the main thread on SIGTERM, so every `except KeyboardInterrupt` saves the work."""


def _raise_terminated(signum, frame) -> None:
    raise Terminated()


def install() -> None:
    signal.signal(signal.SIGTERM, _raise_terminated)
    # Ctrl-C raises KeyboardInterrupt even when whatever started us ignored SIGINT: Python then
    # leaves it ignored, and a Ctrl-C would never stop the job or save its image.
    signal.signal(signal.SIGINT, signal.default_int_handler)


class start_up:
    """While stylegram's modules (and torch, numpy, OpenCV) load: a Ctrl-C writes one line and
    ends the process with 130 at once, instead of raising KeyboardInterrupt.

    Raised there, the exception would surface in whatever Python code a C extension's
    initialisation happens to be running; torch's pybind11 code then calls std::terminate
    (SIGABRT, "terminate called after throwing an instance of 'pybind11::error_already_set'":
    2 runs in 80 on a loaded machine, Ctrl-C 0.05-1 s into `python -m stylegram layers`), and
    numpy reports it as an ImportError. Nothing is open or written yet, so nothing is lost by
    skipping Python's clean-up. The previous handler comes back when the imports are done.
    (A plain class, not contextlib's decorator: contextlib would widen the window it closes.)
    """

    def __enter__(self) -> None:
        self._previous = signal.signal(signal.SIGINT, _exit_at_once)

    def __exit__(self, *exc_info: object) -> None:
        signal.signal(signal.SIGINT, self._previous)


def _exit_at_once(signum, frame) -> None:
    os.write(2, b"stylegram: interrupted\n")
    os._exit(EXIT_INTERRUPTED)


def interrupted_exit_code(stop: BaseException) -> int:
    return EXIT_TERMINATED if isinstance(stop, Terminated) else EXIT_INTERRUPTED
