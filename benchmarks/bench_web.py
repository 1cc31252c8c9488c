"""The studio under load: how much 20 clients that follow a job's event stream and poll the API
slow the job down, against the same job with no clients.

    PYTHONPATH=. python3 benchmarks/bench_web.py [--size 256] [--iterations 40] [--clients 20] [--repeats 3]

It starts `stylegram serve` on a free loopback port, runs a warm-up job (the worker loads VGG),
then alternates jobs without and with clients. Each client is two threads: one follows
GET /api/jobs/{id}/events, one polls GET /api/jobs/{id} and GET /api/jobs/{id}/image every
0.25 s, like the page. A job's time is its record's `finished - started`.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
PHOTO = ROOT / "tests" / "data" / "photos" / "chelsea.jpg"
PAINTING = ROOT / "tests" / "data" / "paintings" / "starry_night.jpg"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_job(url: str, config: dict, clients: int) -> tuple[float, int]:
    """Seconds the job took, and how many requests the clients made meanwhile."""
    files = [
        ("content", (PHOTO.name, PHOTO.read_bytes())),
        ("style", (PAINTING.name, PAINTING.read_bytes())),
    ]
    r = httpx.post(url + "/api/jobs", files=files, data={"config": json.dumps(config)}, timeout=30)
    r.raise_for_status()
    job_id = r.json()["id"]
    stop, requests = threading.Event(), [0]

    def follow() -> None:
        with httpx.stream("GET", f"{url}/api/jobs/{job_id}/events", timeout=None) as s:
            for _ in s.iter_lines():
                if stop.is_set():
                    return

    def poll() -> None:
        with httpx.Client(timeout=10) as client:
            while not stop.is_set():
                client.get(f"{url}/api/jobs/{job_id}")
                client.get(f"{url}/api/jobs/{job_id}/image")
                requests[0] += 2
                time.sleep(0.25)

    threads = [
        threading.Thread(target=f, daemon=True) for _ in range(clients) for f in (follow, poll)
    ]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 1800
    while time.monotonic() < deadline:
        job = httpx.get(f"{url}/api/jobs/{job_id}", timeout=10).json()
        if job["state"] in ("done", "failed", "cancelled", "interrupted"):
            break
        time.sleep(0.5)
    stop.set()
    for t in threads:
        t.join(10)
    assert job["state"] == "done", job
    return job["finished"] - job["started"], requests[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--iterations", type=int, default=40)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    config = {"size": args.size, "iterations": args.iterations, "scales": 1}
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as data:
        server = subprocess.Popen(
            [sys.executable, "-m", "stylegram", "serve", "--port", str(port), "--data-dir", data],
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(120):
                try:
                    httpx.get(url + "/api/settings", timeout=1)
                    break
                except httpx.HTTPError:
                    time.sleep(0.5)
            run_job(url, {**config, "iterations": 2}, 0)  # warm-up: the worker loads VGG
            alone, loaded, total = [], [], 0
            for _ in range(args.repeats):
                alone.append(run_job(url, config, 0)[0])
                seconds, n = run_job(url, config, args.clients)
                loaded.append(seconds)
                total += n
        finally:
            server.terminate()
            server.wait(15)
    a, b = statistics.median(alone), statistics.median(loaded)
    print(
        f"job: {args.size} px, {args.iterations} L-BFGS iterations; {args.repeats} runs each, medians"
    )
    print(
        f"| clients | job (s) | ratio |\n|---|---|---|\n| 0 | {a:.2f} | 1.00 |\n"
        f"| {args.clients} (SSE + polling, {total / sum(loaded):.0f} req/s) | {b:.2f} | {b / a:.3f} |"
    )


if __name__ == "__main__":
    main()
