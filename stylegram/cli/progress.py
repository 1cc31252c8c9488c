"""Progress for people: a live bar on a terminal, a readable line every few seconds in a log.

When stderr is not a terminal (a file, a pipe, CI), a redrawn bar would fill the log with
carriage returns, so progress is printed as plain lines instead: one when a scale starts, then
at most one every `LOG_EVERY` seconds, and one at the end.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from typing import IO

LOG_EVERY = 5.0  # seconds between progress lines in a log


def _fmt(values: Mapping[str, float]) -> str:
    return " ".join(f"{k} {v:.3g}" for k, v in values.items())


class Progress:
    """Counts `total` units of work, shown as a tqdm bar on a terminal or as lines in a log."""

    def __init__(
        self,
        total: int,
        *,
        unit: str,
        quiet: bool = False,
        stream: IO[str] | None = None,
        desc: str = "",
        initial: int = 0,
        done_before: float = 0.0,
    ) -> None:
        """`initial` units (and `done_before`, the share of the work) are done already: by an
        earlier, interrupted run, say, or before the bar was made. The time left is estimated
        from the pace of the work done since."""
        self.stream = stream or sys.stderr
        self.done_before = done_before
        self.total, self.unit, self.quiet, self.n = total, unit, quiet, initial
        self.start = self._last = time.perf_counter()
        self._bar = None
        self._label, self._extra = desc, ""
        self._fraction: float | None = None
        if not quiet and self.stream.isatty():
            from tqdm import tqdm

            # tqdm's own estimate counts units as equal; the time left is ours (`_left`), in the postfix.
            self._bar = tqdm(
                total=total,
                initial=initial,
                unit=unit,
                desc=desc,
                dynamic_ncols=True,
                file=self.stream,
                bar_format="{desc}{percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]",
            )

    def update(
        self,
        n: int,
        *,
        label: str | None = None,
        values: Mapping[str, float] | None = None,
        fraction: float | None = None,
    ) -> None:
        """Set the count to `n`; `label` (a size, say) starting anew forces a log line.

        `fraction` is the share of the work done, where units of work differ in cost (a step at
        512 px costs 16 at 128 px); the time left is estimated from it when given.
        """
        self._fraction = fraction
        new_label = label is not None and label != self._label
        self._label = label if label is not None else self._label
        self._extra = _fmt(values) if values else self._extra
        delta, self.n = n - self.n, n
        if self._bar is not None:
            self._bar.set_description(self._label, refresh=False)
            left = self._left(time.perf_counter())
            self._bar.set_postfix_str(
                "; ".join(p for p in (left.lstrip(", "), self._extra) if p), refresh=False
            )
            self._bar.update(delta)
            return
        now = time.perf_counter()
        if not self.quiet and (new_label or now - self._last >= LOG_EVERY or n == self.total):
            self._last = now
            self.write(self._line(now))

    def _left(self, now: float) -> str:
        """ ", about N s left" from the share of the work done in this run (plan.time_left)."""
        from ..transfer.plan import time_left

        done = self._fraction if self._fraction is not None else self.n / self.total
        left = (
            time_left(now - self.start, self.done_before, done) if 0 < self.n < self.total else None
        )
        return f", about {left:.0f} s left" if left is not None else ""

    def _line(self, now: float) -> str:
        label = f"{self._label}: " if self._label else ""
        return (
            f"{label}{self.unit} {self.n}/{self.total} ({now - self.start:.0f} s{self._left(now)})"
            f" {self._extra}"
        ).rstrip()

    def write(self, line: str) -> None:
        """A message that does not break the bar."""
        if self._bar is not None:
            self._bar.write(line, file=self.stream)
        else:
            print(line, file=self.stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
