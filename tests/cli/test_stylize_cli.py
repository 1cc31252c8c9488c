"""The command line end to end: a real run, every bad input as one line and exit 1, Ctrl-C."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from stylegram.cli import build_parser, main
from stylegram.cli.options import config_from_args
from stylegram.transfer.config import StyleConfig
from tests.conftest import stylize_argv

QUICK = ["--size", "64", "--iterations", "4", "--scales", "1", "-q"]


def _cli(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    return subprocess.run(
        [sys.executable, "-m", "stylegram", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=timeout,
    )


def test_stylize_writes_the_output(content_path, style_path, tmp_path):
    out = tmp_path / "out.png"
    result = _cli(*stylize_argv(content_path, style_path, out, *QUICK))
    assert result.returncode == 0, result.stderr
    assert Image.open(out).size == (64, 42)  # chelsea.jpg is 256×170


def test_no_arguments_runs_on_the_bundled_demo(tmp_path):
    result = _cli("stylize", *QUICK, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert max(Image.open(tmp_path / "stylized.png").size) == 64


# Values for the fields whose constraints a generic changed value would break.
CHOSEN = {
    "content_layers": ("relu3_2",),
    "style_layers": ("relu1_1", "relu3_1"),
    "layers": ("relu2_2",),
    "style_layer_weights": (1.0, 2.0, 3.0, 4.0, 5.0),
    "style_masks": ("0=m.png",),
    "units": "0-3",
    "opt_units": "1,2",
    "atlas": ("a",),
    "init": "random",
    "max_memory": "2G",
    "scheduler": "tcp://127.0.0.1:1",
    "sweep": ("size=64,128",),
    "host": "localhost",
    "long_term": (2, 4),
    "device": "cpu",
    "style_blend": (1.0, 2.0),
    "token": "a-token-8",
}
COMMANDS = {
    "StyleConfig": ["stylize"],
    "UnitsConfig": ["units", "--images", "d", "-o", "o"],
    "ExplainConfig": ["explain-style", "s.png", "--images", "d", "-o", "o"],
    "VideoConfig": ["video", "in.mp4", "s.png", "-o", "o.mp4"],
    "BatchConfig": ["batch", "c", "--styles", "s", "-o", "o"],
    "ServeConfig": ["serve"],
}


def _changed(cls, f):
    """A valid value of field `f` other than its default."""
    import typing

    from stylegram.settings import field_types

    hint, _ = field_types(cls)[f.name]
    if f.name in CHOSEN and hint is not bool:  # units' --atlas is a flag, serve's a list
        return CHOSEN[f.name]
    default, meta = f.default, f.metadata
    if hint is bool:
        return not default
    if typing.get_origin(hint) is typing.Literal:
        return next(c for c in typing.get_args(hint) if c != default)
    if hint is str:
        return "x.png"
    low = meta.get("min") if meta.get("min") is not None else 1
    value = (default if default is not None else low) + 1
    value = min(value, meta["max"]) if meta.get("max") is not None else value
    return hint(value if value != default else low)


@pytest.mark.parametrize("cls_name", list(COMMANDS))
def test_every_config_field_of_every_command_is_an_option_and_round_trips(cls_name):
    """Each field, changed alone, through its command line back to the same config (issue 27:
    the round trip covered five fields of one config)."""
    import dataclasses

    from stylegram.batch.config import BatchConfig
    from stylegram.settings import as_flags
    from stylegram.units.config import ExplainConfig, UnitsConfig
    from stylegram.video.config import VideoConfig
    from stylegram.web.config import ServeConfig

    cls = {
        c.__name__: c
        for c in (StyleConfig, UnitsConfig, ExplainConfig, VideoConfig, BatchConfig, ServeConfig)
    }[cls_name]
    # Fields that are given in pairs: changed with their partner.
    partners = {"content_seg": {"style_seg": "b.png"}, "style_seg": {"content_seg": "a.png"}}
    for f in dataclasses.fields(cls):
        value = _changed(cls, f)
        partner = partners.get(f.name, {})
        config = cls(**{f.name: value, **partner})
        flags = as_flags({f.name: value})  # as a picture's command writes them (provenance.py)
        args = build_parser().parse_args([*COMMANDS[cls_name], *flags, *as_flags(partner)])
        assert config_from_args(args, cls) == config, (f.name, flags)
    assert config_from_args(build_parser().parse_args(COMMANDS[cls_name]), cls) == cls()


def test_every_config_field_is_an_option_and_round_trips():
    args = build_parser().parse_args(
        [
            "stylize",
            "--size",
            "300",
            "--style-layers",
            "relu1_1",
            "relu2_1",
            "--style-blend",
            "1",
            "2",
            "--init",
            "random",
            "--seed",
            "3",
        ]
    )
    config = config_from_args(args, StyleConfig)
    assert config == StyleConfig(
        size=300, style_layers=("relu1_1", "relu2_1"), style_blend=(1.0, 2.0), init="random", seed=3
    )
    assert config_from_args(build_parser().parse_args(["stylize"]), StyleConfig) == StyleConfig()


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.fixture()
def bad_inputs(tmp_path, content_path):
    tiny = tmp_path / "tiny.png"
    Image.new("RGB", (12, 9)).save(tiny)
    return {
        "missing": tmp_path / "missing.jpg",
        "text": _write(tmp_path, "notes.jpg", b"not an image at all"),
        "truncated": _write(
            tmp_path, "half.jpg", content_path.read_bytes()[: content_path.stat().st_size // 2]
        ),
        "tiny": tiny,
    }


@pytest.mark.parametrize(
    "case, extra, message",
    [
        ("missing", [], r"missing.jpg': no such file"),
        ("text", [], r"notes.jpg': not an image file"),
        ("truncated", [], r"half.jpg': corrupt or truncated image"),
        ("tiny", [], r"style image '.*tiny.png' is 12×9 px; at least 32×32"),
        (None, ["--style-layers", "relu1_1", "relu7_1"], r"unknown layer 'relu7_1'"),
        (
            None,
            ["--style-layer-weights", "1", "2"],
            r"--style-layer-weights has 2 values but there are 5 style layers",
        ),
        (None, ["--style-weight", "-3"], r"--style-weight must be at least 0, not -3.0"),
        (None, ["--tv-weight", "nan"], r"--tv-weight must be a finite number, not nan"),
        (
            None,
            ["-o", "/nonexistent/dir/out.png"],
            r"out.png': cannot write, directory '/nonexistent/dir' does not exist",
        ),
        (None, ["--weights", "/nonexistent/w.pth"], r"'/nonexistent/w.pth': no such file"),
        (None, ["--device", "tpu"], r"unknown device 'tpu'"),
    ],
)
def test_bad_input_is_one_line_naming_the_problem(
    bad_inputs, content_path, tmp_path, capsys, case, extra, message
):
    import re

    style = str(bad_inputs[case]) if case else str(content_path)
    code = main(stylize_argv(content_path, style, tmp_path / "out.png", *QUICK, *extra))
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1 and err.startswith("stylegram: error: "), err
    assert re.search(message, err), err
    assert not (tmp_path / "out.png").exists()


def test_bad_input_exits_non_zero_without_a_traceback(tmp_path):
    result = _cli(*stylize_argv(tmp_path / "nope.jpg", tmp_path / "nope2.jpg", tmp_path / "o.png"))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "nope.jpg': no such file" in result.stderr


def test_ctrl_c_saves_the_current_image_and_exits_130(content_path, style_path, tmp_path):
    out = tmp_path / "out.png"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    argv = stylize_argv(content_path, style_path, out, "--size", "96", "--iterations", "100000")
    argv += ["--scales", "2", "--save-every", "1", "-q"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "stylegram", *argv],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    frame = tmp_path / "out_0002.png"
    deadline = time.monotonic() + 120
    while not frame.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
    assert frame.exists(), "no intermediate frame was written"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted at step" in err and "Traceback" not in err
    assert max(Image.open(out).size) == 96  # the size asked for, whatever scale was running


def test_an_interrupted_run_resumes_from_its_checkpoint(
    content_path, style_path, tmp_path, monkeypatch, capsys
):
    from stylegram.cli import checkpoint as checkpoint_module
    from stylegram.cli import progress

    out = tmp_path / "out.png"
    argv = stylize_argv(content_path, style_path, out, "--size", "128", "--scales", "2")
    argv += ["--iterations", "12", "--checkpoint-every", "3", "--seed", "0"]
    steps = []
    update = progress.Progress.update

    # 12 steps: 6 at 64 px, then 6 at 128 px, of which the first 4 are texture steps
    # (config.Preset): step 9 is within them, with an L-BFGS history to keep.
    def interrupt_at_9(self, n, **kw):
        steps.append(n)
        if n == 9 and len(steps) == 9:
            raise KeyboardInterrupt
        return update(self, n, **kw)

    monkeypatch.setattr(progress.Progress, "update", interrupt_at_9)
    assert main(argv) == 130
    checkpoint = tmp_path / ".out.png.checkpoint"
    assert checkpoint.is_file() and out.is_file()  # the image so far, and where it stood
    saved = checkpoint.read_bytes()
    steps.clear()
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "resuming from .out.png.checkpoint: step 9, scale 2" in err
    assert steps == [10, 11, 12]  # only the remaining steps ran
    assert not checkpoint.exists() and Image.open(out).size == (128, 85)
    # The checkpoint kept L-BFGS's history: the resumed run took the uninterrupted run's steps.
    monkeypatch.setattr(progress.Progress, "update", update)
    whole = tmp_path / "whole.png"
    assert main([*argv[:4], str(whole), *argv[5:]]) == 0
    np.testing.assert_array_equal(np.asarray(Image.open(out)), np.asarray(Image.open(whole)))
    # Without the history (a checkpoint of the older format) the same resume ends elsewhere.
    assert saved.startswith(
        checkpoint_module.MAGIC
    )  # recognised by its header, and only so removed
    archive = saved[len(checkpoint_module.MAGIC) :].split(b"\n", 1)[1]  # after the job key's line
    state = torch.load(io.BytesIO(archive), weights_only=True)
    assert state["optimizer"] is not None
    state.update(version=1, optimizer=None)
    torch.save(state, checkpoint)
    assert main(argv) == 0
    assert "without L-BFGS's history" in capsys.readouterr().err
    assert (
        np.abs(np.asarray(Image.open(out), float) - np.asarray(Image.open(whole), float)).mean()
        > 0.1
    )
    # Another command does not take this job's checkpoint.
    monkeypatch.setattr(progress.Progress, "update", update)
    assert main(argv[:-2] + ["--seed", "1"]) == 0
    assert "resuming" not in capsys.readouterr().err


def test_a_run_interrupted_at_the_end_of_a_scale_resumes_exactly(
    content_path, style_path, tmp_path, monkeypatch, capsys
):
    """The checkpoint of a scale's last step keeps the γ L-BFGS learnt there (not its history,
    which the next scale does not use): the next scale starts as the uninterrupted run's did.
    Before, it resumed with torch's short first step: 7.2 levels off on average."""
    from stylegram.cli import progress
    from stylegram.transfer import StyleConfig
    from stylegram.transfer.plan import plan

    out, whole = tmp_path / "out.png", tmp_path / "whole.png"
    argv = [str(content_path), str(style_path), "--size", "128", "--scales", "2"]
    argv += ["--iterations", "12", "--seed", "0", "--checkpoint-every", "100"]
    first = plan(content_path, StyleConfig(size=128, scales=2, iterations=12, seed=0))[0].steps
    update = progress.Progress.update

    def interrupt_at_the_first_scales_end(self, n, **kw):
        if n == first:
            raise KeyboardInterrupt
        return update(self, n, **kw)

    monkeypatch.setattr(progress.Progress, "update", interrupt_at_the_first_scales_end)
    assert main(["stylize", *argv, "-o", str(out)]) == 130
    monkeypatch.setattr(progress.Progress, "update", update)
    assert main(["stylize", *argv, "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert f"resuming from .out.png.checkpoint: step {first}, scale 1\n" in err
    assert main(["stylize", *argv, "-o", str(whole)]) == 0
    np.testing.assert_array_equal(np.asarray(Image.open(out)), np.asarray(Image.open(whole)))
