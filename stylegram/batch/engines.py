"""The engine interface, the local engine, and the batch loop that drives either one.

An engine takes tasks (image bytes and settings) and yields their outcomes (PNG bytes or an
error) as they finish, in any order. Only the batch loop here touches the output folder, so
every file is written once, atomically, by the process that started the batch, wherever the
job ran.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

from ..errors import describe
from ..image import write_atomic
from ..transfer import Iterate
from .jobs import Job, Models, Outcome, Task, run_task, task_of
from .manifest import Manifest, record


class Engine(Protocol):
    """Runs tasks and yields each one's outcome as it finishes."""

    def run(self, tasks: Iterable[Task]) -> Iterator[Outcome]: ...

    def close(self) -> None: ...


class LocalEngine:
    """In this process, one job after another: each job already uses every core for its
    convolutions, so jobs side by side would only share the same cores (see docs/cluster.md)."""

    def __init__(self, *, on_step: Callable[[Task, Iterate], None] | None = None) -> None:
        self.models, self.on_step = Models(), on_step

    def run(self, tasks: Iterable[Task]) -> Iterator[Outcome]:
        for task in tasks:
            step = functools.partial(self.on_step, task) if self.on_step else None
            try:
                yield run_task(task, self.models, callback=step)
            except (
                RuntimeError,
                MemoryError,
            ) as exc:  # one job's failure is recorded; the batch goes on
                yield Outcome(task.key, None, describe(exc), 0.0)

    def close(self) -> None:
        pass


def _writes(data: bytes) -> Callable[[IO[bytes]], object]:
    """What `write_atomic` calls to fill a file with `data`."""
    return lambda f: f.write(data)


@dataclass
class Summary:
    """How a batch went: jobs run now, skipped as done before, and the failures (job, error)."""

    total: int
    skipped: int
    done: int
    failed: list[tuple[Job, str]]


def run_batch(
    jobs: Sequence[Job],
    outdir: str | os.PathLike,
    engine: Engine,
    *,
    on_outcome: Callable[[Job, Outcome], None] | None = None,
) -> Summary:
    """Run the jobs not already done in `outdir`'s manifest on `engine`; write each result and
    its manifest line as it arrives.

    Args:
        jobs: from `make_jobs`; their output names are distinct.
        outdir: an existing folder.
        engine: where the jobs run.
        on_outcome: called after each job's file and line are written.
    """
    outdir = Path(outdir)
    manifest = Manifest(outdir)
    done = manifest.done()
    todo = {job.key: job for job in jobs if job.key not in done}
    summary = Summary(len(jobs), len(jobs) - len(todo), 0, [])
    for outcome in engine.run(task_of(job) for job in todo.values()):
        job = todo[outcome.key]
        if outcome.png is not None:
            write_atomic(outdir / job.output, _writes(outcome.png))
            summary.done += 1
        else:
            summary.failed.append((job, outcome.error or "failed"))
        manifest.append(record(job, outcome))
        if on_outcome:
            on_outcome(job, outcome)
    return summary
