"""Property-based tests (Hypothesis): any config value and any malformed image file give either
a working result or one ValueError line, never another exception.

Bounded for CI: a fixed number of examples, derandomized (the same examples every run), no
deadline and no example database.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from dataclasses import fields
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from stylegram.image import image_size, open_image
from stylegram.settings import check_fields
from stylegram.transfer.config import StyleConfig
from stylegram.units.config import ExplainConfig, UnitsConfig
from stylegram.vgg import layer_infos

BOUNDED = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

LAYERS = list(layer_infos())
FIELD_NAMES = {
    cls: [f.name for f in fields(cls)] for cls in (StyleConfig, UnitsConfig, ExplainConfig)
}

# Plausible values first (the edges of the real ranges), then anything at all.
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-10, max_value=10),
    st.integers(),
    st.just(10**400),
    st.sampled_from([2**63 - 1, 2**63, 2**64, -(2**63)]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1e-300, 1e300, 0.25, 1.0]),
    st.sampled_from(
        LAYERS
        + [
            "relu9_9",
            "",
            "all",
            "0-8",
            "5-2",
            "0-99999999999",
            "3,7,10-12",
            "-1",
            "lbfgs",
            "adam",
            "auto",
            "bf16",
            "fp32",
            "cpu",
            "cuda",
            "meta",
            "mps",
            "random",
            "content",
            "histogram",
            "luminance",
            "max",
            "mean",
            "draft",
            "high",
            "0=m.png",
            "-1=m.png",
        ]
    ),
    st.text(max_size=12),
    st.binary(max_size=8),
    st.just(object()),
    st.just(float),
)
values = st.one_of(
    scalars,
    st.lists(scalars, max_size=4),
    st.lists(scalars, max_size=3).map(tuple),
    st.lists(st.sampled_from(LAYERS), max_size=4).map(tuple),
    st.dictionaries(st.text(max_size=3), scalars, max_size=2),
)


def _one_line(exc: BaseException) -> str:
    text = str(exc)
    assert text and "\n" not in text, repr(text)
    return text


@pytest.mark.parametrize("cls", [StyleConfig, UnitsConfig, ExplainConfig], ids=lambda c: c.__name__)
@BOUNDED
@given(data=st.data())
def test_any_config_value_constructs_or_is_one_value_error(cls, data):
    kwargs = {
        name: data.draw(values, label=name)
        for name in data.draw(
            st.lists(st.sampled_from(FIELD_NAMES[cls]), min_size=1, max_size=3, unique=True)
        )
    }
    try:
        config = cls(**kwargs)
    except ValueError as exc:
        message = _one_line(exc)
        assert message.split()[0] in FIELD_NAMES[cls], message  # names the field
        return
    check_fields(config)  # what was accepted is valid, and stays so when checked again
    assert cls(**{name: getattr(config, name) for name in kwargs}) == config
    for name, value in kwargs.items():
        got = getattr(config, name)
        assert not isinstance(got, list)  # lists become tuples: a frozen config stays frozen
        if isinstance(value, (int, float)) and not isinstance(value, bool) and got is not None:
            assert got == value or got == float(value)


# ---------------------------------------------------------------- malformed image files


def _encoded(fmt: str) -> bytes:
    im = Image.new("RGB", (16, 12))
    im.putdata([(x * 16, y * 20, (x * y) % 256) for y in range(12) for x in range(16)])
    if fmt == "GIF":
        im = im.convert("P")
    buf = io.BytesIO()
    im.save(buf, format=fmt)
    return buf.getvalue()


SEEDS = {fmt: _encoded(fmt) for fmt in ("PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF", "PPM")}


def _png(width: int, height: int, mode: int = 2, depth: int = 8, body: bytes = b"\0" * 64) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, depth, mode, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(body))
        + chunk(b"IEND", b"")
    )


@st.composite
def malformed(draw) -> bytes:
    """A valid small image cut short, with bits flipped, with bytes spliced in, or a PNG
    header that declares a huge (or zero) size."""
    kind = draw(st.sampled_from(["truncate", "flip", "splice", "header", "bmp-header"]))
    data = bytearray(SEEDS[draw(st.sampled_from(sorted(SEEDS)))])
    if kind == "truncate":
        return bytes(data[: draw(st.integers(0, len(data) - 1))])
    if kind == "flip":
        for _ in range(draw(st.integers(1, 8))):
            i = draw(st.integers(0, len(data) - 1))
            data[i] ^= 1 << draw(st.integers(0, 7))
        return bytes(data)
    if kind == "splice":
        i = draw(st.integers(0, len(data)))
        return bytes(data[:i]) + draw(st.binary(min_size=1, max_size=32)) + bytes(data[i:])
    side = st.one_of(
        st.integers(0, 4), st.integers(1, 70_000), st.sampled_from([2**31 - 1, 2**32 - 1])
    )
    if kind == "header":
        return _png(
            draw(side),
            draw(side),
            draw(st.sampled_from([0, 2, 3, 4, 6, 7])),
            draw(st.sampled_from([1, 8, 16, 3])),
        )
    bmp = bytearray(SEEDS["BMP"])  # BITMAPINFOHEADER: width at 18, height at 22, signed
    struct.pack_into(
        "<ii",
        bmp,
        18,
        draw(st.integers(-(2**31), 2**31 - 1)),
        draw(st.integers(-(2**31), 2**31 - 1)),
    )
    return bytes(bmp)


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@pytest.mark.filterwarnings("error")  # a warning would be a second line on the command line
@settings(BOUNDED, max_examples=1000)
@given(
    data=malformed(),
    suffix=st.sampled_from([".png", ".jpg", ".gif", ".bmp", ".webp", ".tif", ".ppm", ""]),
)
def test_a_malformed_image_opens_as_rgb_or_is_one_value_error_naming_it(fuzz_dir, data, suffix):
    path = fuzz_dir / f"case{suffix}"
    path.write_bytes(data)
    try:
        try:
            im = open_image(path)
        except ValueError as exc:
            assert _one_line(exc).startswith(f"'{path}': "), str(exc)
        else:
            assert im.mode == "RGB" and im.width > 0 and im.height > 0
            im.tobytes()  # fully decoded: no lazy error left for later
            assert image_size(path) == im.size  # the header agrees with the pixels
        try:
            image_size(path)  # the header alone, as plans read it
        except ValueError as exc:
            assert _one_line(exc).startswith(f"'{path}': "), str(exc)
        assert sorted(os.listdir(fuzz_dir)) == [path.name]  # reading writes nothing
    finally:
        path.unlink()


# ---------------------------------------------------------------- writes that fail part way


class _Stop(Exception):
    pass


@settings(BOUNDED, max_examples=200)
@given(
    size=st.integers(0, 200_000),
    fail_at=st.one_of(st.none(), st.integers(0, 60)),
    error=st.sampled_from([OSError(28, "No space left on device"), KeyboardInterrupt(), _Stop()]),
    existed=st.booleans(),
)
def test_a_write_failing_part_way_leaves_the_old_file_and_no_temporary(
    fuzz_dir, size, fail_at, error, existed
):
    """`write` fails before its `fail_at`-th block of 4 kB (full disk, Ctrl-C, a bug)."""
    from stylegram.image import write_atomic

    path = fuzz_dir / "out.bin"
    if existed:
        path.write_bytes(b"old")
    new = (bytes(range(256)) * (size // 256 + 1))[:size]
    fails = fail_at is not None and fail_at * 4096 < size

    def write(f) -> None:
        for block, start in enumerate(range(0, size, 4096)):
            if block == fail_at:
                raise error
            f.write(new[start : start + 4096])

    try:
        write_atomic(path, write)
        assert not fails and path.read_bytes() == new
    except ValueError as exc:  # the OSError, naming the file
        assert (
            fails
            and isinstance(error, OSError)
            and _one_line(exc).startswith(f"'{path}': cannot write")
        )
    except (KeyboardInterrupt, _Stop) as exc:
        assert fails and exc is error
    if fails:
        assert path.read_bytes() == b"old" if existed else not path.exists()
    assert sorted(os.listdir(fuzz_dir)) == (["out.bin"] if existed or not fails else [])
    path.unlink(missing_ok=True)
