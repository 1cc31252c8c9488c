"""The studio's job queue: the job store, the worker process that runs one job at a time, and
the hub that fans each job's events out to its followers. A worker that keeps dying is broken:
the queued jobs fail and new ones are refused (the routes answer 503)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ..transfer.plan import time_left
from .events import Hub
from .store import JobStore
from .worker import MAX_DEATHS, Worker

BROKEN = (
    f"the worker process died {MAX_DEATHS + 1} times in a row; no job can run until the studio is"
    " restarted (out of memory?)"
)


def public(job: dict[str, Any]) -> dict[str, Any]:
    """A job's record as the API shows it (the queue's sequence number is the server's own)."""
    return {k: v for k, v in job.items() if k != "seq"}


class JobQueue:
    """Jobs in, events out: `dispatch` gives the worker the oldest queued job when it is idle."""

    def __init__(self, data: Path, *, interval: float) -> None:
        self.store = JobStore(data)
        self.hub = Hub()
        self.worker = Worker(self.on_event, interval=interval)
        self._first: dict[
            str, tuple[float, float]
        ] = {}  # job -> (time, share done) at its first step

    def start(self) -> None:
        self.store.recover()
        self.worker.start()
        self.dispatch()

    def dispatch(self) -> None:
        """Give the worker the oldest queued job, if it is idle; if it is broken, fail them all."""
        if self.worker.broken:
            for job in [j for j in self.store.list() if j["state"] == "queued"]:
                failed = self.store.update(
                    job["id"], state="failed", finished=time.time(), error=BROKEN
                )
                self.hub.publish(
                    job["id"],
                    {
                        "type": "failed",
                        "id": job["id"],
                        "error": BROKEN,
                        "state": "failed",
                        "job": public(failed),
                    },
                )
            return
        if self.worker.current is not None:
            return
        queued = self.store.next_queued()
        if queued is None:
            return
        job = self.store.update(queued["id"], state="running", started=time.time(), step=0)
        self.hub.forget(job["id"])
        self.worker.submit({**job, "dir": str(self.store.dir(job["id"]))})
        self.hub.publish(job["id"], {"type": "state", "id": job["id"], "state": "running"})

    def on_event(self, event: dict[str, Any]) -> None:
        job_id, kind = event["id"], event["type"]
        record = self.store.get(job_id)
        if record is None:
            return
        if kind == "progress":
            changes: dict[str, Any] = {
                k: event[k]
                for k in ("step", "steps", "scale", "n_scales", "size", "losses")
                if k in event
            }
            if "preview" in event:
                changes["preview"] = event["preview"]
            first = self._first.setdefault(job_id, (event["time"], event["done"]))
            left = time_left(
                event["time"] - first[0], first[1], event["done"]
            )  # the CLI's estimate
            if left is not None:
                changes["eta"] = event["eta"] = round(left, 1)
            job = self.store.update(job_id, persist="preview" in event, **changes)
        elif kind in ("done", "failed", "cancelled"):
            state = {"done": "done", "failed": "failed", "cancelled": "cancelled"}[kind]
            extra = {"preview": event["preview"], "step": record["steps"]} if kind == "done" else {}
            job = self.store.update(
                job_id,
                state=state,
                finished=event["time"],
                error=event.get("error"),
                eta=None,
                **extra,
            )
            self._first.pop(job_id, None)
            if self.worker.current == job_id:
                self.worker.current = None
            event["job"] = public(job)
        else:
            job = record
        event["state"] = job["state"]
        self.hub.publish(job_id, event)
        self.dispatch()

    async def stop(self) -> None:
        await self.worker.stop()
