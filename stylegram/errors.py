"""How a failure is told to a person: in one line.

stylegram's own messages quote paths, and a path may hold a newline: `one_line` escapes control
characters. A library's message (torch, PIL, Dask) may run to many lines: `summary` folds its
white space and cuts it short, and `describe` puts the exception's type before it.
"""

from __future__ import annotations

LIMIT = 200  # characters of a library's message kept in ours


def one_line(message: str) -> str:
    """`message` with each control character (a newline in a file name) written as its escape."""
    return "".join(
        ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in message
    )


def summary(exc: BaseException) -> str:
    """A library's message in one line of at most `LIMIT` characters (its type if it has none)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= LIMIT else text[:LIMIT] + "..."


def describe(exc: BaseException) -> str:
    """``TypeName: message`` in one line, for an error that is not the user's (a bug, a lost worker)."""
    return f"{type(exc).__name__}: {summary(exc)}"
