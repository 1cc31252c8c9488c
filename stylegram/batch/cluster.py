"""The Dask distributed engine: jobs on the workers of a running scheduler.

A `WorkerPlugin` loads VGG once per worker (and again in a worker that replaces a dead one).
Tasks carry image bytes and results come back as PNG bytes, so workers need no shared file
system; the client writes every file. A worker that dies mid-job loses only that job's try: the
scheduler gives the task to another worker, and `retries` covers unexpected errors.
Dask is an optional extra (``pip install 'stylegram[dask]'``), imported only here, lazily.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from ..errors import describe
from ..settings import ConfigError
from ..vgg import Pooling
from .jobs import Models, Outcome, Task, run_task

PLUGIN = "stylegram-vgg"
SCHEDULER_ENV = "STYLEGRAM_SCHEDULER"
THREADS_ENV = "STYLEGRAM_TORCH_THREADS"  # torch threads per worker; default: cores / worker threads


def _distributed():
    try:
        import distributed
    except ImportError:
        raise ConfigError(
            "scheduler", "needs Dask distributed: pip install 'stylegram[dask]'"
        ) from None
    return distributed


def connect(address: str, *, timeout: float = 5.0):
    """A `distributed.Client` for the scheduler at `address` that has at least one worker; a
    one-line ValueError within about `timeout` seconds when nothing answers."""
    distributed = _distributed()
    if not re.fullmatch(r"(tcp|tls|inproc|ucx)://\S+", address):
        raise ConfigError("scheduler", f"'{address}': give an address like tcp://HOST:8786")
    try:
        client = distributed.Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ConfigError(
            "scheduler",
            f"{address}: no answer within {timeout:g} s "
            f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})",
        ) from None
    try:
        client.wait_for_workers(1, timeout=timeout)
    except (OSError, TimeoutError):
        client.close()
        raise ConfigError(
            "scheduler",
            f"{address}: the scheduler has no workers; start some with 'dask worker {address}'",
        ) from None
    return client


def _plugin_class():
    _distributed()  # a ConfigError naming the extra if Dask is missing
    from distributed import WorkerPlugin

    class VGGPlugin(WorkerPlugin):
        """Loads VGG when a worker starts, once, for every job and scan that worker runs."""

        name = PLUGIN

        def __init__(self, weights: str | None = None, pooling: Pooling = "max") -> None:
            self.weights, self.pooling = weights, pooling

        def setup(self, worker) -> None:
            import torch

            # Dask starts workers with OMP_NUM_THREADS=1; a style transfer wants the cores.
            threads = os.environ.get(THREADS_ENV) or (os.cpu_count() or 1) // max(
                1, getattr(worker, "nthreads", 1)
            )
            torch.set_num_threads(max(1, int(threads)))
            self.models = Models()
            self.models.get(self.weights, self.pooling)
            self.scratch = (
                Path(worker.local_directory) / "stylegram"
            )  # removed by Dask when the worker exits

    return VGGPlugin


class InFlight:
    """Tasks kept in flight two per worker thread, one more submitted as each finishes: the
    cluster stays busy, and a task's bytes travel only shortly before it runs. Iterate over it for
    the futures as they finish; `refill()` after a task's future, `add()` for other work.

    Args:
        client: a connected `distributed.Client`.
        submit: submits the next task and returns its future, or None when there are no more.
    """

    def __init__(self, client, submit: Callable[[], object | None]) -> None:
        threads = sum(w.get("nthreads", 1) for w in client.scheduler_info()["workers"].values())
        self.submit = submit
        first = [f for f in (submit() for _ in range(2 * max(1, threads))) if f is not None]
        self.empty = not first
        # The client's own loop, not the default client's: there may be none.
        self.running = _distributed().as_completed(first, loop=client.loop)

    def __iter__(self):
        return iter(self.running)

    def refill(self) -> None:
        more = self.submit()
        if more is not None:
            self.running.add(more)

    def add(self, future) -> None:
        self.running.add(future)


def register_vgg(client, weights: str | None = None, pooling: Pooling = "max") -> None:
    """Load VGG on every worker now and on every worker that joins later."""
    client.register_plugin(_plugin_class()(weights, pooling), name=PLUGIN)


def worker_plugin():
    """The plugin of the worker this runs on."""
    return _distributed().get_worker().plugins[PLUGIN]


def _run_on_worker(task: Task) -> Outcome:
    return run_task(task, worker_plugin().models)


class DaskEngine:
    """Jobs on a Dask cluster, at most two per worker thread in flight, so the client holds the
    bytes of a bounded number of images however long the batch.

    Args:
        client: from `connect`; VGG is registered on its workers here.
        weights: the VGG weights file, which must exist at this path on every worker.
        pooling: the batch's pooling (jobs with another one load it on first use).
        retries: tries after an unexpected error in a job.
    """

    def __init__(
        self, client, *, weights: str | None = None, pooling: Pooling = "max", retries: int = 2
    ) -> None:
        self.client, self.retries = client, retries
        register_vgg(client, weights, pooling)

    def run(self, tasks: Iterable[Task]) -> Iterator[Outcome]:
        tasks = iter(tasks)
        pending: dict[str, tuple[object, str]] = {}  # future key -> (future, task key)

        def submit():
            task = next(tasks, None)
            if task is None:
                return None
            future = self.client.submit(_run_on_worker, task, retries=self.retries, pure=False)
            pending[future.key] = (future, task.key)
            return future

        flight = InFlight(self.client, submit)
        if flight.empty:
            return
        try:
            for future in flight:
                _, key = pending.pop(future.key)
                try:
                    outcome = future.result()
                except Exception as exc:  # a worker killed too often, an error retried in vain
                    outcome = Outcome(key, None, describe(exc), 0.0)
                future.release()
                flight.refill()
                yield outcome
        finally:
            self.client.cancel([f for f, _ in pending.values()])

    def close(self) -> None:
        self.client.close()
