"""The guarantee of stylegram.files, as a property (issue 23): for generated command lines whose
outputs, snapshots, side files and folders collide with inputs, links and folders, no input's
bytes change, every file written is one the command declared, and a refusal is one line, exit 1.

stylize runs for real through the CLI with the optimisation replaced by a stand-in that reports
steps (so that snapshots and checkpoints are written) and returns a picture; units, explain-style
and batch run up to the moment the model would load, where their file checks have all been made.
Fixed seeds, small examples, under a minute.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import shutil
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from stylegram import cli
from stylegram.files import FilePlan
from stylegram.transfer.stylize import Iterate

# Names a command line may use: inputs, a link to one, a snapshot's name, the checkpoint's, a
# folder and a file inside it, a file of the report's names, and fresh names.
NAMES = [
    "photo.png",
    "style.jpg",
    "link.png",
    "st_0001.png",
    "out_0002.png",
    ".out.png.checkpoint",
    "d",
    "d/inner.png",
    "d/combined.png",
    "out.png",
    "new.png",
    "style.png",
]
IMAGES = [
    "photo.png",
    "style.jpg",
    "style.png",
    "link.png",
    "st_0001.png",
    "out_0002.png",
    "d/inner.png",
    "d/combined.png",
]  # the names above that are images
FOLDERS = [".", "d", "d/sub", "fresh"]
PROPERTY = settings(
    max_examples=60,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


class ModelWouldLoad(Exception):
    """Raised where the model would load: every file check has been made by then."""


def _lay_out(root: Path, data: Path) -> None:
    photo = Image.open(data / "photos" / "chelsea.jpg").convert("RGB")
    photo.thumbnail((48, 48))
    photo.save(root / "photo.png")
    painting = Image.open(data / "paintings" / "starry_night.jpg").convert("RGB").resize((48, 40))
    painting.save(root / "style.jpg")
    painting.save(root / "style.png")
    painting.save(root / "st_0001.png")
    photo.save(root / "out_0002.png")
    (root / "link.png").symlink_to(root / "photo.png")
    (root / "d" / "sub").mkdir(parents=True)
    photo.save(root / "d" / "inner.png")
    photo.save(root / "d" / "combined.png")
    photo.save(root / "d" / "sub" / "deep.png")


def _snapshot(root: Path) -> dict[Path, str]:
    return {
        p.resolve(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file() and not p.is_symlink()
    }


def _fake_stylize(content, styles, config, *, callback=None, resume=None, **_):
    """Steps as the real loop reports them (two scales), then a picture."""
    from stylegram.transfer.plan import plan

    plans = plan(content, config)
    total, step = sum(p.steps for p in plans), 0
    for scale, p in enumerate(plans):
        for _ in range(p.steps):
            step += 1
            if resume is None or step > resume.step:
                callback(
                    Iterate(
                        step,
                        total,
                        scale,
                        len(plans),
                        (8, 8),
                        {"total": 1.0},
                        torch.rand(1, 3, 8, 8),
                    )
                )
    return Image.new("RGB", (16, 12), (200, 100, 50))


def _run(monkeypatch, argv: list[str], root: Path, inputs: list[str]) -> None:
    """Run `argv` in `root`; check the property."""
    plans: list[FilePlan] = []
    check = FilePlan.check

    def recording(self):
        plans.append(self)
        return check(self)

    def no_model(*args, **kwargs):
        raise ModelWouldLoad

    monkeypatch.setattr(FilePlan, "check", recording)
    for module in ("stylegram.weights", "stylegram.batch.jobs"):
        monkeypatch.setattr(f"{module}.load_vgg", no_model)
    monkeypatch.setattr("stylegram.transfer.stylize", _fake_stylize)
    monkeypatch.chdir(root)
    before = _snapshot(root)
    read = {(root / name).resolve() for name in inputs if (root / name).exists()}
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            code = cli.main(argv)
        except ModelWouldLoad:
            code = None
    after = _snapshot(root)
    assert code in (0, 1, None), (argv, err.getvalue())
    if code == 1:
        assert err.getvalue().count("\n") == 1 and err.getvalue().startswith(
            "stylegram: error: "
        ), err.getvalue()
    for path in read & before.keys():
        assert after.get(path) == before[path], f"{argv}: the input {path} changed"
    changed = {p for p in after if before.get(p) != after[p]} | (before.keys() - after.keys())
    if changed:
        assert plans, f"{argv}: wrote {changed} without declaring anything"
        undeclared = {p for p in changed if not any(plan.skips(p) for plan in plans)}
        assert not undeclared, f"{argv}: wrote {undeclared}, which it did not declare"


names, images = st.sampled_from(NAMES), st.sampled_from(IMAGES)


@PROPERTY
@given(
    content=images,
    styles=st.lists(images, min_size=1, max_size=2),
    output=names,
    save_every=st.sampled_from([0, 1, 2]),
    checkpoint=st.booleans(),
    init=st.one_of(st.none(), images),
    mask=st.one_of(st.none(), images),
)
def test_stylize_never_writes_over_what_it_reads(
    tmp_path_factory, data, monkeypatch, content, styles, output, save_every, checkpoint, init, mask
):
    root = tmp_path_factory.mktemp("stylize")
    _lay_out(root, data)
    argv = [
        "stylize",
        content,
        *styles,
        "-o",
        output,
        "--size",
        "32",
        "--iterations",
        "3",
        "--scales",
        "2",
        "--save-every",
        str(save_every),
        "-q",
    ]
    argv += ["--checkpoint-every", "1"] if checkpoint else []
    argv += ["--init", init] if init else []
    argv += ["--content-mask", mask] if mask else []
    with monkeypatch.context() as m:
        _run(m, argv, root, [content, *styles, *(x for x in (init, mask) if x)])
    shutil.rmtree(root)


@PROPERTY
@given(
    command=st.sampled_from(["units", "explain-style", "batch"]),
    images=st.sampled_from(FOLDERS[:3]),
    output=st.sampled_from(FOLDERS + NAMES),
    cache=st.one_of(st.none(), st.sampled_from(FOLDERS)),
    style=images,
)
def test_reports_and_batches_never_write_over_what_they_read(
    tmp_path_factory, data, monkeypatch, command, images, output, cache, style
):
    root = tmp_path_factory.mktemp(command)
    _lay_out(root, data)
    if command == "batch":
        argv = ["batch", images, "--styles", style, "-o", output, "--size", "32", "-q"]
    else:
        argv = [
            command,
            *([style] if command == "explain-style" else []),
            "--images",
            images,
            "-o",
            output,
            "--size",
            "32",
            "-q",
        ] + (["--cache", cache] if cache else [])
    with monkeypatch.context() as m:
        _run(
            m,
            argv,
            root,
            [style]
            + [
                str(p.relative_to(root))
                for p in (root / images).rglob("*")
                if (root / images).is_dir() and p.is_file()
            ],
        )
    shutil.rmtree(root)


def test_the_property_fails_on_a_guard_that_lets_an_overlap_through(tmp_path, data, monkeypatch):
    """Without the check, an output that is the photo destroys it, and the property says so."""
    _lay_out(tmp_path, data)
    monkeypatch.setattr(FilePlan, "check", lambda self: None)
    with pytest.raises(AssertionError, match="the input .*photo.png changed"):
        _run(
            monkeypatch,
            [
                "stylize",
                "photo.png",
                "style.jpg",
                "-o",
                "photo.png",
                "--size",
                "32",
                "--iterations",
                "2",
                "-q",
            ],
            tmp_path,
            ["photo.png", "style.jpg"],
        )
