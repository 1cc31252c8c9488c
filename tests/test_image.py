"""Image I/O: every PIL mode loads as RGB, bad files fail with the file's name, writes are atomic."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from stylegram.image import check_writable, load_image, open_image, save_image


def _gradient(mode_size=(40, 30)) -> Image.Image:
    w, h = mode_size
    a = np.zeros((h, w, 3), np.uint8)
    a[..., 0] = np.linspace(0, 255, w, dtype=np.uint8)[None, :]
    a[..., 1] = np.linspace(0, 255, h, dtype=np.uint8)[:, None]
    return Image.fromarray(a, "RGB")


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "CMYK", "LA", "1"])
def test_common_modes_load_as_rgb(tmp_path, mode):
    path = tmp_path / f"im_{mode}.{'jpg' if mode == 'CMYK' else 'png'}"
    _gradient().convert(mode).save(path)
    x = load_image(path)
    assert x.shape == (1, 3, 30, 40) and x.dtype.is_floating_point
    assert 0 <= float(x.min()) <= float(x.max()) <= 1


def test_sixteen_bit_greyscale_keeps_its_range(tmp_path):
    a = np.tile(np.linspace(0, 65535, 64).astype(np.uint16), (32, 1))
    path = tmp_path / "deep.png"
    Image.fromarray(a).save(path)
    x = load_image(path)
    assert float(x.max()) == pytest.approx(1.0) and float(x.min()) == 0.0
    assert 0.4 < float(x[0, 0, 0, 32]) < 0.6  # not clipped to white, as a plain convert() would


def test_transparent_pixels_become_white(tmp_path):
    im = Image.new("RGBA", (32, 32), (255, 0, 0, 0))
    im.paste((0, 0, 255, 255), (0, 0, 16, 32))
    path = tmp_path / "alpha.png"
    im.save(path)
    x = load_image(path)
    assert x[0, :, 0, 0].tolist() == [0, 0, 1]
    assert x[0, :, 0, 31].tolist() == [1, 1, 1]


def test_exif_rotation_is_applied(tmp_path):
    im = _gradient((40, 30))
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    path = tmp_path / "rotated.jpg"
    im.save(path, exif=exif)
    assert open_image(path).size == (30, 40)


def test_resize_to_long_side():
    x = load_image(_gradient((400, 300)), long_side=64)
    assert x.shape[-2:] == (48, 64)


def test_missing_file(tmp_path):
    with pytest.raises(ValueError, match=r"'.*nope.jpg': no such file"):
        load_image(tmp_path / "nope.jpg")


def test_non_image_file(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("hello, I am text")
    with pytest.raises(ValueError, match=r"'.*notes.png': not an image file"):
        load_image(path)


def test_truncated_file(tmp_path, content_path):
    path = tmp_path / "half.jpg"
    data = content_path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(ValueError, match=r"'.*half.jpg': corrupt or truncated image"):
        load_image(path)


def test_corrupt_file(tmp_path):
    path = tmp_path / "broken.png"
    _gradient().save(path)
    buf = bytearray(path.read_bytes())
    buf[60:200] = b"\x00" * 140  # clobber the image data after the header
    path.write_bytes(bytes(buf))
    with pytest.raises(
        ValueError, match=r"'.*broken.png': (corrupt or truncated image|not an image)"
    ):
        load_image(path)


def test_save_is_atomic_and_leaves_no_temporary_files(tmp_path):
    out = tmp_path / "out.png"
    save_image(load_image(_gradient()), out)
    assert Image.open(out).size == (40, 30)
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


def test_an_interruption_right_after_the_temporary_file_is_made_leaves_none(tmp_path, monkeypatch):
    """Ctrl-C and SIGTERM raise at the first bytecode after a system call returns: here, the
    open that makes save_image's temporary file (a SIGTERM there left one behind)."""
    import os

    real = os.open

    def open_then_interrupted(path, *args, **kwargs):
        fd = real(path, *args, **kwargs)
        if str(path).endswith(".tmp"):
            os.close(fd)
            raise KeyboardInterrupt
        return fd

    monkeypatch.setattr(os, "open", open_then_interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_image(_gradient(), tmp_path / "out.png")
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []


def test_a_failed_save_keeps_the_old_file_whole(tmp_path, monkeypatch):
    out = tmp_path / "out.png"
    save_image(_gradient(), out)
    before = out.read_bytes()

    def explode(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", explode)
    with pytest.raises(ValueError, match="out.png': cannot write"):
        save_image(_gradient((8, 8)), out)
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


@pytest.mark.parametrize(
    "name, message",
    [
        ("no_such_dir/out.png", "directory '.*no_such_dir' does not exist"),
        ("out.xyz", "unknown image extension"),
    ],
)
def test_unwritable_outputs_are_refused_up_front(tmp_path, name, message):
    with pytest.raises(ValueError, match=message):
        check_writable(tmp_path / name)


def test_output_under_a_file_is_refused(tmp_path):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ValueError, match="does not exist"):
        check_writable(tmp_path / "afile" / "out.png")
