"""The studio under load: how much 20 clients that follow a job's event stream and poll the API
slow the job down, against the same job with no clients.

    PYTHONPATH=. python3 benchmarks/bench_web.py [--size 256] [--iterations 40] [--clients 20] [--repeats 3]

It starts `stylegram serve` on a free loopback port, runs a warm-up job (the worker loads VGG),
then alternates jobs without and with clients. Each client is two threads: one follows
GET /api/jobs/{id}/events, one polls GET /api/jobs/{id} and GET /api/jobs/{id}/image every
0.25 s, like the page. A job's time is its record's `finished - started`. It also prints the
CPU seconds the server's own process used during each job (HTTP and the event relay; the job
runs in the worker, its child) and those of this process (the clients' threads), so the two
shares of a slowdown on a machine of few cores can be told apart (Linux: /proc).
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
from typing import NamedTuple

import httpx

ROOT = Path(__file__).resolve().parents[1]
PHOTO = ROOT / "tests" / "data" / "photos" / "chelsea.jpg"
PAINTING = ROOT / "tests" / "data" / "paintings" / "starry_night.jpg"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """User and system CPU seconds process `pid` has used, all its threads (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Run(NamedTuple):
    seconds: float  # the job's, from its record
    requests: int  # the clients made meanwhile
    server_cpu: float  # CPU seconds of the server's own process meanwhile
    clients_cpu: float  # ... and of this process, whose threads are the clients


def run_job(url: str, config: dict, clients: int, server: int) -> Run:
    """One job, with `clients` clients following it; `server` is the server's pid."""
    files = [
        ("content", (PHOTO.name, PHOTO.read_bytes())),
        ("style", (PAINTING.name, PAINTING.read_bytes())),
    ]
    cpu = cpu_seconds(server), time.process_time()
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
    return Run(
        job["finished"] - job["started"],
        requests[0],
        cpu_seconds(server) - cpu[0],
        time.process_time() - cpu[1],
    )


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
            run_job(url, {**config, "iterations": 2}, 0, server.pid)  # the worker loads VGG
            alone: list[Run] = []
            loaded: list[Run] = []
            for _ in range(args.repeats):
                alone.append(run_job(url, config, 0, server.pid))
                loaded.append(run_job(url, config, args.clients, server.pid))
        finally:
            server.terminate()
            server.wait(15)
    a = statistics.median(r.seconds for r in alone)
    b = statistics.median(r.seconds for r in loaded)
    rate = sum(r.requests for r in loaded) / sum(r.seconds for r in loaded)
    print(
        f"job: {args.size} px, {args.iterations} L-BFGS iterations; {args.repeats} runs each, medians"
    )
    print(
        "| clients | job (s) | ratio | server's CPU (s) | clients' CPU (s) |\n|---|---|---|---|---|"
    )
    for label, runs, seconds in (
        ("0", alone, a),
        (f"{args.clients} (SSE + polling, {rate:.0f} req/s)", loaded, b),
    ):
        server_cpu = statistics.median(r.server_cpu for r in runs)
        clients_cpu = statistics.median(r.clients_cpu for r in runs)
        print(
            f"| {label} | {seconds:.2f} | {seconds / a:.3f} | {server_cpu:.2f} | {clients_cpu:.2f} |"
        )


if __name__ == "__main__":
    main()
