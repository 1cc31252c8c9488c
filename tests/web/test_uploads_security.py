"""Every bad upload is refused with a 4xx and a one-line JSON error, and leaves nothing behind;
the guard: loopback host names, the token, the origin; paths cannot leave the data dir."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest
from PIL import Image

from stylegram.settings import ConfigError
from stylegram.transfer import StyleConfig

from .conftest import TINY, png_bytes


def noise_png(w: int, h: int) -> bytes:
    return png_bytes(
        Image.fromarray(np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8))
    )


def post(client, content, styles, config=TINY, masks=None, extra=None, segs=None):
    files = [("content", ("photo.png", content, "image/png"))] if content is not None else []
    files += [("style", (f"s{i}.png", s, "image/png")) for i, s in enumerate(styles)]
    files += [("mask", (f"m{i}.png", m, "image/png")) for i, m in enumerate(masks or [])]
    files += [(field, (f"{field}.png", s, "image/png")) for field, s in (segs or {}).items()]
    data = {"config": config if isinstance(config, str) else json.dumps(config), **(extra or {})}
    return client.post("/api/jobs", files=files, data=data)


def test_bad_uploads_are_refused_and_leave_nothing(make_client, tmp_path, content_path, style_path):
    good, paint = content_path.read_bytes(), style_path.read_bytes()
    small_png = noise_png(96, 96)
    black_png = png_bytes(Image.new("L", (96, 96), 0))
    size = Image.open(content_path).size
    blue, white = (png_bytes(Image.new("RGB", size, c)) for c in ("blue", "white"))
    style_blue = png_bytes(Image.new("RGB", Image.open(style_path).size, "blue"))
    both = {"content_seg": blue, "style_seg": style_blue}
    cases = [  # (what, response, status, words in the message)
        ("no content", lambda c: post(c, None, [paint]), 400, "content"),
        ("no style", lambda c: post(c, good, []), 400, "style"),
        (
            "text named .png",
            lambda c: post(c, b"hello, I am text" * 10, [paint]),
            415,
            "not an image",
        ),
        ("a PDF", lambda c: post(c, good, [b"%PDF-1.4\n" + b"x" * 200]), 415, "not an image"),
        ("truncated JPEG", lambda c: post(c, good[:3000], [paint]), 400, "truncated"),
        ("empty file", lambda c: post(c, b"", [paint]), 400, "empty"),
        ("file too large", lambda c: post(c, noise_png(400, 400), [paint]), 413, "limit is 0.3 MB"),
        (
            "too many pixels",
            lambda c: post(c, png_bytes(Image.new("RGB", (1500, 1000))), [paint]),
            413,
            "megapixels",
        ),
        (
            "image too small",
            lambda c: post(c, png_bytes(Image.new("RGB", (8, 8))), [paint]),
            400,
            "at least",
        ),
        ("config not JSON", lambda c: post(c, good, [paint], "{size: 64"), 400, "not valid JSON"),
        ("config not object", lambda c: post(c, good, [paint], "[1, 2]"), 400, "JSON object"),
        (
            "unknown setting",
            lambda c: post(c, good, [paint], {"colour": 1}),
            400,
            "unknown setting 'colour'",
        ),
        (
            "server-only setting",
            lambda c: post(c, good, [paint], {"weights": "/etc/passwd"}),
            400,
            "weights cannot",
        ),
        *(
            (
                f"{name}, a file on the server",
                lambda c, name=name: post(c, good, [paint], {name: "/etc/passwd"}),
                400,
                f"{name} cannot be set through the web API",
            )
            for name in ("style_masks", "content_mask", "content_seg", "style_seg")
        ),
        (
            "init file",
            lambda c: post(c, good, [paint], {"init": "/etc/passwd"}),
            400,
            "init must be",
        ),
        (
            "bad value",
            lambda c: post(c, good, [paint], {"content_weight": -1}),
            400,
            "content_weight must be at least 0, not -1",
        ),
        (
            "bad choice",
            lambda c: post(c, good, [paint], {"quality": "best"}),
            400,
            "quality must be one of",
        ),
        (
            "blend count",
            lambda c: post(c, good, [paint], {"style_blend": [1, 2]}),
            400,
            "style_blend has 2 values",
        ),
        (
            "size over the server's limit",
            lambda c: post(c, good, [paint], {"size": 4096}),
            400,
            "at most 1024",
        ),
        (
            "mask count",
            lambda c: post(c, good, [paint, paint], masks=[small_png]),
            400,
            "one mask per style",
        ),
        ("bad mask", lambda c: post(c, good, [paint], masks=[b"nope" * 50]), 415, "not an image"),
        (
            "every mask black",  # painted, then erased: refused before it queues, no server path
            lambda c: post(c, good, [paint, paint], masks=[black_png, black_png]),
            400,
            "every mask is black",
        ),
        (
            "unknown field",
            lambda c: post(c, good, [paint], extra={"path": "../x"}),
            400,
            "unknown form field",
        ),
        ("not multipart", lambda c: c.post("/api/jobs", json={"size": 64}), 415, "multipart"),
        # Photo to photo's segmentations: the CLI's rules, in its words, before the job queues.
        (
            "one segmentation",
            lambda c: post(c, good, [paint], segs={"content_seg": blue}),
            400,
            "style_seg is needed too",
        ),
        (
            "segmentations and two styles",
            lambda c: post(c, good, [paint, paint], segs=both),
            400,
            "style_seg segments one style image",
        ),
        (
            "segmentations and masks",
            lambda c: post(c, good, [paint], masks=[small_png], segs=both),
            400,
            "cannot be combined with segmentations",
        ),
        (
            "segmentation not an image",
            lambda c: post(c, good, [paint], segs={**both, "style_seg": b"nope" * 50}),
            415,
            "'style_seg.png' is not an image",
        ),
        (
            "segmentation of another shape",
            lambda c: post(c, good, [paint], segs={**both, "content_seg": small_png}),
            400,
            "segmentation 'content_seg.png' is 96×96 but its image is",
        ),
        (
            "segmentation off the palette",
            lambda c: post(c, good, [paint], segs={**both, "content_seg": noise_png(*size)}),
            400,
            "segmentation 'content_seg.png' has colours outside the palette",
        ),
        (
            "segmentations that share no colour",
            lambda c: post(c, good, [paint], segs={**both, "content_seg": white}),
            400,
            "share no colour",
        ),
    ]
    data = tmp_path / "data"
    with make_client(data, max_upload_mb=0.3, max_megapixels=1.0, max_size=1024) as client:
        for what, send, status, words in cases:
            r = send(client)
            assert r.status_code == status, (what, r.status_code, r.text)
            body = r.json()
            assert list(body) == ["error"] and "\n" not in body["error"], (what, body)
            assert words in body["error"], (what, body["error"])
        assert client.get("/api/jobs").json() == {"jobs": []}
    assert [p.name for p in (data / "jobs").iterdir()] == []  # nothing left behind


def test_every_setting_that_names_a_file_is_the_servers_alone():
    """A StyleConfig field whose value is a file to read (its metavar says FILE, MASK or IMG)
    would let a client make the server read any file: each is refused (SERVER_ONLY), or, for
    init, limited to 'content' and 'random'. A new such field fails here until it is listed."""
    from dataclasses import fields

    from stylegram.transfer.config import StyleConfig
    from stylegram.web.uploads import SERVER_ONLY

    files = {
        f.name
        for f in fields(StyleConfig)
        if any(word in str(f.metadata.get("metavar", "")) for word in ("FILE", "MASK", "IMG"))
    }
    assert files >= {"weights", "init", "style_masks", "content_mask", "content_seg", "style_seg"}
    assert files - {"init"} <= set(SERVER_ONLY), files - set(SERVER_ONLY)


def test_settings_messages_match_the_cli(make_client, content_path, style_path):
    """The API and the CLI refuse a value with the same words: the field name or the flag."""
    with pytest.raises(ConfigError) as caught:
        StyleConfig(tv_weight=-5)
    with make_client() as client:
        r = post(client, content_path.read_bytes(), [style_path.read_bytes()], {"tv_weight": -5})
    assert r.json()["error"] == str(caught.value) == "tv_weight " + caught.value.problem
    assert caught.value.for_cli() == "--tv-weight " + caught.value.problem


def test_guard_host_origin_token_and_paths(make_client, tmp_path):
    from starlette.testclient import TestClient

    with make_client() as client:
        assert client.get("/api/jobs").status_code == 200
        evil = TestClient(client.app, base_url="http://evil.example")  # DNS rebinding
        r = evil.get("/api/jobs")
        assert r.status_code == 403 and "loopback" in r.json()["error"]
        r = client.post(
            "/api/jobs", headers={"origin": "http://evil.example"}, files={"content": ("a", b"x")}
        )
        assert r.status_code == 403 and "origin" in r.json()["error"]
        for path in (
            "/api/jobs/../../etc/passwd",
            "/api/jobs/0123456789abcdef",
            "/api/jobs/..%2F..%2Fjob.json",
            "/static/../app.py",
            "/static/%2e%2e/app.py",
        ):
            assert client.get(path).status_code == 404, path
        page = client.get("/")
        assert (
            page.status_code == 200
            and "default-src 'self'" in page.headers["content-security-policy"]
        )
        assert client.get("/static/app.js").status_code == 200

    token = "correct-horse-battery"
    with make_client(tmp_path / "other", host="0.0.0.0", token=token) as client:
        assert client.get("/api/jobs").status_code == 401
        assert (
            client.get("/api/jobs", headers={"authorization": "Bearer wrong-token"}).status_code
            == 401
        )
        assert (
            client.get("/api/jobs", headers={"authorization": f"Bearer {token}"}).status_code == 200
        )
        assert client.get("/api/jobs", headers={"x-stylegram-token": token}).status_code == 200
        assert client.get("/?token=nope", follow_redirects=False).status_code == 401
        r = client.get(f"/?token={token}", follow_redirects=False)
        assert r.status_code == 303 and "stylegram_token" in r.headers["set-cookie"]
        assert client.get("/api/jobs").status_code == 200  # the cookie now goes along


def test_non_loopback_needs_a_token(capsys):
    from stylegram.cli import main

    assert main(["serve", "--host", "0.0.0.0"]) == 1
    err = capsys.readouterr().err
    assert (
        err.startswith("stylegram: error: --token is required when listening on 0.0.0.0")
        and err.count("\n") == 1
    )


def test_unit_explorer(make_client, content_path, style_path):
    with make_client() as client:
        layers = client.get("/api/units").json()["layers"]
        assert [layer["name"] for layer in layers][:2] == ["relu1_2", "relu2_2"]
        r = client.get("/api/units/relu3_4/7/top.png?k=2")
        assert r.status_code == 200 and r.headers["content-type"] == "image/png"
        assert (
            Image.open(io.BytesIO(r.content)).width > Image.open(io.BytesIO(r.content)).height
        )  # a row
        assert client.get("/api/units/relu3_4/9999/top.png").status_code == 400
        photo = {"image": ("p.jpg", content_path.read_bytes(), "image/jpeg")}
        r = client.post(
            "/api/units/activation", files=photo, data={"layer": "relu3_4", "unit": "7"}
        )
        assert r.status_code == 200, r.text
        heat = Image.open(io.BytesIO(r.content))
        w, h = Image.open(content_path).size
        assert abs(heat.width / heat.height - w / h) < 0.02
        # The map is drawn in red over the grey photo: where the unit fires, red exceeds green.
        # A blank map (all zero) leaves the photo grey, red equal to green everywhere.
        rgb = np.asarray(heat.convert("RGB")).astype(int)
        excess = rgb[..., 0] - rgb[..., 1]
        assert excess.max() > 100 and excess.std() > 5 and excess.min() >= -1
        r = client.post(
            "/api/units/explain",
            files={"image": ("s.jpg", style_path.read_bytes(), "image/jpeg")},
            data={"layer": "relu2_2"},
        )
        found = r.json()
        assert r.status_code == 200 and len(found["channels"]) == 6
        energies = [c["energy"] for c in found["channels"]]
        assert 0 < sum(energies) <= 1 and found["painting"] == "s.jpg" and found["photos"] == 2
        # ranked by what the painting has more of than the scanned photos: s·log(s/r)
        terms = [c["energy"] * math.log(c["energy"] / c["reference"]) for c in found["channels"]]
        assert terms == sorted(terms, reverse=True) and terms[0] > 0
        assert all(
            c["ratio"] == pytest.approx(c["energy"] / c["reference"]) for c in found["channels"]
        )
        r = client.post(
            "/api/units/explain",
            files={"image": ("s.txt", b"text" * 30, "text/plain")},
            data={"layer": "relu2_2"},
        )
        assert r.status_code == 415


def test_explorer_refuses_an_image_too_thin_for_the_layer_with_one_json_line(make_client):
    """Issue 23: a 400×1 image made the activation and explain endpoints answer 500 in plain text."""
    from tests.web.conftest import png_bytes

    thin = {"image": ("thin.png", png_bytes(Image.new("RGB", (400, 1))), "image/png")}
    with make_client() as client:
        for route, data in (
            ("/api/units/activation", {"layer": "relu5_4", "unit": "0"}),
            ("/api/units/explain", {"layer": "relu5_4"}),
        ):
            r = client.post(route, files=thin, data=data)
            assert r.status_code == 400, r.text
            assert (
                "thin.png' is 400×1 px" in r.json()["error"]
                and "relu5_4 needs at least 16" in r.json()["error"]
            )


def test_the_web_api_refuses_what_the_cli_refuses(make_client, content_path, style_path):
    """Issue 23: max_memory "1K" and iterations 1e9 were queued; the CLI refuses both at once."""
    from tests.web.conftest import TINY, job_files

    with make_client() as client:
        r = client.post(
            "/api/jobs", **job_files(content_path, [style_path], {**TINY, "max_memory": "1K"})
        )
        assert r.status_code == 400 and "the budget is 0.0 GB" in r.json()["error"], r.text
        r = client.post(
            "/api/jobs", **job_files(content_path, [style_path], {**TINY, "iterations": 10**9})
        )
        assert r.status_code == 400 and "iterations must be at most 100000" in r.json()["error"], (
            r.text
        )
        assert client.get("/api/jobs").json() == {"jobs": []}


def test_the_store_removes_only_its_own_half_made_job_folders(tmp_path):
    """Issue 23: every jobs/.new-* folder was removed at start-up, whatever it held."""
    from stylegram.web.store import JobStore

    jobs = tmp_path / "data" / "jobs"
    (jobs / ".new-keep").mkdir(parents=True)
    (jobs / ".new-keep" / "notes.txt").write_text("important")
    half = jobs / ".new-0123456789abcdef"
    half.mkdir()
    (half / "content.png").write_bytes(b"half an upload")
    JobStore(tmp_path / "data")
    assert (jobs / ".new-keep" / "notes.txt").read_text() == "important" and not half.exists()


def test_pipes_in_job_folders_never_block_the_studio(
    make_client, tmp_path, content_path, style_path
):
    """The fourth independent check: a FIFO named job.json hung the start-up, one named
    current.png every request after it."""
    import os
    import threading

    from stylegram.web.store import JobStore

    from .conftest import job_files

    jobs = tmp_path / "data" / "jobs"
    (jobs / "0123456789abcdef").mkdir(parents=True)
    os.mkfifo(jobs / "0123456789abcdef" / "job.json")
    opened = threading.Thread(target=JobStore, args=(tmp_path / "data",), daemon=True)
    opened.start()
    opened.join(20)
    assert not opened.is_alive(), "the store blocked on a pipe"
    with make_client() as client:
        job_id = client.post("/api/jobs", **job_files(content_path, [style_path])).json()["id"]
        folder = client.app.state.studio.store.dir(job_id)
        (folder / "content.png").unlink()
        os.mkfifo(folder / "content.png")
        assert client.get(f"/api/jobs/{job_id}/files/content.png").status_code == 404


def test_deleting_a_job_removes_only_the_studios_files(make_client, content_path, style_path):
    """The fourth independent check: a user's file in a job folder went with the job."""
    from .conftest import job_files, wait_for
    from .test_api import FINISHED

    with make_client() as client:
        job_id = client.post("/api/jobs", **job_files(content_path, [style_path])).json()["id"]
        wait_for(
            lambda: client.get(f"/api/jobs/{job_id}").json()["state"] in FINISHED, 60, "the job"
        )
        folder = client.app.state.studio.store.dir(job_id)
        (folder / "my-notes.txt").write_text("mine")
        assert client.delete(f"/api/jobs/{job_id}").json()["deleted"]
        assert client.get(f"/api/jobs/{job_id}").status_code == 404
        assert [p.name for p in folder.iterdir()] == ["my-notes.txt"]


def test_a_job_folder_that_links_elsewhere_is_no_job(tmp_path):
    """The fifth independent check: a link in jobs/ to a user's folder was loaded as a job, its
    files rewritten by a resumed run and deleted with the job."""
    import json

    from stylegram.web.store import JobStore

    user = tmp_path / "user"
    user.mkdir()
    record = {"id": "1111111111111111", "seq": 1, "state": "running", "resumed": 0}
    (user / "job.json").write_text(json.dumps(record))
    (user / "content.png").write_bytes(b"the user's picture")
    (tmp_path / "data" / "jobs").mkdir(parents=True)
    (tmp_path / "data" / "jobs" / "1111111111111111").symlink_to(user)
    store = JobStore(tmp_path / "data")
    assert store.list() == [] and store.recover() == []
    assert (user / "content.png").read_bytes() == b"the user's picture"
