"""The HTTP API under Starlette's TestClient, with the real worker process and real weights on
64-px jobs of a few steps: each endpoint, each job state, cancel, and a restart."""

from __future__ import annotations

import io
import json
import os
import signal
import time

import numpy as np
from PIL import Image

from .conftest import TINY, job_files, png_bytes, wait_for

FINISHED = ("done", "failed", "cancelled", "interrupted")


def events_of(client, job_id: str, timeout: float = 60) -> list[tuple[str, dict]]:
    """Every SSE event of a job until the stream ends (it ends when the job finishes)."""
    out, kind = [], None
    start = time.monotonic()
    with client.stream("GET", f"/api/jobs/{job_id}/events", timeout=timeout) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            assert time.monotonic() - start < timeout, "the event stream did not end"
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                out.append((kind, json.loads(line[6:])))
    return out


def job(client, job_id: str) -> dict:
    r = client.get(f"/api/jobs/{job_id}")
    assert r.status_code == 200, r.text
    return r.json()


def state_is(client, job_id: str, *states: str):
    return lambda: job(client, job_id)["state"] in states


def test_job_states_events_image_and_cancel(make_client, content_path, style_path):
    with make_client() as client:
        a = client.post("/api/jobs", **job_files(content_path, [style_path]))
        assert a.status_code == 201, a.text
        a = a.json()["id"]
        assert a.isalnum() and len(a) == 16  # made by the server
        b = client.post("/api/jobs", **job_files(content_path, [style_path])).json()["id"]
        c = client.post("/api/jobs", **job_files(content_path, [style_path])).json()["id"]
        assert job(client, a)["state"] == "running" and job(client, b)["state"] == "queued"
        assert client.get(f"/api/jobs/{b}/image").status_code == 404  # queued: nothing to show yet
        # c's input goes bad on disk while it waits: the worker reports the job failed, and goes on.
        (client.app.state.studio.store.dir(c) / "content.png").write_bytes(b"not a png")
        r = client.delete(f"/api/jobs/{b}")
        assert r.status_code == 200 and r.json()["state"] == "cancelled"

        events = events_of(client, a)
        kinds = [k for k, _ in events]
        assert kinds[0] == "snapshot" and kinds[-1] == "done"
        steps = [e["step"] for k, e in events if k == "progress"]
        assert steps[-1] == TINY["iterations"] and steps == sorted(steps)
        assert events[-1][1]["job"]["state"] == "done"
        record = job(client, a)
        assert record["step"] == record["steps"] == TINY["iterations"] and record["error"] is None
        assert record["preview"] >= 2
        r = client.get(f"/api/jobs/{a}/image")
        assert r.status_code == 200 and r.headers["content-type"] == "image/png"
        im = Image.open(io.BytesIO(r.content))
        assert max(im.size) == 64
        assert json.loads(im.text["stylegram:settings"])["size"] == 64  # the settings, in the PNG
        assert im.text["stylegram:command"].startswith(
            "stylegram stylize chelsea.jpg starry_night.jpg"
        )

        wait_for(state_is(client, c, *FINISHED), 60, "the bad job to finish")
        failed = job(client, c)
        assert failed["state"] == "failed" and "content.png" in failed["error"], failed

        listed = client.get("/api/jobs").json()["jobs"]
        assert [j["id"] for j in listed] == [a, b, c]
        assert [j["state"] for j in listed] == ["done", "cancelled", "failed"]

        d = client.post(
            "/api/jobs", **job_files(content_path, [style_path], {**TINY, "iterations": 500})
        ).json()["id"]
        wait_for(lambda: job(client, d)["step"] >= 1, 60, "the long job's first step")
        r = client.delete(f"/api/jobs/{d}")
        assert r.status_code == 202 and r.json()["cancelling"]
        wait_for(state_is(client, d, *FINISHED), 30, "the cancel")
        assert job(client, d)["state"] == "cancelled" and job(client, d)["step"] < 500
        assert (
            client.get(f"/api/jobs/{d}/image").status_code == 200
        )  # the last preview stays viewable

        # The worker process dies mid-job (the OOM killer, say): the job fails, a new worker runs the next.
        e = client.post(
            "/api/jobs", **job_files(content_path, [style_path], {**TINY, "iterations": 500})
        ).json()["id"]
        f = client.post(
            "/api/jobs", **job_files(content_path, [style_path], {**TINY, "iterations": 1})
        ).json()["id"]
        wait_for(lambda: job(client, e)["step"] >= 1, 60, "the doomed job's first step")
        os.kill(client.app.state.studio.worker._process.pid, signal.SIGKILL)
        wait_for(state_is(client, f, "done"), 60, "the next job, on a fresh worker")
        assert (
            job(client, e)["state"] == "failed" and "worker process died" in job(client, e)["error"]
        )

        assert client.delete(f"/api/jobs/{a}").json()["deleted"]  # a finished job is deleted
        assert client.get(f"/api/jobs/{a}").status_code == 404
        assert not client.app.state.studio.store.dir(a).exists()
        assert client.get(f"/api/jobs/{a}/events").status_code == 404


def test_restart_keeps_history_resumes_running_and_runs_queued(
    make_client, tmp_path, content_path, style_path
):
    data = tmp_path / "data"
    with make_client(data) as client:
        long = client.post(
            "/api/jobs", **job_files(content_path, [style_path], {**TINY, "iterations": 500})
        ).json()["id"]
        queued = client.post("/api/jobs", **job_files(content_path, [style_path])).json()["id"]
        wait_for(
            lambda: job(client, long)["preview"] >= 1 and job(client, long)["step"] >= 2,
            60,
            "a saved preview",
        )
    # The server stopped with `long` running and `queued` waiting.
    with make_client(data) as client:
        record = job(client, long)
        assert (
            record["state"] == "running" and record["resumed"] == 1 and record["resume_from_image"]
        )
        assert job(client, queued)["state"] == "queued"
        wait_for(
            lambda: client.app.state.studio.hub.history.get(long),
            60,
            "the resumed job's first step",
        )
        first = client.app.state.studio.hub.history[long][0]
        assert (
            first["step"] == 1 and first["losses"]["content"] > 0
        )  # it starts from the saved image, not the photo
        client.delete(f"/api/jobs/{long}")
        wait_for(state_is(client, queued, "done"), 60, "the queued job to run after the restart")
    with make_client(data) as client:  # the history survives, finished jobs stay as they were
        assert [j["state"] for j in client.get("/api/jobs").json()["jobs"]] == ["cancelled", "done"]
        assert client.get(f"/api/jobs/{queued}/image").status_code == 200


def test_a_worker_that_keeps_dying_fails_the_queue_and_refuses_new_jobs(
    make_client, content_path, style_path
):
    """Issue 27: after four deaths in a row the worker was marked with the string "broken" and new
    jobs still got 201 and waited for ever. Each process here is killed before it says anything."""
    from stylegram.web.worker import MAX_DEATHS

    with make_client() as client:
        studio = client.app.state.studio
        slow = {**TINY, "iterations": 500}
        ids = [
            client.post("/api/jobs", **job_files(content_path, [style_path], slow)).json()["id"]
            for _ in range(6)
        ]
        killed: set[int] = set()
        deadline = time.monotonic() + 60
        while len(killed) <= MAX_DEATHS and time.monotonic() < deadline:
            process = studio.worker._process
            if process is not None and process.pid is not None and process.pid not in killed:
                os.kill(process.pid, signal.SIGKILL)
                killed.add(process.pid)
            time.sleep(0.02)
        wait_for(
            lambda: all(job(client, i)["state"] == "failed" for i in ids), 30, "every job to fail"
        )
        assert "worker process died" in job(client, ids[0])["error"]
        assert (
            f"died {MAX_DEATHS + 1} times in a row" in job(client, ids[-1])["error"]
        )  # queued, never run
        r = client.post("/api/jobs", **job_files(content_path, [style_path]))
        assert r.status_code == 503 and "until the studio is restarted" in r.json()["error"], r.text


def test_the_studio_estimates_the_time_left_as_the_cli_does(make_client, content_path, style_path):
    """Issue 27: the studio used a plain per-step rate, which counts a 64-px step as a 32-px one."""
    from stylegram.transfer.plan import time_left

    two_scales = {**TINY, "size": 128, "iterations": 8, "scales": 2}
    with make_client() as client:
        job_id = client.post(
            "/api/jobs", **job_files(content_path, [style_path], two_scales)
        ).json()["id"]
        progress = [data for kind, data in events_of(client, job_id) if kind == "progress"]
    assert len(progress) == 8 and progress[-1]["done"] == 1.0
    assert progress[3]["done"] < 4 / 8  # the coarse scale's steps are the cheap ones
    first = progress[0]
    for event in progress[1:-1]:
        assert event["eta"] == round(
            time_left(event["time"] - first["time"], first["done"], event["done"]), 1
        )


def test_a_painting_without_a_painted_mask_paints_nowhere(make_client, content_path, style_path):
    """Two paintings, the first's mask painted and the second's not (all black, as the page
    sends it): the job is done, and its picture is the first painting's alone under its mask,
    byte for byte; the second painting is nowhere in it."""
    from tests.conftest import DATA

    w, h = Image.open(content_path).size
    painted = Image.new("L", (w, h), 0)
    painted.paste(255, (0, 0, w // 2, h))
    black = Image.new("L", (w, h), 0)
    scream = DATA / "paintings" / "the_scream.jpg"
    with make_client() as client:
        ids = [
            client.post("/api/jobs", **job_files(content_path, styles, masks=masks)).json()["id"]
            for styles, masks in (
                ([style_path, scream], [png_bytes(painted), png_bytes(black)]),
                ([style_path], [png_bytes(painted)]),
            )
        ]
        for job_id in ids:
            wait_for(state_is(client, job_id, *FINISHED), 120, "the job to finish")
            assert job(client, job_id)["state"] == "done", job(client, job_id)["error"]
        both, alone = (client.get(f"/api/jobs/{i}/image").content for i in ids)
        assert np.array_equal(
            np.asarray(Image.open(io.BytesIO(both))), np.asarray(Image.open(io.BytesIO(alone)))
        )


def test_the_command_before_start_is_the_one_the_job_gets(make_client, content_path, style_path):
    """POST /api/command writes the command as a job's is written (masks as the files that
    download beside it, names quoted), checks the settings as a job would (a one-line 400), and
    equals the command of the job then started with the same settings and pictures."""
    import shlex

    from stylegram.cli import build_parser

    settings = {"size": 64, "iterations": 2, "seed": 2**63 - 1, "style_blend": [1, 3]}
    names = {"content": "my photo.jpg", "styles": [style_path.name, style_path.name]}
    with make_client() as client:
        before = client.post("/api/command", json={"config": settings, **names, "masks": True})
        assert before.status_code == 200, before.text
        command = before.json()["command"]
        args = build_parser().parse_args(shlex.split(command)[1:])
        assert args.content == "my photo.jpg" and args.seed == 2**63 - 1
        assert list(args.style_masks) == ["0=mask_0.png", "1=mask_1.png"], command
        bad = client.post("/api/command", json={"config": {"size": 10}, **names, "masks": False})
        assert bad.status_code == 200 and "size" in bad.json()["refused"], bad.text
        assert "\n" not in bad.json()["refused"]
        w, h = Image.open(content_path).size
        white = png_bytes(Image.new("L", (w, h), 255))
        files = job_files(content_path, [style_path, style_path], masks=[white, white])
        files["data"] = {"config": json.dumps(settings)}
        files["files"] = [
            ("content", ("my photo.jpg", f[1][1], f[1][2])) if f[0] == "content" else f
            for f in files["files"]
        ]
        started = client.post("/api/jobs", **files)
        assert started.status_code == 201, started.text
        assert job(client, started.json()["id"])["command"] == command
        client.delete(f"/api/jobs/{started.json()['id']}")


def test_a_photo_to_photo_job_with_segmentations(make_client, content_path):
    """The studio takes photo to photo's two segmentations as files: the job pairs the regions
    (the photo's top, blue in both, takes the style's green bottom), its command names them as
    the files that download beside it, and those are the files sent."""
    import shlex

    from stylegram.cli import build_parser

    w, h = 96, 64
    style = Image.new("RGB", (w, h), (200, 30, 30))
    style.paste((30, 170, 40), (0, h // 2, w, h))
    segs = {}
    for field, top, bottom in (
        ("content_seg", "blue", "white"),
        ("style_seg", "white", "blue"),
    ):
        seg = Image.new("RGB", (w, h), bottom)
        seg.paste(top, (0, 0, w, h // 2))
        segs[field] = png_bytes(seg)
    photo = png_bytes(Image.open(content_path).convert("RGB").resize((w, h)))
    settings = {"size": w, "iterations": 30, "scales": 1, "seed": 0, "content_weight": 0.1}
    files = [("content", ("photo.png", photo, "image/png"))]
    files += [("style", ("style.png", png_bytes(style), "image/png"))]
    files += [(field, (f"my {field}.png", data, "image/png")) for field, data in segs.items()]
    with make_client() as client:
        made = client.post("/api/jobs", files=files, data={"config": json.dumps(settings)})
        assert made.status_code == 201, made.text
        job_id = made.json()["id"]
        wait_for(state_is(client, job_id, *FINISHED), 120, "the job to finish")
        record = job(client, job_id)
        assert record["state"] == "done", record["error"]
        args = build_parser().parse_args(shlex.split(record["command"])[1:])
        assert (args.content_seg, args.style_seg) == ("content_seg.png", "style_seg.png")
        for field, data in segs.items():
            sent = client.get(f"/api/jobs/{job_id}/files/{field}.png")
            assert sent.status_code == 200
            assert np.array_equal(
                np.asarray(Image.open(io.BytesIO(sent.content))),
                np.asarray(Image.open(io.BytesIO(data))),
            )
        asked = client.post(
            "/api/command",
            json={
                "config": settings,
                "content": "photo.png",
                "styles": ["style.png"],
                "segmentations": ["content_seg", "style_seg"],
            },
        )
        assert asked.json() == {"command": record["command"]}
        one = client.post(
            "/api/command",
            json={"config": {}, "content": "p", "styles": ["s"], "segmentations": ["style_seg"]},
        )
        assert "content_seg is needed too" in one.json()["refused"]
        result = client.get(f"/api/jobs/{job_id}/image").content
    out = np.asarray(Image.open(io.BytesIO(result)).convert("RGB"), dtype=float) / 255
    top, bottom = out[:28].mean((0, 1)), out[36:].mean((0, 1))
    green = lambda rgb: rgb[1] - rgb[0]  # noqa: E731
    assert green(top) > green(bottom) + 0.2, (top, bottom)
