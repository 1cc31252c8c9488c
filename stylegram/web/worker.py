"""The worker process that runs style-transfer jobs one at a time, and its manager.

The server's event loop never runs the optimiser: jobs go to a separate process (spawned, so it
shares no threads or locks with the server) through a queue, and its progress comes back as
small dicts on another queue. The worker writes only images into the job's folder; the server
turns the events into the job record and fans them out to clients (crowsonkb's web view does
the same with a progress queue).
"""

from __future__ import annotations

import asyncio
import ctypes
import multiprocessing as mp
import queue
import threading
import time
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from ..errors import describe

STOP = None
NO_JOB = -1


class Cancelled(Exception):
    pass


def _run_job(
    task: dict[str, Any], models: dict, cancel, send: Callable[[dict], None], interval: float
) -> None:
    """Run one job; every outcome is sent as an event, never raised."""
    from ..image import open_image, save_image, to_tensor
    from ..transfer import StyleConfig, stylize
    from ..transfer.plan import plan, work_done
    from ..transfer.provenance import png_metadata
    from ..weights import load_vgg
    from .store import SEGMENTATIONS, with_inputs

    folder, seq, job_id = Path(task["dir"]), task["seq"], task["id"]
    n = task["n_styles"]
    try:
        given = StyleConfig(**task["config"])
        inputs = (n if task["masks"] else 0, SEGMENTATIONS if task.get("segmentations") else ())
        config = with_inputs(given, *inputs, folder=folder)
        init = None
        if task.get("resume_from_image") and (folder / "current.png").exists():
            init = to_tensor(open_image(folder / "current.png"))
        if config.pooling not in models:
            models[config.pooling] = load_vgg(pooling=config.pooling)
        last = {"saved": 0.0, "scale": -1, "preview": task.get("preview", 0)}
        plans = plan(folder / "content.png", config)  # for the share of the work each step is

        def on_step(event) -> None:
            if cancel.value == seq:
                raise Cancelled
            now = time.monotonic()
            ev = {
                "id": job_id,
                "type": "progress",
                "step": event.step,
                "steps": event.total_steps,
                "scale": event.scale,
                "n_scales": event.n_scales,
                "size": list(event.size),
                "losses": event.losses,
                "time": time.time(),
                "done": work_done(plans, event.step),
            }
            if (
                now - last["saved"] >= interval
                or event.scale != last["scale"]
                or event.step == event.total_steps
            ):
                save_image(event.image, folder / "current.png")
                last.update(saved=now, scale=event.scale, preview=last["preview"] + 1)
                ev["preview"] = last["preview"]
            send(ev)

        styles = [folder / f"style_{i}.png" for i in range(n)]
        result = stylize(
            folder / "content.png",
            styles,
            config,
            callback=on_step,
            model=models[config.pooling],
            init=init,
        )
        names = task["names"]
        # The command names the masks and segmentations as the page offers them, not the
        # server's paths.
        meta = png_metadata(
            with_inputs(given, *inputs),
            names.get("content", "content.png"),
            names.get("styles", []),
            "stylized.png",
        )
        save_image(result, folder / "result.png", metadata=meta)
        send({"id": job_id, "type": "done", "time": time.time(), "preview": last["preview"] + 1})
    except Cancelled:
        send({"id": job_id, "type": "cancelled", "time": time.time()})
    except ValueError as exc:  # a ConfigError too
        send({"id": job_id, "type": "failed", "error": str(exc), "time": time.time()})
    except MemoryError:
        send(
            {
                "id": job_id,
                "type": "failed",
                "error": "out of memory; try a smaller size",
                "time": time.time(),
            }
        )
    except Exception as exc:  # a bug: report it on the job rather than kill the worker
        send(
            {
                "id": job_id,
                "type": "failed",
                "error": f"internal error: {describe(exc)}",
                "time": time.time(),
            }
        )


def worker_main(tasks, events, cancel, interval: float) -> None:
    """The worker process: take a task, run it, repeat; None stops it."""
    import signal

    signal.signal(
        signal.SIGINT, signal.SIG_IGN
    )  # Ctrl-C goes to the server, which stops us in order
    models: dict = {}
    while True:
        task = tasks.get()
        if task is STOP:
            return
        events.put({"id": task["id"], "type": "started", "time": time.time()})
        _run_job(task, models, cancel, events.put, interval)


MAX_DEATHS = 3  # deaths in a row (no event between) that get a new process; one more breaks it


class Worker:
    """The server's side: starts the process, feeds it one job at a time, reads its events.

    `on_event(event)` is called on the event loop for each event; a dead process is reported as
    a "failed" event for the job it was running, and a fresh process is started.
    """

    def __init__(self, on_event: Callable[[dict], None], *, interval: float) -> None:
        self._ctx = mp.get_context("spawn")
        self._on_event, self._interval = on_event, interval
        self.current: str | None = None  # the job id the process is running
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False
        self.deaths = 0  # in a row, without an event between: a process that cannot start
        self.broken = False  # after MAX_DEATHS + 1 such deaths: no job is given to it again

    def start(self) -> None:
        """Get ready; the process itself starts with the first job, so an idle studio costs nothing."""
        self._loop = asyncio.get_running_loop()
        self._process: BaseProcess | None = None

    def _spawn(self) -> None:
        assert self._loop is not None  # submit() needs self._process, which start() makes too
        self._tasks, self._events = self._ctx.Queue(), self._ctx.Queue()
        self._cancel = self._ctx.RawValue(ctypes.c_longlong, NO_JOB)  # Value(lock=False), typed
        process = self._ctx.Process(
            target=worker_main,
            name="stylegram-worker",
            daemon=True,
            args=(self._tasks, self._events, self._cancel, self._interval),
        )
        self._process = process
        process.start()
        self._reader = threading.Thread(
            target=self._read, args=(process, self._loop), name="stylegram-events", daemon=True
        )
        self._reader.start()

    def submit(self, task: dict[str, Any]) -> None:
        if self._process is None:
            self._spawn()
        self.current = task["id"]
        self._tasks.put(task)

    def cancel(self, seq: int) -> None:
        self._cancel.value = seq

    def _read(self, process: BaseProcess, loop: asyncio.AbstractEventLoop) -> None:
        """A thread: move events from the process onto the event loop; notice a dead process."""
        events = self._events
        while True:
            try:
                event = events.get(timeout=0.5)
            except queue.Empty:
                if self._stopping:
                    return
                if not process.is_alive():
                    loop.call_soon_threadsafe(self._died, process.exitcode)
                    return
                continue
            except (EOFError, OSError):
                return
            if event is STOP:
                return
            self.deaths = 0
            loop.call_soon_threadsafe(self._on_event, event)

    def _died(self, exitcode) -> None:
        if self._stopping:
            return
        job, self.current = self.current, None
        self.deaths += 1
        self._process = None  # the next job starts a fresh one, unless it keeps dying
        self.broken = self.deaths > MAX_DEATHS
        if job is not None:
            self._on_event(
                {
                    "id": job,
                    "type": "failed",
                    "time": time.time(),
                    "error": f"the worker process died (exit code {exitcode}); out of memory?",
                }
            )

    async def stop(self, timeout: float = 10.0) -> None:
        """Stop the process. A running job is not cancelled: the process is terminated and the
        job stays 'running' on disk, so that the next start resumes it."""
        self._stopping = True
        process = self._process
        if process is None:
            return
        self._tasks.put(STOP)
        if self.current is None:
            await asyncio.to_thread(process.join, timeout)
        if process.is_alive():
            process.terminate()
            await asyncio.to_thread(process.join, 5)
        self._events.put(STOP)
        await asyncio.to_thread(self._reader.join, 2)
