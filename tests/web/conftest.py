"""Fixtures of the web tests: an app under Starlette's TestClient, and a real server on a free
loopback port for the browser tests. Every wait is bounded."""

from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

pytest.importorskip("starlette")
pytest.importorskip("multipart")

ROOT = Path(__file__).resolve().parents[2]
TINY = {"size": 64, "iterations": 4, "scales": 1, "optimizer": "adam", "quality": "draft"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def png_bytes(im) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def job_files(
    content: Path, styles: list[Path], config: dict | None = None, masks: list[bytes] | None = None
):
    files = [("content", (content.name, content.read_bytes(), "image/jpeg"))]
    files += [("style", (s.name, s.read_bytes(), "image/jpeg")) for s in styles]
    files += [("mask", (f"mask_{i}.png", m, "image/png")) for i, m in enumerate(masks or [])]
    return {"files": files, "data": {"config": json.dumps(TINY if config is None else config)}}


def wait_for(predicate, timeout: float, what: str, every: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture
def make_client(tmp_path):
    """A TestClient for a fresh app over `data_dir` (the same dir again means a restart)."""
    with (
        warnings.catch_warnings()
    ):  # Starlette 1.x would like httpx2; httpx works and is what we install
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

    from stylegram.web.app import create_app
    from stylegram.web.config import ServeConfig

    def make(data_dir: Path = tmp_path / "data", **settings) -> TestClient:
        config = ServeConfig(data_dir=str(data_dir), preview_interval=0.05, **settings)
        return TestClient(create_app(config), base_url="http://127.0.0.1")

    return make


@contextlib.contextmanager
def serving(tmp_path: Path, *extra: str):
    """`stylegram serve` on a free loopback port, as a user starts it, with `extra` options;
    its URL."""
    import httpx

    port = free_port()
    log = open(tmp_path / "server.log", "wb")  # noqa: SIM115 -- the server writes it until the finally below
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "stylegram",
            "serve",
            "--port",
            str(port),
            "--data-dir",
            str(tmp_path / "data"),
            "--preview-interval",
            "0.05",
            *extra,
        ],
        stdout=log,
        stderr=log,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"

    def up():
        try:
            return httpx.get(url + "/api/settings", timeout=1).status_code == 200
        except httpx.HTTPError:
            assert proc.poll() is None, (tmp_path / "server.log").read_text()
            return False

    try:
        wait_for(up, 30, "the server to answer")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


@pytest.fixture
def server(tmp_path):
    """`stylegram serve` on a free loopback port, as a user starts it; its URL."""
    with serving(tmp_path) as url:
        yield url
