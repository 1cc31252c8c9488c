"""Issue 23: nothing a run reads is written over (stylegram.files and cli/files.py), and the other
cases of that fuzz: each gives a valid result or one line with exit 1, and no input changes."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from stylegram import cli
from tests.conftest import stylize_argv, units_argv

QUICK = ["--size", "64", "--iterations", "2", "--scales", "1", "-q"]
UNITS_QUICK = ["--layers", "relu1_2", "--top", "1", "--size", "64", "-q"]
VIDEO_QUICK = ["--size", "48", "--iterations", "1", "--scales", "1", "-q"]


def cmd(*items) -> list[str]:
    """A command line of these items, each as a string (paths included)."""
    return [str(a) for a in items]


def digest(root: Path) -> dict[str, str]:
    """Every file under `root` by its bytes."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def refused(argv, capsys, pattern: str) -> str:
    """Run the CLI; it must exit 1 with one line matching `pattern`."""
    import re

    code = cli.main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert code == 1, err
    assert err.count("\n") == 1 and err.startswith("stylegram: error: "), err
    assert re.search(pattern, err), err
    return err


@pytest.fixture()
def work(tmp_path, data) -> Path:
    """A user's folder: a photo, a painting, a snapshot and a folder of four photos."""
    photo = Image.open(data / "photos" / "chelsea.jpg").convert("RGB")
    photo.thumbnail((80, 80))
    photo.save(tmp_path / "photo.png")
    Image.open(data / "paintings" / "starry_night.jpg").convert("RGB").resize((80, 64)).save(
        tmp_path / "style.jpg"
    )
    photo.save(tmp_path / "init_0002.png")
    (tmp_path / "photos").mkdir()
    for path in sorted((data / "scan").iterdir())[:4]:
        shutil.copy(path, tmp_path / "photos" / path.name)
    return tmp_path


# ---------------------------------------------------------------- the overlaps of the issue


def test_explain_style_does_not_replace_a_painting_inside_its_output_folder(work, capsys, no_model):
    before = digest(work)
    refused(
        ["explain-style", work / "style.jpg", "--images", work / "photos", "-o", work, "-q"],
        capsys,
        r"style.jpg' \(-o\) would overwrite '.*style.jpg' \(the painting\), which this run reads; choose"
        r" another -o",
    )
    assert digest(work) == before


@pytest.mark.parametrize(
    "argv, pattern",
    [
        (
            [
                "{w}/photo.png",
                "{w}/style.jpg",
                "-o",
                "{w}/init.png",
                "--init",
                "{w}/init_0002.png",
                "--save-every",
                "2",
            ],
            r"init_0002.png' \(--save-every\) would overwrite '.*init_0002.png' \(--init\)",
        ),
        (
            ["{w}/photo.png", "{w}/st_0001.png", "-o", "{w}/st.png", "--save-every", "1"],
            r"st_0001.png' \(--save-every\) would overwrite '.*st_0001.png' \(the painting\)",
        ),
    ],
)
def test_snapshots_do_not_overwrite_inputs(work, capsys, no_model, argv, pattern):
    shutil.copy(work / "style.jpg", work / "st_0001.png")
    before = digest(work)
    refused(["stylize", *[a.format(w=work) for a in argv], *QUICK], capsys, pattern)
    assert digest(work) == before


def test_a_checkpoint_name_that_is_a_folder_or_not_ours_is_refused_before_work(
    work, capsys, no_model
):
    side = work / ".out.png.checkpoint"
    side.mkdir()
    argv = ["stylize", work / "photo.png", work / "style.jpg", "-o", work / "out.png", *QUICK]
    refused(argv, capsys, r"out.png.checkpoint' \(-o \(its checkpoint\)\): is a folder")
    side.rmdir()
    side.write_text("my notes")  # a user's file of that name: never replaced, never removed
    refused(argv, capsys, r"out.png.checkpoint': is not a stylegram checkpoint")
    assert side.read_text() == "my notes" and not (work / "out.png").exists()


def test_units_does_not_scan_its_own_report(work, capsys):
    argv = units_argv(work, work / "out", "--layers", "relu1_2", "--top", "2", "--size", "64", "-q")
    photos = digest(work / "photos")
    for _ in range(2):
        assert cli.main(argv) == 0, capsys.readouterr().err
        manifest = json.loads((work / "out" / "manifest.json").read_text())
        # photo.png, init_0002.png, style.jpg and the four photos; not combined.png or the grids
        assert manifest["images"] == 7, manifest["images"]
    assert digest(work / "photos") == photos


def test_units_refuses_an_output_folder_that_is_the_scanned_folder(work, capsys, no_model):
    refused(
        ["units", "--images", work / "photos", "-o", work / "photos", "-q"],
        capsys,
        r"the folder this run writes its report in, and the folder '.*photos' \(--images\) is inside it",
    )


def test_batch_refuses_its_photo_folder_as_output_and_skips_its_results_below_it(work, capsys):
    photos = work / "photos"
    argv = ["batch", photos, "--styles", work / "style.jpg", *QUICK]
    refused(
        [*argv, "-o", photos], capsys, r"the folder this run writes its results in, and the folder"
    )
    out = photos / "out"
    assert cli.main([str(a) for a in [*argv, "-o", out]]) == 0, capsys.readouterr().err
    capsys.readouterr()
    assert cli.main([str(a) for a in [*argv, "-o", out] if a != "-q"]) == 0
    err = capsys.readouterr().err
    assert "4 jobs: 0 done, 4 already done" in err, err  # its own results were not taken for photos


def test_a_fifo_is_refused_at_once_not_read_forever(work, capsys, no_model):
    fifo = work / "pipe.png"
    os.mkfifo(fifo)

    def unblock() -> None:  # should the refusal regress into a read, end it within 10 s, not never
        if not stop.wait(10):
            os.close(
                os.open(fifo, os.O_RDWR)
            )  # Linux: a writer that opens without blocking, then EOF

    stop = threading.Event()
    threading.Thread(target=unblock, daemon=True).start()
    refused(
        ["stylize", fifo, work / "style.jpg", "-o", work / "out.png", *QUICK],
        capsys,
        r"pipe.png': is a pipe, which can be read only once",
    )
    stop.set()


def test_dev_stdin_redirected_from_a_png_reads_it(work):
    code = "from stylegram.image import open_image; print(open_image('/dev/stdin').size)"
    with open(work / "photo.png", "rb") as stdin:
        done = subprocess.run(
            [sys.executable, "-c", code], stdin=stdin, capture_output=True, text=True, timeout=60
        )
    assert done.stdout.strip() == str(Image.open(work / "photo.png").size), done.stderr


def test_messages_name_the_problem(work, capsys, no_model):
    loop = work / "loop.png"
    loop.symlink_to(loop)
    refused(
        ["stylize", loop, work / "style.jpg", "-o", work / "o.png", *QUICK],
        capsys,
        r"loop.png': a loop of symbolic",
    )
    odd = work / "a\nb.png"
    refused(
        ["stylize", odd, work / "style.jpg", "-o", work / "o.png", *QUICK],
        capsys,
        r"a\\nb.png': no such file",
    )
    bad_record = work / "out"
    bad_record.mkdir()
    (bad_record / "batch.jsonl").write_bytes(b"\xff\xfe\x00garbage")
    refused(
        ["batch", work / "photo.png", "--styles", work / "style.jpg", "-o", bad_record, *QUICK],
        capsys,
        r"batch.jsonl': cannot read the batch's record \(not a text file\)",
    )
    batch = ["batch", work / "photo.png", "--styles", work / "style.jpg", "-o", work / "b"]
    refused(
        [*batch, "--sweep", "size=64,64", *QUICK],
        capsys,
        r"--sweep 'size=64,64': 64 repeats the value 64; give each value once",
    )
    refused(
        [*batch, "--sweep", "style_weight=1e5,100000", *QUICK],
        capsys,
        r"100000 repeats the value 1e5",
    )
    junk = work / "junk"
    junk.mkdir()
    (junk / "a.jpg").write_text("not a picture")
    refused(
        ["units", "--images", junk, "-o", work / "u", "-q"],
        capsys,
        r"none of the 1 image files could be read",
    )


# ---------------------------------------------------------------- weights and caches


def _vgg16_state(tmp_path: Path) -> Path:
    """A torchvision-format VGG16 state dict with random weights (the test needs its shapes only)."""
    from stylegram.vgg import layer_infos

    torch.manual_seed(0)
    state, c_in = {}, 3
    for index, info in enumerate(layer_infos("vgg16").values()):
        if info.kind == "conv":
            state[f"features.{index}.weight"] = torch.randn(info.channels, c_in, 3, 3) * 0.05
            state[f"features.{index}.bias"] = torch.zeros(info.channels)
            c_in = info.channels
    path = tmp_path / "vgg16.pth"
    torch.save(state, path)
    return path


def test_weights_of_the_wrong_shape_are_one_line_before_use(work, capsys):
    from stylegram.weights import load_vgg

    path = _vgg16_state(work)
    state = torch.load(path)
    state["features.2.weight"] = torch.zeros(64, 32, 3, 3)
    torch.save(state, work / "bad.pth")
    with pytest.raises(
        ValueError,
        match=r"bad.pth' is not a VGG16/VGG19 state dict: conv1_2's weight has shape"
        r" \(64, 32, 3, 3\), expected \(64, 64, 3, 3\)",
    ):
        load_vgg(work / "bad.pth")


def test_a_vgg16_file_runs_units_with_its_own_default_layers(work, capsys):
    weights = _vgg16_state(work)
    out = work / "u16"
    on_vgg16 = units_argv(work / "photos", out, "--weights", weights)
    argv = [*on_vgg16, "--size", "64", "--top", "1", "--units", "0-1", "-q"]
    assert cli.main(argv) == 0, capsys.readouterr().err
    layers = json.loads((out / "manifest.json").read_text())["layers"]
    assert list(layers) == ["relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3"]
    refused(
        [*on_vgg16, "--layers", "relu3_4", "--size", "64", "-q"],
        capsys,
        r"--layers relu3_4: this network is VGG16, which has no such layer; its"
        r" ReLU layers are relu1_1, .*relu5_3",
    )


def test_a_cache_chunk_of_the_wrong_shape_is_computed_again_with_a_note(work, capsys):
    argv = units_argv(
        work / "photos", work / "u", "--layers", "relu1_2", "--top", "1", "--size", "64"
    )
    assert cli.main(argv) == 0
    first = (work / "u" / "manifest.json").read_text()
    chunk = next((work / "u" / ".cache").rglob("c000000_relu1_2.npz"))
    np.savez(
        chunk,
        max=np.zeros((4, 3), np.float32),
        argmax=np.zeros((4, 3), np.int32),
        mean=np.zeros((4, 3), np.float32),
    )  # readable, but 3 units where relu1_2 has 64
    capsys.readouterr()
    assert cli.main(argv) == 0
    assert (
        f"cache file '{chunk}' was damaged or of another shape; computing it again"
        in capsys.readouterr().err
    )
    assert (work / "u" / "manifest.json").read_text() == first


# ---------------------------------------------------------------- silently wrong, now right


def test_sixteen_bit_images_are_scaled_by_their_bit_depth(tmp_path):
    from stylegram.image import open_image

    grey = np.full((8, 8), 200 * 257, np.uint16)  # 200/255 of white in 16 bits
    grey[0, 0] = 256
    Image.fromarray(grey).save(tmp_path / "g16.png")
    pixels = np.asarray(open_image(tmp_path / "g16.png"))
    assert (
        pixels[4, 4, 0] == 200 and pixels[0, 0, 0] == 1
    )  # one dark pixel does not darken the rest
    Image.fromarray(np.full((8, 8), 200, np.uint16)).save(tmp_path / "dark.png")
    assert np.asarray(open_image(tmp_path / "dark.png")).max() == 1  # 200/65535 is near black


def test_transparent_mask_pixels_do_not_paint(tmp_path):
    from stylegram.transfer.masks import load_mask

    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[..., :3] = 255  # white everywhere...
    rgba[:, :4, 3] = 255  # ...but opaque only on the left
    Image.fromarray(rgba, "RGBA").save(tmp_path / "m.png")
    mask = load_mask(tmp_path / "m.png", (8, 8))[0, 0]
    assert mask[:, :3].min() > 0.99 and mask[:, 5:].max() < 0.01


def test_a_frames_folder_is_replaced_whole_and_never_holds_stale_frames(tmp_path):
    from stylegram.video import io

    out = tmp_path / "frames"
    frames = [Image.new("RGB", (8, 8), (k * 40, 0, 0)) for k in range(3)]
    io.write(frames, io.check_output(out), fps=25)
    io.write(frames[:1], io.check_output(out), fps=25)
    assert sorted(p.name for p in out.iterdir()) == ["00001.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames"]  # no temporary folder left
    (out / "notes.txt").write_text("mine")
    with pytest.raises(
        ValueError, match=r"holds files that are not frames of stylegram's \(such as 'notes.txt'\)"
    ):
        io.check_output(out)


def test_a_one_frame_gif_says_so_without_blaming_start(tmp_path, capsys, data, no_model):
    pytest.importorskip("av")
    Image.new("RGB", (32, 32)).save(tmp_path / "one.gif")
    painting = data / "paintings" / "starry_night.jpg"
    refused(
        ["video", tmp_path / "one.gif", painting, "-o", tmp_path / "o.mp4"],
        capsys,
        r"one.gif': has no length \(a single frame\?\)",
    )


# ---------------------------------------------------------------- the API and the server


def test_the_api_says_what_it_accepts(small_content, small_style):
    import stylegram

    with pytest.raises(
        TypeError, match=r"config must be a StyleConfig, not dict \(for a dict: StyleConfig"
    ):
        stylegram.stylize(small_content, small_style, {"size": 64})
    with pytest.raises(
        TypeError, match=r"an image is given as a file path or a PIL image, not ndarray"
    ):
        stylegram.stylize(np.zeros((8, 8, 3)), small_style)
    with pytest.raises(TypeError, match=r"not Tensor"):
        stylegram.stylize(small_content, torch.zeros(1, 3, 8, 8))


def test_serve_on_a_busy_port_is_one_line_and_makes_no_folder(tmp_path, capsys):
    import socket

    pytest.importorskip("uvicorn")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        refused(
            ["serve", "--port", port, "--data-dir", tmp_path / "studio"],
            capsys,
            rf"--port {port}: cannot listen on 127.0.0.1:{port}",
        )
    assert not (tmp_path / "studio").exists()


# ---------------------------------------------------------------- the independent check's cases


def test_the_batch_record_is_never_a_link_to_another_file(work, capsys, no_model):
    out = work / "out"
    out.mkdir()
    (work / "notes.txt").write_text("mine\n")
    (out / "batch.jsonl").symlink_to(work / "notes.txt")
    argv = ["batch", work / "photo.png", "--styles", work / "style.jpg", "-o", out, *QUICK]
    refused(
        argv,
        capsys,
        r"batch.jsonl': is a link; the batch appends its record there and would change another",
    )
    (out / "batch.jsonl").unlink()
    os.link(work / "photo.png", out / "batch.jsonl")  # a hard link to an input
    refused(
        argv,
        capsys,
        r"batch.jsonl' \(-o \(its record\)\) would overwrite '.*photo.png' \(the photos\)",
    )
    assert (work / "notes.txt").read_text() == "mine\n"


def test_pipes_and_devices_where_a_run_writes_are_refused_not_waited_on(work, capsys, no_model):
    os.mkfifo(work / "out.png")
    refused(
        ["stylize", work / "photo.png", work / "style.jpg", "-o", work / "out.png", *QUICK],
        capsys,
        r"out.png' \(-o\): is a pipe, not a file",
    )
    report = work / "rep"
    report.mkdir()
    os.mkfifo(report / "manifest.json")
    refused(
        ["units", "--images", work / "photos", "-o", report, "-q"],
        capsys,
        r"manifest.json' \(-o\): is a pipe, not a file",
    )


def test_a_name_too_long_for_the_side_files_is_one_line_before_work(work, capsys, no_model):
    long = work / ("a" * 230 + ".png")
    refused(
        ["stylize", work / "photo.png", work / "style.jpg", "-o", long, *QUICK],
        capsys,
        r"the name is too long: this folder allows 255 bytes",
    )


def test_a_literal_star_in_an_output_name_is_a_name(work, capsys):
    argv = stylize_argv(work / "photo.png", work / "style.jpg", work / "p*.png", *QUICK)
    assert cli.main(argv) == 0, capsys.readouterr().err
    assert (work / "p*.png").is_file() and (work / "photo.png").is_file()


def test_a_link_named_like_a_report_file_does_not_hide_the_photo_it_points_to(work, capsys):
    report = work / "rep"
    report.mkdir()
    (report / "index.html").symlink_to(work / "photos" / sorted(os.listdir(work / "photos"))[0])
    argv = units_argv(work / "photos", report, *UNITS_QUICK)
    assert cli.main(argv) == 0, capsys.readouterr().err
    assert json.loads((report / "manifest.json").read_text())["images"] == 4


def test_a_scan_reads_file_names_that_are_not_utf8(work, capsys):
    odd = os.fsencode(work / "photos") + b"/bad\xff_.jpg"
    shutil.copy(work / "photo.png", odd)
    argv = units_argv(work / "photos", work / "u", *UNITS_QUICK)
    assert cli.main(argv) == 0, capsys.readouterr().err
    assert json.loads((work / "u" / "manifest.json").read_text())["images"] == 5


def test_batch_says_what_a_named_input_is(work, capsys, no_model):
    os.mkfifo(work / "pipe.jpg")
    refused(
        ["batch", work / "pipe.jpg", "--styles", work / "style.jpg", "-o", work / "b", *QUICK],
        capsys,
        r"pipe.jpg': is a pipe",
    )
    Image.new("RGB", (20, 16)).save(work / "tiny.png")
    refused(
        ["batch", work / "tiny.png", "--styles", work / "style.jpg", "-o", work / "b", *QUICK],
        capsys,
        r"content image '.*tiny.png' is 20×16 px; at least 32×32 is needed",
    )
    assert not (work / "b").exists()


@pytest.fixture()
def frames(work) -> Path:
    folder = work / "frames"
    folder.mkdir()
    for k in range(3):
        Image.new("RGB", (48, 32), (60 * k, 90, 30)).save(folder / f"{k + 1:05d}.png")
    return folder


def test_video_frame_folders_hold_only_frames_and_keep_no_work_folder_after_a_refusal(
    work, frames, capsys
):
    pytest.importorskip("av")
    out = work / "outf"
    (out / "00002.png").mkdir(parents=True)  # a folder with a frame's name
    (out / "00002.png" / "notes.txt").write_text("precious")
    argv = ["video", frames, work / "style.jpg", *VIDEO_QUICK]
    refused([*argv, "-o", out], capsys, r"outf': the folder holds files that are not frames")
    refused(
        [*argv[:3], "--size", "32", "-o", work / "o.gif"],
        capsys,
        r"frames': its frames at --size 32 are 32×22 px; at least 32×32 is needed",
    )
    refused(
        [*argv, "-o", work / "new", "--work-dir", work / "new"],
        capsys,
        r"'.*new' \(-o\) is replaced as a whole by this run, and '.*new' \(--work-dir\) is inside it",
    )
    (frames / "00002.png").write_bytes(b"junk")
    refused([*argv, "-o", work / "o.gif"], capsys, r"00002.png': ")
    assert (
        not (work / "o.gif.frames").exists()
        and (out / "00002.png" / "notes.txt").read_text() == "precious"
    )


def test_changed_frames_under_the_same_names_are_another_job(work, frames, capsys):
    pytest.importorskip("av")
    argv = cmd("video", frames, work / "style.jpg", "-o", work / "r.gif", *VIDEO_QUICK)
    assert cli.main(argv) == 0, capsys.readouterr().err
    Image.new("RGB", (48, 32), (0, 0, 200)).save(frames / "00001.png")
    os.utime(frames / "00001.png", ns=(1, 1))
    refused(argv, capsys, r"the work folder holds frames of another job")


def test_a_finished_run_removes_its_own_checkpoint_and_no_other(work, capsys):
    """The second independent check: a different job's checkpoint vanished at the end of a run."""
    from stylegram.cli.checkpoint import Checkpoint
    from stylegram.transfer.stylize import Iterate

    side = work / ".o.png.checkpoint"
    Checkpoint(side, "another job's key").save(
        Iterate(1, 2, 0, 1, (8, 8), {}, torch.zeros(1, 3, 8, 8))
    )
    saved = side.read_bytes()
    argv = stylize_argv(work / "photo.png", work / "style.jpg", work / "o.png", *QUICK)
    assert cli.main(argv) == 0, capsys.readouterr().err
    assert side.read_bytes() == saved  # left for its own job's rerun
    assert cli.main([*argv, "--checkpoint-every", "1"]) == 0  # this job's own is removed when done
    assert not side.exists()


def test_a_photo_named_like_the_outputs_temporary_file_is_refused_and_kept(work, capsys, no_model):
    """The second and third independent checks: the clean-up of a killed writer's temporaries
    went by name, and then by a mark that finished files kept; the temporary names are declared."""
    photo = work / ".o.png.999999.abcdefgh.tmp"
    shutil.copy(work / "photo.png", photo)
    before = photo.read_bytes()
    refused(
        ["stylize", photo, work / "style.jpg", "-o", work / "o.png", *QUICK],
        capsys,
        r"o.png.\*.tmp' \(-o \(its temporary file\)\) would overwrite '.*abcdefgh.tmp' \(the photo\)",
    )
    assert photo.read_bytes() == before


def test_finished_files_carry_no_temporary_mark(tmp_path):
    from stylegram.image import TEMPORARY_MARK, write_text_atomic

    out = write_text_atomic("done", tmp_path / "out.txt")
    with pytest.raises(OSError):
        os.getxattr(out, TEMPORARY_MARK[0])


# ---------------------------------------------------------------- the third independent check's cases


def test_bad_weights_are_one_line_before_a_batch_or_a_video_makes_anything(work, frames, capsys):
    (work / "bad.pth").write_bytes(b"garbage")
    style, bad = work / "style.jpg", ["--weights", work / "bad.pth"]
    refused(
        ["batch", work / "photos", "--styles", style, "-o", work / "out", *bad, *QUICK],
        capsys,
        r"bad.pth' is not a torch.save file",
    )
    pytest.importorskip("av")
    refused(
        ["video", frames, style, "-o", work / "o.gif", *bad, "--size", "48", "-q"],
        capsys,
        r"bad.pth' is not a torch.save file",
    )
    assert not (work / "out").exists() and not (work / "o.gif.frames").exists()


def test_a_frame_that_links_to_the_output_is_refused(work, frames, capsys):
    pytest.importorskip("av")
    (frames / "00004.png").symlink_to(work / "o.webp")
    Image.new("RGB", (48, 32)).save(work / "o.webp")
    before = (work / "o.webp").read_bytes()
    refused(
        ["video", frames, work / "style.jpg", "-o", work / "o.webp", "--size", "48", "-q"],
        capsys,
        r"o.webp' \(-o\) would overwrite '.*00004.png' \(a frame of the input\)",
    )
    assert (work / "o.webp").read_bytes() == before


def test_frames_replace_a_folder_only_if_it_still_holds_only_frames(tmp_path):
    from stylegram.video import io

    out = io.check_output(tmp_path / "frames")
    io.write([Image.new("RGB", (8, 8))], out, fps=25)
    (out / "notes.txt").write_text("put there during the run")  # after the check at the start
    with pytest.raises(ValueError, match="holds files that are not frames"):
        io.write([Image.new("RGB", (8, 8))] * 2, out, fps=25)
    assert (out / "notes.txt").read_text() == "put there during the run"


def test_a_path_through_a_link_and_dotdot_is_written_where_the_system_finds_it(tmp_path):
    from stylegram.image import write_text_atomic

    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "L").symlink_to(tmp_path)  # c/L/.. is tmp_path's parent for the system
    (tmp_path / "c" / "d").mkdir()
    target = tmp_path / "c" / "L" / ".." / tmp_path.name / "c" / "d" / "out.txt"
    write_text_atomic("done", target)
    assert (tmp_path / "c" / "d" / "out.txt").read_text() == "done"


def test_a_cache_folder_that_is_a_link_is_refused_not_written_through(work, capsys):
    """The fifth independent check: a link named like the cache's own folder led its chunks into
    a user's folder."""
    argv = units_argv(work / "photos", work / "u", "--cache", work / "c", *UNITS_QUICK)
    assert cli.main(argv) == 0
    (folder,) = (work / "c").iterdir()
    shutil.rmtree(folder)
    (work / "mine").mkdir()
    (work / "mine" / "c000000.json").write_text("mine")
    folder.symlink_to(work / "mine")
    refused(argv, capsys, r"is a link; the activation cache writes only into folders of its own")
    assert (work / "mine" / "c000000.json").read_text() == "mine"


def test_a_pass_folder_of_the_work_folder_that_is_a_link_is_refused(work, frames, capsys):
    """The sixth independent check: with a matching job.json, a work folder's pass1 that linked
    to a user's folder (or to the input frames) was read from and written into."""
    pytest.importorskip("av")
    argv = cmd("video", frames, work / "style.jpg", "-o", work / "o.gif", *VIDEO_QUICK)
    assert cli.main(argv) == 0, capsys.readouterr().err
    work_dir = work / "o.gif.frames"
    shutil.rmtree(work_dir / "pass1")
    (work / "user").mkdir()
    (work_dir / "pass1").symlink_to(work / "user")
    refused(
        argv,
        capsys,
        r"pass1': is a link or not a folder; the work folder keeps its frames only in folders",
    )
    assert list((work / "user").iterdir()) == []
