"""stylegram batch: the same results here and on a cluster, a killed worker, resuming, bad input."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from pathlib import Path

import pytest
import torch
from PIL import Image

from stylegram import cli
from stylegram.batch import LocalEngine, make_jobs, run_batch
from stylegram.batch.cluster import DaskEngine
from stylegram.batch.manifest import Manifest
from stylegram.settings import ConfigError
from stylegram.transfer import StyleConfig

TINY = StyleConfig(size=64, iterations=2, scales=1, seed=0)
CONTENTS = ("chelsea", "coffee", "rocket")
STYLES = ("starry_night", "the_scream")


@pytest.fixture(scope="module")
def local_engine():
    """One local engine for the module: VGG loaded and warmed up once."""
    return LocalEngine()


def jobs_of(data: Path, config: StyleConfig = TINY, contents=CONTENTS, styles=STYLES):
    return make_jobs(
        [data / "photos" / f"{c}.jpg" for c in contents],
        [data / "paintings" / f"{s}.jpg" for s in styles],
        config,
    )


def lines(outdir: Path) -> dict[str, dict]:
    """The manifest by output name, without the timings."""
    return {
        e["output"]: {k: v for k, v in e.items() if k != "seconds"} for e in Manifest(outdir).read()
    }


def test_cluster_gives_the_same_files_and_manifest_as_local(data, client, local_engine, tmp_path):
    jobs = jobs_of(data)
    local, remote = tmp_path / "local", tmp_path / "remote"
    local.mkdir(), remote.mkdir()
    # The workers run one torch thread each (conftest); so does the local run here. On CPUs
    # whose fp32 convolutions sum in an order that depends on the thread count (AVX2 oneDNN),
    # one and two threads differ in the last bits, which is no difference between the engines.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert run_batch(jobs, local, local_engine).done == 6
    finally:
        torch.set_num_threads(threads)
    summary = run_batch(jobs, remote, DaskEngine(client))
    assert (summary.done, summary.failed) == (6, [])
    names = {p.name for p in local.iterdir()}
    assert (
        names
        == {p.name for p in remote.iterdir()}
        == {f"{c}__{s}.png" for c in CONTENTS for s in STYLES} | {"batch.jsonl"}
    )
    assert lines(local) == lines(remote) and len(Manifest(remote).read()) == 6
    for name in names - {"batch.jsonl"}:
        assert max(Image.open(local / name).size) == 64
        assert (local / name).read_bytes() == (remote / name).read_bytes(), (
            name
        )  # same seed, same pixels


def test_a_killed_worker_costs_a_retry_not_the_batch(data, cluster, client, tmp_path, monkeypatch):
    import stylegram.batch.engines as engines

    writes: list[str] = []
    real_write = engines.write_atomic
    monkeypatch.setattr(
        engines,
        "write_atomic",
        lambda path, fn: writes.append(Path(path).name) or real_write(path, fn),
    )
    # Long enough to be running a second after it starts, on a fast CPU too: 30 steps at 64 px
    # took 0.53-0.63 s on 2 AMX cores, and a fresh clone's CI once found the job done (200: 3 s).
    jobs = jobs_of(
        data,
        StyleConfig(size=64, iterations=200, scales=1, seed=0),
        contents=CONTENTS[:2],
        styles=STYLES[:1],
    )
    result = {}
    runner = threading.Thread(
        target=lambda: result.setdefault("summary", run_batch(jobs, tmp_path, DaskEngine(client)))
    )
    runner.start()
    pids = client.run(os.getpid)
    deadline, victim = time.monotonic() + 60, None
    while victim is None and time.monotonic() < deadline:  # a worker that holds a job
        busy = [w for w, keys in client.processing().items() if keys]
        victim = busy[0] if busy else time.sleep(0.1)
    assert victim is not None, "no worker ever held a job"
    time.sleep(1.0)  # mid-job
    assert client.processing()[victim], "the job finished before the kill; make it longer"
    os.kill(pids[victim], signal.SIGKILL)
    runner.join(timeout=240)
    summary = result["summary"]
    assert (summary.done, summary.failed) == (2, [])
    assert sorted(writes) == sorted(job.output for job in jobs)  # each output written once
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [*writes, "batch.jsonl"]
    )  # no partial file
    assert [e["error"] for e in Manifest(tmp_path).read()] == [None, None]


def test_an_interrupted_batch_reruns_only_the_rest(data, local_engine, tmp_path):
    jobs = jobs_of(data, contents=CONTENTS[:2])

    def stop_after_two(job, outcome):
        if len(Manifest(tmp_path).read()) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_batch(jobs, tmp_path, local_engine, on_outcome=stop_after_two)
    first = {e["output"] for e in Manifest(tmp_path).read()}
    ran: list[str] = []
    summary = run_batch(
        jobs, tmp_path, local_engine, on_outcome=lambda job, outcome: ran.append(job.output)
    )
    assert (summary.skipped, summary.done) == (2, 2)
    assert set(ran) == {j.output for j in jobs} - first and len(ran) == 2


def run_cli(argv, capsys):
    code = cli.main([str(a) for a in argv])
    return code, capsys.readouterr().err


def test_a_failed_job_is_recorded_the_batch_goes_on_and_a_rerun_retries_it(data, tmp_path, capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "a.jpg").write_bytes((data / "photos" / "coffee.jpg").read_bytes())
    (photos / "b.jpg").write_bytes(b"not a jpeg")
    argv = [
        "batch",
        photos,
        "--styles",
        data / "paintings" / "wave_crop.jpg",
        "-o",
        tmp_path / "out",
        "--size",
        64,
        "--iterations",
        2,
        "--scales",
        1,
        "-q",
    ]
    code, err = run_cli(argv, capsys)
    assert code == 1 and "stylegram: error: 2 jobs: 1 done, 0 already done, 1 failed" in err
    assert f"'{photos / 'b.jpg'}': not an image" in err
    assert [e["error"] is None for e in Manifest(tmp_path / "out").read()] == [True, False]
    (photos / "b.jpg").write_bytes((data / "photos" / "rocket.jpg").read_bytes())
    code, err = run_cli(argv, capsys)
    assert code == 0 and err == ""
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "a__wave_crop.png",
        "b__wave_crop.png",
        "batch.jsonl",
    ]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    "case, message",
    [
        ("empty", "': no image files"),
        ("file-output", "output must be a folder, and this is a file"),
        (
            "sweep-field",
            "--sweep 'colour=1,2': 'colour' is not a stylize setting; choose from size,",
        ),
        ("sweep-value", "--sweep style_weight=-1: must be at least 0, not -1.0"),
        ("sweep-type", "--sweep size=big: 'big' is not a whole number"),
        ("scheduler", "no answer within"),
        ("segmentation", "--content-seg is drawn for one content image; a batch of them cannot"),
    ],
)
def test_bad_input_is_one_line_before_any_work(data, tmp_path, capsys, case, message):
    out = tmp_path / "out"
    contents = [data / "photos" / "chelsea.jpg"]
    extra = []
    if case == "empty":
        contents = [tmp_path / "empty"]
        contents[0].mkdir()
    elif case == "file-output":
        out.write_text("x")
    elif case.startswith("sweep"):
        extra = [
            "--sweep",
            {
                "sweep-field": "colour=1,2",
                "sweep-value": "style_weight=1,-1",
                "sweep-type": "size=64,big",
            }[case],
        ]
    elif case == "scheduler":
        extra = ["--scheduler", f"tcp://127.0.0.1:{free_port()}"]
    elif case == "segmentation":
        seg = str(data / "photos" / "chelsea.jpg")  # refused for what it is, before it is read
        extra = ["--content-seg", seg, "--style-seg", seg]
    start = time.monotonic()
    code, err = run_cli(
        ["batch", *contents, "--styles", data / "paintings" / "wave_crop.jpg", "-o", out, *extra],
        capsys,
    )
    assert code == 1 and message in err and err.count("\n") == 1 and "Traceback" not in err, err
    assert time.monotonic() - start < 20
    assert not out.is_dir()  # nothing was started


def test_plan_pairs_sweeps_and_refuses_clashing_names(data, tmp_path):
    photos = [data / "photos" / f"{c}.jpg" for c in CONTENTS]
    paintings = [data / "paintings" / f"{s}.jpg" for s in STYLES]
    jobs = make_jobs(
        photos, paintings, TINY, sweeps=["style_weight=1e-3,1e-2", "quality=draft,high"]
    )
    assert len(jobs) == 3 * 2 * 2 * 2 and len({j.key for j in jobs}) == 24
    assert "chelsea__starry_night__style_weight-1e-2_quality-high.png" in {j.output for j in jobs}
    assert {(j.config.style_weight, j.config.quality) for j in jobs} == {
        (w, q) for w in (1e-3, 1e-2) for q in ("draft", "high")
    }
    zipped = make_jobs(photos[:2], paintings, TINY, pairwise=True)
    assert [(j.content.path.stem, j.style.path.stem) for j in zipped] == [
        ("chelsea", "starry_night"),
        ("coffee", "the_scream"),
    ]
    with pytest.raises(
        ValueError, match="^zip pairs contents with styles one to one, but there are 3 contents"
    ):
        make_jobs(photos, paintings, TINY, pairwise=True)
    (tmp_path / "chelsea.png").write_bytes((data / "photos" / "coffee.jpg").read_bytes())
    with pytest.raises(ValueError, match="'chelsea__starry_night.png': two jobs would write it"):
        make_jobs([photos[0], tmp_path / "chelsea.png"], paintings[:1], TINY)
    with pytest.raises(ValueError, match="style_blend has 2 values but there are 1 style images"):
        make_jobs(photos, paintings, StyleConfig(style_blend=(1, 2)))
    with pytest.raises(
        ConfigError, match="^sweep 'weights=a,b': 'weights' cannot be swept"
    ) as refused:
        make_jobs(photos, paintings, TINY, sweeps=["weights=a,b"])
    assert refused.value.for_cli().startswith(
        "--sweep 'weights=a,b'"
    )  # the API names the field, the CLI the flag


@pytest.mark.parametrize("megapixels", [100, 400])  # PIL only warns at 100, raises at 400
def test_a_job_refuses_a_decompression_bomb_as_stylize_does(tmp_path, megapixels):
    """Issue 27: batch decoded 90-178 MP images that stylize refused; both follow image.decode_image."""
    from stylegram.batch.jobs import image_from_bytes
    from stylegram.image import open_image
    from tests.cli.test_bad_input_table import png_header

    side = int((megapixels * 1e6) ** 0.5)
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_header(side, side))
    for read in (lambda: open_image(bomb), lambda: image_from_bytes(bomb.read_bytes(), str(bomb))):
        with pytest.raises(
            ValueError, match=rf"bomb.png': {side * side:,} pixels is over the limit"
        ):
            read()


def test_a_job_names_its_image_when_it_is_too_small(data, tmp_path):
    """Issue 27: the names were put into stylize's message by string replacement."""
    from stylegram.batch.jobs import Models, run_task, task_of

    Image.new("RGB", (20, 16)).save(tmp_path / "tiny.png")
    job = make_jobs([tmp_path / "tiny.png"], [data / "paintings" / "wave_crop.jpg"], TINY)[0]
    outcome = run_task(task_of(job), Models())
    assert outcome.png is None and outcome.error.startswith(
        f"content image '{tmp_path / 'tiny.png'}' is 20×16 px"
    )
