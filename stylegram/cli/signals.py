"""SIGTERM behaves like Ctrl-C: the command saves what it has and exits (143 instead of 130)."""

from __future__ import annotations

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


def interrupted_exit_code(stop: BaseException) -> int:
    return EXIT_TERMINATED if isinstance(stop, Terminated) else EXIT_INTERRUPTED
