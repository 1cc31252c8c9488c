"""Every bad input of issue 9, as a table: each case is one line on stderr naming the file or
flag, exit status 1, no traceback, no new, partial or temporary file, every existing file
unchanged, and (where the input alone decides it) no model loaded.

Cases that need the model (a full disk mid-report, a damaged cache) and those about signals
follow the table as their own tests.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from stylegram import cli
from stylegram.transfer.config import StyleConfig

QUICK = ["--size", "64", "--iterations", "2", "--scales", "1", "-q"]
ROOT = Path(__file__).resolve().parents[2]
BOMB = r"bomb.png': 400,000,000 pixels is over"  # the message for png_header(20_000, 20_000)


def png_header(width: int, height: int) -> bytes:
    """A PNG that declares `width × height` and holds almost no data: PIL checks its pixel
    limit from the header, so this is a decompression bomb without the bomb."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


@pytest.fixture()
def files(tmp_path, data) -> dict[str, Path]:
    """The inputs of the table, in a folder of their own, and a previous output."""
    photo = Image.open(data / "photos" / "chelsea.jpg").convert("RGB")
    photo.thumbnail((96, 96))
    f = {
        "content": tmp_path / "content.jpg",
        "style": tmp_path / "style.jpg",
        "mask": tmp_path / "mask.png",
        "init": tmp_path / "init.png",
        "out": tmp_path / "out.png",
        "bomb": tmp_path / "bomb.png",
        "big": tmp_path / "big.png",
        "text": tmp_path / "notes.txt",
        "images": tmp_path / "images",
    }
    photo.save(f["content"])
    Image.open(data / "paintings" / "starry_night.jpg").convert("RGB").resize((96, 76)).save(
        f["style"]
    )
    Image.new("L", photo.size, 255).save(f["mask"])
    photo.save(f["init"])
    Image.new("RGB", (8, 8), (1, 2, 3)).save(f["out"])  # the previous result, which must survive
    f["bomb"].write_bytes(
        png_header(20_000, 20_000)
    )  # over twice PIL's limit: DecompressionBombError
    f["big"].write_bytes(png_header(10_000, 10_000))  # over the limit: PIL only warns
    f["text"].write_text("not a folder")
    w, h = photo.size  # segmentations (issue 26): blue above, white below, and bad ones
    for name, size, colour in [
        ("seg_content", (w, h), (0, 0, 255)),
        ("seg_style", (96, 76), (0, 0, 255)),
        ("seg_small", (50, 50), (0, 0, 255)),
        ("seg_orange", (w, h), (255, 140, 0)),
        ("seg_green", (w, h), (0, 255, 0)),
    ]:
        seg = Image.new("RGB", size, (255, 255, 255))
        seg.paste(colour, (0, 0, size[0], size[1] // 2))
        f[name] = tmp_path / f"{name}.png"
        seg.save(f[name])
    Image.new("RGB", (w, h), (0, 255, 0)).save(f["seg_green"])  # green only: no partner
    f["link"] = tmp_path / "link.jpg"
    f["link"].symlink_to(f["content"])
    f["images"].mkdir()
    for path in sorted((data / "scan").iterdir())[:2]:
        shutil.copy(path, f["images"] / path.name)
    return f


@dataclass(frozen=True)
class Case:
    argv: tuple[str, ...]  # "{name}" is replaced by the path of files[name]
    message: str  # a regular expression the one line must match


def S(
    *extra: str, content: str = "{content}", style: str = "{style}", out: str = "{out}"
) -> tuple[str, ...]:
    """stylize content style -o out, quick settings, and `extra`."""
    return ("stylize", content, style, "-o", out, *QUICK, *extra)


def U(*extra: str) -> tuple[str, ...]:
    """units over the images into a folder of its own, at size 64, and `extra`."""
    return ("units", "--images", "{images}", "-o", "{tmp}/units", "--size", "64", "-q", *extra)


def E(*extra: str, style: str = "{style}") -> tuple[str, ...]:
    """explain-style style over the images into a folder of its own, at size 64, and `extra`."""
    return (
        "explain-style",
        style,
        "--images",
        "{images}",
        "-o",
        "{tmp}/explain",
        "--size",
        "64",
        "-q",
        *extra,
    )


CASES = {
    # 1. outputs that are inputs
    "out-is-content": Case(
        S(out="{content}"),
        r"content.jpg' \(-o\) would overwrite '.*content.jpg' \(the photo\), which this run reads",
    ),
    "out-is-style": Case(
        S(out="{style}"), r"style.jpg' \(-o\) would overwrite '.*style.jpg' \(the painting\)"
    ),
    "out-is-mask": Case(
        S("--content-mask", "{mask}", out="{mask}"),
        r"mask.png' \(-o\) would overwrite '.*mask.png' \(--content-mask\)",
    ),
    "out-links-to-content": Case(
        S(out="{link}"), r"link.jpg' \(-o\) would overwrite '.*content.jpg' \(the photo\)"
    ),
    "out-is-init": Case(
        S("--init", "{init}", out="{init}"),
        r"init.png' \(-o\) would overwrite '.*init.png' \(--init\)",
    ),
    # 4. settings that made units and explain-style fail after the whole scan
    "opt-size-0": Case(
        U("--optimize", "--opt-size", "0"), r"--opt-size must be at least 32, not 0"
    ),
    "channels-0": Case(E("--channels", "0"), r"--channels must be at least 1, not 0"),
    # 5. images over PIL's pixel limit
    "bomb-content": Case(S(content="{bomb}"), BOMB),
    "bomb-style": Case(S(style="{bomb}"), BOMB),
    "big-style": Case(S(style="{big}"), r"big.png': 100,000,000 pixels is over"),
    "bomb-init": Case(S("--init", "{bomb}"), BOMB),
    "bomb-mask": Case(S("--content-mask", "{bomb}"), BOMB),
    "bomb-explain": Case(E(style="{bomb}"), BOMB),
    # 6. unwritable output or cache folder of units and explain-style
    "units-out-in-file": Case(
        ("units", "--images", "{images}", "-o", "{text}/sub", "-q"),
        r"-o '.*notes.txt/sub': cannot make this folder, '.*notes.txt' is a file",
    ),
    "units-out-is-file": Case(
        ("units", "--images", "{images}", "-o", "{text}", "-q"),
        r"notes.txt': output must be a folder",
    ),
    "units-cache-in-file": Case(
        U("--cache", "{text}/cache"), r"--cache '.*notes.txt/cache': cannot make this folder"
    ),
    "explain-out-in-file": Case(
        ("explain-style", "{style}", "--images", "{images}", "-o", "{text}/x", "-q"),
        r"-o '.*notes.txt/x': cannot make this folder",
    ),
    "explain-cache-in-file": Case(
        E("--cache", "{text}/cache"), r"--cache '.*notes.txt/cache': cannot make"
    ),
    # 7. values that failed deep inside
    "style-scale-too-small": Case(
        S("--style-scale", "0.25"),
        r"--style-scale 0.25 makes style image '.*style.jpg'"
        r" \d+ px on its short side at size 64",
    ),
    "pairs-negative": Case(E("--pairs", "-2"), r"--pairs must be at least 0, not -2"),
    "device-meta": Case(
        S("--device", "meta"), r"--device cannot be used: device 'meta' cannot run"
    ),
    # 9. values that were not checked
    "tile-size-0": Case(S("--tile-size", "0"), r"--tile-size must be at least 64, not 0"),
    "tile-size-1": Case(S("--tile-size", "1"), r"--tile-size must be at least 64, not 1"),
    "tile-size-neg": Case(S("--tile-size", "-5"), r"--tile-size must be at least 64, not -5"),
    "save-every-neg": Case(
        S("--save-every", "-1"), r"--save-every must be 0 \(never\) or a number of steps, not -1"
    ),
    "max-outside-nan": Case(
        U("--max-outside", "nan"), r"--max-outside must be a finite number, not nan"
    ),
    "max-outside-neg": Case(U("--max-outside", "-5"), r"--max-outside must be at least 0, not -5"),
    "opt-steps-neg": Case(
        U("--optimize", "--opt-steps", "-1"), r"--opt-steps must be at least 1, not -1"
    ),
    "channels-neg": Case(E("--channels", "-3"), r"--channels must be at least 1, not -3"),
    "style-size-0": Case(E("--style-size", "0"), r"--style-size must be at least 32, not 0"),
    "style-size-neg": Case(E("--style-size", "-5"), r"--style-size must be at least 32, not -5"),
    # 10. misleading messages
    "seed-2**64": Case(
        S("--seed", str(2**64)),
        r"--seed must be at most 9223372036854775807, not 18446744073709551616",
    ),
    "units-backwards": Case(
        U("--units", "5-2"), r"--units '5-2': the range 5-2 runs backwards; write 2-5"
    ),
    "units-huge-range": Case(
        U("--units", "0-99999999999"), r"--units '0-99999999999': unit 64 is out of range"
    ),
    "style-mask-negative": Case(
        S("--style-mask", "-1=m.png"),
        r"--style-masks: style mask '-1=m.png' names style -1, but the styles are numbered 0, 1, ... in the order given",
    ),
    "flag-not-field": Case(
        S("--content-weight", "-1"), r"--content-weight must be at least 0, not -1"
    ),
    # segmentations (issue 26), refused before the model loads
    "seg-wrong-size": Case(
        S("--content-seg", "{seg_small}", "--style-seg", "{seg_style}"),
        r"segmentation '.*seg_small.png' is 50×50 but its image is 96×64: draw it at the image's size, or in its proportions",
    ),
    "seg-unknown-colours": Case(
        S("--content-seg", "{seg_orange}", "--style-seg", "{seg_style}"),
        r"segmentation '.*seg_orange.png' has colours outside the palette \(50% of its pixels, such as #ff8c00\)",
    ),
    "seg-not-image": Case(
        S("--content-seg", "{text}", "--style-seg", "{seg_style}"), r"notes.txt': not an image"
    ),
    "seg-alone": Case(
        S("--content-seg", "{seg_content}"),
        r"--style-seg is needed too: the two segmentations are paired",
    ),
    "seg-no-partner": Case(
        S("--content-seg", "{seg_green}", "--style-seg", "{seg_style}"),
        r"segmentations '.*seg_green.png' \(green\) and '.*seg_style.png' \(blue, white\) share no colour",
    ),
    "out-is-seg": Case(
        S("--content-seg", "{seg_content}", "--style-seg", "{seg_style}", out="{seg_style}"),
        r"seg_style.png' \(-o\) would overwrite '.*seg_style.png' \(--style-seg\)",
    ),
    # and the classics, which must stay as they are
    "content-not-image": Case(S(content="{text}"), r"notes.txt': not an image"),
    "style-missing": Case(S(style="{tmp}/nope.jpg"), r"nope.jpg': no such file"),
}


def _snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        if p.is_file()
        else "dir"
        for p in sorted(root.rglob("*"))
    }


@pytest.mark.filterwarnings("error")  # a warning printed beside the error is a second line
@pytest.mark.parametrize("name", list(CASES))
def test_bad_input(name, files, tmp_path, capsys, no_model):
    case = CASES[name]
    argv = [a.format(tmp=tmp_path, **files) for a in case.argv]
    before = _snapshot(tmp_path)
    start = time.perf_counter()
    code = cli.main(argv)
    elapsed = time.perf_counter() - start
    err = capsys.readouterr().err
    assert code == 1, err
    assert err.count("\n") == 1 and err.startswith("stylegram: error: "), err
    assert re.search(case.message, err), err
    assert "Traceback" not in err
    assert (
        _snapshot(tmp_path) == before
    )  # nothing new (no output, no .tmp, no .cache), nothing changed
    assert elapsed < 10, f"refused only after {elapsed:.1f} s"


# ---------------------------------------------------------------- cases that need the model


def _run(argv, capsys) -> tuple[int, str]:
    code = cli.main([str(a) for a in argv])
    return code, capsys.readouterr().err


TWO_UNITS = ["--units", "0-1", "--top", 2]  # units 0 and 1, with their top two images


def _units(images, out, *options) -> list:
    """units over `images` into the report folder `out` at size 64, and `options`."""
    return ["units", "--images", images, "-o", out, "--size", 64, *options]


def test_a_bomb_among_the_images_is_skipped_and_counted(files, tmp_path, capsys):
    shutil.copy(files["bomb"], files["images"] / "bomb.png")
    code, err = _run(
        _units(files["images"], tmp_path / "units", "--layers", "relu2_2", *TWO_UNITS, "-q"), capsys
    )
    assert code == 0, err
    assert "skipped" in err and "bomb.png': 400,000,000 pixels is over" in err
    assert "1 of 3 files could not be read and were skipped" in err
    assert "Traceback" not in err


def _full_disk(monkeypatch, after: int = 0):
    """Every write_atomic after the first `after` ones writes to /dev/full, as on a full disk."""
    import stylegram.image

    real, count = stylegram.image.open_temporary, [0]

    def open_temporary(path):
        fd = real(path)
        count[0] += 1
        if count[0] > after:
            os.close(fd)
            fd = os.open("/dev/full", os.O_WRONLY)
        return fd

    monkeypatch.setattr(stylegram.image, "open_temporary", open_temporary)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("command", ["units", "explain-style"])
def test_a_full_disk_is_one_line_and_leaves_no_cache(command, files, tmp_path, capsys, monkeypatch):
    _full_disk(monkeypatch)
    out = tmp_path / "out"
    head = (
        ["units"] if command == "units" else ["explain-style", files["style"], "--style-size", 64]
    )
    code, err = _run(
        [*head, "--images", files["images"], "-o", out, "--size", 64, "--layers", "relu2_1", "-q"],
        capsys,
    )
    assert code == 1 and err.count("\n") == 1, err
    assert re.search(r"c000000_relu2_1.npz': cannot write \(No space left on device\)", err), err
    assert not out.exists()  # made by this run and nothing was cached: the folder and its .cache go
    assert not list(tmp_path.rglob("*.tmp"))


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_full_disk_after_the_scan_keeps_the_cache_and_the_previous_report(
    files, tmp_path, capsys, monkeypatch
):
    out = tmp_path / "out"
    argv = _units(files["images"], out, "--layers", "relu2_1", "--units", "0-1", "-q")
    assert _run(argv, capsys)[0] == 0
    manifest = (out / "manifest.json").read_bytes()
    _full_disk(monkeypatch)
    code, err = _run(argv + ["--top", 2], capsys)
    assert code == 1 and err.count("\n") == 1 and "No space left on device" in err, err
    assert (out / "manifest.json").read_bytes() == manifest
    assert any((out / ".cache").rglob("c000000.json"))  # the scan is kept for the next run
    assert not list(tmp_path.rglob("*.tmp"))


def test_unreadable_images_only_leave_no_cache(tmp_path, capsys):
    images = tmp_path / "images"
    images.mkdir()
    (images / "a.jpg").write_bytes(b"not a jpeg")
    code, err = _run(_units(images, tmp_path / "out", "-q"), capsys)
    assert code == 1 and "none of the 1 image files could be read" in err
    assert not (tmp_path / "out").exists()


def test_a_damaged_cache_file_is_computed_again(files, tmp_path, capsys):
    out, cache = tmp_path / "out", tmp_path / "cache"
    argv = _units(files["images"], out, "--cache", cache, "--layers", "relu2_1", *TWO_UNITS)
    argv += ["--precision", "fp32", "-q"]
    assert _run(argv, capsys)[0] == 0
    first = (out / "manifest.json").read_text()
    (npz,) = cache.rglob("c000000_relu2_1.npz")
    npz.write_bytes(npz.read_bytes()[:100])  # cut short, as by a crash of an older version
    (info,) = cache.rglob("c000000.json")
    code, err = _run(argv, capsys)
    assert code == 0 and "Traceback" not in err, err
    assert (out / "manifest.json").read_text() == first
    info.write_text('{"sizes": [')  # a damaged info file: the chunk is computed again too
    code, err = _run(argv, capsys)
    assert code == 0, err
    assert (out / "manifest.json").read_text() == first


def test_a_rerun_with_fewer_layers_removes_their_grids(files, tmp_path, capsys):
    out = tmp_path / "out"
    base = _units(files["images"], out, *TWO_UNITS, "-q")
    assert _run([*base, "--layers", "relu1_2", "relu2_2"], capsys)[0] == 0
    assert (out / "relu2_2.png").exists()
    (out / "notes.png").write_bytes(b"the user's own file")
    assert _run([*base, "--layers", "relu1_2"], capsys)[0] == 0
    assert (out / "relu1_2.png").exists() and not (out / "relu2_2.png").exists()
    assert (out / "notes.png").exists()  # only what the earlier manifest listed is removed


def test_an_explain_rerun_with_fewer_layers_removes_their_figures(files, tmp_path, capsys):
    out = tmp_path / "out"
    explain = ["explain-style", files["style"], "--images", files["images"], "-o", out, "-q"]
    base = [*explain, "--size", 64, "--style-size", 64, "--channels", 2, "--pairs", 1, "--top", 2]
    assert _run([*base, "--layers", "relu1_1", "relu2_1"], capsys)[0] == 0
    assert (out / "explain_relu2_1.png").exists()
    assert _run([*base, "--layers", "relu1_1"], capsys)[0] == 0
    assert (out / "explain_relu1_1.png").exists() and not (out / "explain_relu2_1.png").exists()


def test_permission_denied_is_not_called_corrupt(files, tmp_path, capsys, monkeypatch):
    from stylegram.image import open_image

    if os.geteuid() != 0:
        files["style"].chmod(0)
    else:  # root reads any file: make PIL meet the error it would meet
        import PIL.Image

        real = PIL.Image.open
        monkeypatch.setattr(
            PIL.Image,
            "open",
            lambda fp, *a, **k: (
                (_ for _ in ()).throw(PermissionError(13, "Permission denied", str(fp)))
                if str(fp) == str(files["style"])
                else real(fp, *a, **k)
            ),
        )
    with pytest.raises(ValueError, match=r"style.jpg': permission denied$"):
        open_image(files["style"])
    code, err = _run(
        ["stylize", files["content"], files["style"], "-o", files["out"], *QUICK], capsys
    )
    assert code == 1 and err.strip().endswith("style.jpg': permission denied"), err


# ---------------------------------------------------------------- the API


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {"preserve_colors": "bogus"},
            "preserve_colors must be one of none, luminance, histogram, not 'bogus'",
        ),
        ({"optimizer": "sgd"}, "optimizer must be one of lbfgs, adam, not 'sgd'"),
        ({"precision": "fp16"}, "precision must be one of auto, fp32, bf16, not 'fp16'"),
        ({"device": "tpu"}, "device cannot be used: unknown device 'tpu'"),
        (
            {"style_layers": "relu1_1"},
            "style_layers must be a list of values, not the single string 'relu1_1'",
        ),
        (
            {"content_weight": -1},
            "content_weight must be at least 0, not -1",
        ),  # the field, not the flag
        ({"seed": 2**64}, "seed must be at most 9223372036854775807"),
        ({"tile_size": 1}, "tile_size must be at least 64, not 1"),
    ],
)
def test_the_api_refuses_with_the_field_name(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        StyleConfig(**kwargs)


def test_the_api_refuses_a_negative_style_mask_index(small_content, small_style):
    from stylegram.transfer.masks import parse_style_masks

    with pytest.raises(
        ValueError,
        match=r"style mask '-1=m.png' names style -1, but the styles are numbered 0 to 0",
    ):
        parse_style_masks(["-1=m.png"], 1)


def test_no_content_layers_is_style_only(vgg, small_content, small_style):
    from stylegram import stylize

    seen = []
    out = stylize(
        small_content,
        [small_style],
        StyleConfig(content_layers=(), size=64, iterations=3, scales=1, seed=0),
        model=vgg,
        callback=seen.append,
    )
    assert out.size == (64, 43) and len(seen) == 3
    assert all(e.losses["content"] == 0 for e in seen) and seen[-1].losses["style"] > 0


def test_a_small_style_scale_is_raised_at_the_coarse_scales_only(vgg, small_content, small_style):
    from stylegram import stylize
    from stylegram.transfer.schedule import style_long_side

    assert style_long_side(256, 0.25, (96, 76), 16) == 64  # as asked where that is large enough
    assert style_long_side(32, 0.25, (96, 76), 16) == 21  # raised: 8 px would leave relu5_1 empty
    config = StyleConfig(
        size=128, style_scale=0.25, scales=2, iterations=4, seed=0
    )  # the coarse style: 16 px
    assert stylize(small_content, [small_style], config, model=vgg).size == (128, 85)


def test_adam_divergence_advises_a_smaller_learning_rate():
    import torch

    from stylegram.transfer.loop import optimize

    def objective(image):
        loss = (image * float("inf")).sum()
        image.grad = torch.ones_like(image)
        return {"total": loss.detach()}

    with pytest.raises(
        ValueError, match=r"diverged at step 1 .* try smaller weights or a smaller learning rate$"
    ):
        optimize(torch.rand(1, 3, 8, 8), 3, objective, optimizer="adam", report=lambda *a: None)


# ---------------------------------------------------------------- signals and leftovers


def _popen(*args: str, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, *args],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
        **kwargs,
    )


# `python -m stylegram layers`, as runpy runs it for -m, once the interpreter is up: a Ctrl-C
# before that lands in Python's own start-up, which no code of ours can catch (on a loaded
# machine, 0.1 s after the start was still there, and Python printed runpy's traceback).
_MAIN_ONCE_UP = (
    "import runpy, sys; print('up', file=sys.stderr, flush=True);"
    " runpy.run_module('stylegram', run_name='__main__', alter_sys=True)"
)


def test_ctrl_c_during_the_imports_is_one_line():
    """Interrupted at several moments of stylegram's start-up: never a traceback."""
    codes = []
    for delay in (0.1, 0.3, 0.8, 1.5):
        proc = _popen("-c", _MAIN_ONCE_UP, "layers")
        assert proc.stderr.readline().strip() == "up"
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        assert "Traceback" not in err, (delay, err)
        assert proc.returncode in (0, 130, -signal.SIGINT), (delay, proc.returncode, err)
        if proc.returncode == 130:
            assert err.strip().splitlines()[-1] == "stylegram: interrupted"
        codes.append(proc.returncode)
    # The imports (torch's) take well over 0.1 s: at least that run was interrupted, not finished
    # before the signal (a test in which every run exits 0 has tested nothing).
    assert codes[0] == 130, codes


# A Ctrl-C that lands while torch is being imported: a finder looks for torch, sends the signal
# and waits in Python code, where a handler that raises would raise (inside a C extension's
# initialisation, torch's pybind11 code aborted the process with SIGABRT on such an exception).
_CTRL_C_IN_TORCHS_IMPORT = """
import os, signal, sys, time

class Finder:
    def find_spec(self, name, path=None, target=None):
        if name == "torch":
            try:
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(2)
            except BaseException:
                print("raised inside an import", file=sys.stderr)
                raise
        return None

sys.meta_path.insert(0, Finder())
sys.argv = ["stylegram", "layers"]
from stylegram.cli import main
print("imports finished", file=sys.stderr)
"""


def test_ctrl_c_during_torchs_import_ends_the_process_without_raising_there():
    proc = _popen("-c", _CTRL_C_IN_TORCHS_IMPORT)
    _, err = proc.communicate(timeout=60)
    assert (proc.returncode, err) == (130, "stylegram: interrupted\n")


def test_sigterm_saves_the_current_image_and_exits_143(files, tmp_path):
    out = tmp_path / "result.png"
    proc = _popen(
        "-m",
        "stylegram",
        "stylize",
        str(files["content"]),
        str(files["style"]),
        "-o",
        str(out),
        "--size",
        "64",
        "--iterations",
        "100000",
        "--scales",
        "1",
        "--save-every",
        "1",
        "-q",
    )
    deadline = time.monotonic() + 120
    while (
        not (tmp_path / "result_0002.png").exists()
        and time.monotonic() < deadline
        and proc.poll() is None
    ):
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "interrupted at step" in err and "Traceback" not in err
    assert Image.open(out).size == (64, 43)
    assert not list(tmp_path.glob(".*.tmp"))


WRITER = """
import sys, time
from stylegram.cli import signals
from stylegram.image import write_atomic
signals.install()
def slow(f):
    for _ in range(600):
        f.write(b"x" * 1000); f.flush(); time.sleep(0.01)
try:
    write_atomic(sys.argv[1], slow)
except KeyboardInterrupt as stop:
    sys.exit(signals.interrupted_exit_code(stop))
"""


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGKILL, -signal.SIGKILL)])
def test_a_signal_during_a_save_leaves_the_old_file_and_no_temporary(sig, code, tmp_path):
    from stylegram.image import write_text_atomic

    out = tmp_path / "out.png"
    out.write_bytes(b"old")
    proc = _popen("-c", WRITER, str(out))
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".out.png.*.tmp")) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)
    proc.send_signal(sig)
    proc.communicate(timeout=30)
    assert proc.returncode == code
    assert out.read_bytes() == b"old"
    left = list(tmp_path.glob(".out.png.*.tmp"))
    assert len(left) == (1 if sig == signal.SIGKILL else 0)  # SIGKILL cannot be caught...
    write_text_atomic("new", out)  # ... and the next write removes what it left
    assert out.read_text() == "new" and not list(tmp_path.glob(".*.tmp"))


@pytest.mark.parametrize("flag", ["-o", "--cache"])
def test_a_read_only_folder_is_refused_before_the_model_loads(
    flag, files, tmp_path, capsys, no_model, monkeypatch
):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    if (
        os.geteuid() == 0
    ):  # root writes into read-only folders: deny as access(2) would for anyone else
        import stylegram.cli.units

        real = os.access
        monkeypatch.setattr(
            stylegram.cli.units.os,
            "access",
            lambda p, mode, **k: (
                False if Path(p) == locked and mode & os.W_OK else real(p, mode, **k)
            ),
        )
    try:
        where = {
            "-o": ["-o", locked / "out"],
            "--cache": ["-o", tmp_path / "out", "--cache", locked / "c"],
        }[flag]
        code, err = _run(["units", "--images", files["images"], *where, "-q"], capsys)
    finally:
        locked.chmod(0o755)
    assert code == 1 and err.count("\n") == 1 and f"folder '{locked}' is not writable" in err, err
    assert not (tmp_path / "out").exists()
