"""Progress events fanned out to every client that follows a job, as Server-Sent Events.

Each client has its own bounded queue; a client too slow to keep up loses its oldest events
(the next one carries the whole state anyway), so no client can slow the server or the job.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from .store import FINISHED

HISTORY = 2000  # loss points kept per job for the plot of a client that joins late
QUEUE = 64
KEEPALIVE = 15.0


class Hub:
    def __init__(self) -> None:
        self._followers: dict[str, set[asyncio.Queue]] = {}
        self.history: dict[str, list[dict[str, Any]]] = {}

    def publish(self, job_id: str, event: dict[str, Any]) -> None:
        if event.get("type") == "progress":
            points = self.history.setdefault(job_id, [])
            points.append({"step": event["step"], "losses": event["losses"]})
            del points[:-HISTORY]
        for q in self._followers.get(job_id, ()):
            if q.full():
                q.get_nowait()
            q.put_nowait(event)

    def follow(self, job_id: str) -> asyncio.Queue:
        q: asyncio.Queue = asyncio.Queue(QUEUE)
        self._followers.setdefault(job_id, set()).add(q)
        return q

    def leave(self, job_id: str, q: asyncio.Queue) -> None:
        followers = self._followers.get(job_id, set())
        followers.discard(q)
        if not followers:
            self._followers.pop(job_id, None)

    def forget(self, job_id: str) -> None:
        self.history.pop(job_id, None)


def sse(event: str, data: Any) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


async def stream(
    hub: Hub, job_id: str, snapshot: Callable[[], dict[str, Any]]
) -> AsyncIterator[bytes]:
    """A job's events: first a snapshot (the record and the loss history), then each event,
    until the one that finishes the job."""
    q = hub.follow(job_id)  # before the snapshot, so no event falls between the two
    try:
        job = snapshot()
        yield sse("snapshot", {"job": job, "history": hub.history.get(job_id, [])})
        if job["state"] in FINISHED:
            return
        while True:
            try:
                event = await asyncio.wait_for(q.get(), KEEPALIVE)
            except asyncio.TimeoutError:
                yield b": keepalive\n\n"
                continue
            yield sse(event["type"], event)
            if event.get("state") in FINISHED:
                return
    finally:
        hub.leave(job_id, q)
