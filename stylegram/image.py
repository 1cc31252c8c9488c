"""Image I/O: the one decoder of image files and bytes (`open_image`, `decode_image`, and
`open_mask` for masks), resizing, and `write_atomic`, through which images, manifests, caches,
checkpoints and frames are written.

Images travel through stylegram as float tensors (1, 3, H, W), RGB in [0, 1].
Every user-facing failure is a ValueError whose message names the file and the problem.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import re
import secrets
import stat
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TypeVar

import numpy as np
import torch
from PIL import Image, ImageChops, ImageOps, UnidentifiedImageError
from torch import Tensor

from .errors import summary
from .files import folder_of, readable_file, temporaries

T = TypeVar("T")

ImageLike = str | os.PathLike | Image.Image

# Extensions PIL writes that are sensible for a picture; the format follows the extension.
_WRITABLE = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".webp": "WEBP",
    ".bmp": "BMP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
}


def open_image(source: ImageLike) -> Image.Image:
    """Open an image as 8-bit RGB, upright per its EXIF orientation, fully decoded.

    Any problem with the file, whatever PIL raises for it, is a ValueError naming the file.
    Images over PIL's pixel limit (`PIL.Image.MAX_IMAGE_PIXELS`, a guard against decompression
    bombs) are refused, not decoded with a warning.
    """
    if isinstance(source, Image.Image):
        return _to_rgb(source)
    with _reading(source) as path, Image.open(path) as im:
        im.load()  # decode now, so a truncated file fails here and not later
        return _to_rgb(ImageOps.exif_transpose(im))


def open_mask(source: ImageLike) -> Image.Image:
    """Open a mask as 8-bit greyscale ('L'): white paints, black does not. Transparency does not
    paint either: the grey level is multiplied by alpha (`open_image` puts transparent pixels on
    white, as on a page, which in a mask would paint them)."""
    if isinstance(source, Image.Image):
        return _mask_of(source)
    with _reading(source) as path, Image.open(path) as im:
        im.load()
        return _mask_of(ImageOps.exif_transpose(im))


def _has_alpha(im: Image.Image) -> bool:
    return im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info)


def _mask_of(im: Image.Image) -> Image.Image:
    if _has_alpha(im) or im.mode in ("La", "RGBa"):  # and PIL's premultiplied modes, from the API
        rgba = im.convert("RGBA")
        return ImageChops.multiply(rgba.convert("L"), rgba.getchannel("A"))
    return _to_rgb(im).convert("L")


def image_size(source: ImageLike) -> tuple[int, int]:
    """An image's upright (W, H) from its header, without decoding its pixels; the same
    ValueErrors as `open_image` for a file that cannot even be opened."""
    if isinstance(source, Image.Image):
        return source.size
    with _reading(source) as path, Image.open(path) as im:
        w, h = im.size
        orientation = im.getexif().get(0x0112, 1)  # EXIF Orientation: 5-8 turn the image a quarter
    return (h, w) if orientation in (5, 6, 7, 8) else (w, h)


def decode_image(data: bytes, name: str) -> Image.Image:
    """The image in `data`, a file's bytes (an upload, a job sent to a worker), by the rules of
    `open_image`: the same conversions, the same pixel limit, errors naming `name`."""
    with _decoding(name), Image.open(io.BytesIO(data)) as im:
        im.load()
        return _to_rgb(ImageOps.exif_transpose(im))


@contextlib.contextmanager
def _reading(source: str | os.PathLike) -> Iterator[Path]:
    """Check that `source` is a file to read, then decode it under `_decoding`'s rules."""
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(
            f"an image is given as a file path or a PIL image, not {type(source).__name__}"
            " (for an array: PIL.Image.fromarray(a))"
        )
    path = readable_file(source, "image file")
    with _decoding(path):
        yield path


@contextlib.contextmanager
def _decoding(path: str | os.PathLike) -> Iterator[None]:
    """Turn whatever PIL raises while decoding `path` into one ValueError naming it: the one
    rule for every image stylegram reads, from a file or from bytes."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter(
                "ignore"
            )  # "Corrupt EXIF data" and the like: the pixels decoded, say nothing
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ValueError(
            f"'{path}': {_pixels(exc)} is over the limit of {Image.MAX_IMAGE_PIXELS:,} pixels that"
            " PIL decodes (a guard against decompression bombs); use a smaller image"
        ) from None
    except PermissionError:
        raise ValueError(f"'{path}': permission denied") from None
    except UnidentifiedImageError:
        raise ValueError(f"'{path}': not an image file PIL can read") from None
    except MemoryError:
        raise ValueError(f"'{path}': too large to decode in the memory available") from None
    except ValueError as exc:
        if str(exc).startswith(f"'{path}': "):  # ours, from inside the block
            raise
        raise ValueError(f"'{path}': corrupt or truncated image ({summary(exc)})") from None
    except Exception as exc:
        raise ValueError(f"'{path}': corrupt or truncated image ({summary(exc)})") from None


def _pixels(exc: BaseException) -> str:
    """The pixel count PIL's bomb check quotes, for the message ("120,000,000 pixels")."""
    found = re.search(r"\((\d+) pixels\)", str(exc))
    return f"{int(found.group(1)):,} pixels" if found else "the image"


def _to_rgb(im: Image.Image) -> Image.Image:
    """Greyscale, palette, CMYK, 16-bit and alpha images to 8-bit RGB."""
    if im.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N"):
        # PIL's convert() clips 16-bit values at 255; scale by the file's bit depth instead (never
        # by the pixels' own maximum, which turned a dark 16-bit image into a bright one).
        a = np.asarray(im, dtype=np.float64)
        im = Image.fromarray((a / _full_scale(im) * 255).round().clip(0, 255).astype(np.uint8), "L")
    if _has_alpha(im):
        # Transparent pixels become white, as on a page, instead of whatever colour they hide.
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        im = Image.alpha_composite(white, rgba)
    return im.convert("RGB")


def _full_scale(im: Image.Image) -> float:
    """The value of white in a greyscale image of mode I or I;16*: 2**bits - 1. PIL reads 16-bit
    PNG and TIFF greyscale as I;16 (or I); a 32-bit TIFF declares 32 bits per sample."""
    bits = im.tag_v2.get(258, 16) if hasattr(im, "tag_v2") else 16  # TIFF BitsPerSample
    bits = bits[0] if isinstance(bits, tuple) else bits
    return float(2 ** int(bits) - 1)


def long_side_size(size: tuple[int, int], long_side: int) -> tuple[int, int]:
    """The (W, H) of an image of `size` resized so that its longer side is `long_side`."""
    w, h = size
    scale = long_side / max(w, h)
    return max(1, round(w * scale)), max(1, round(h * scale))


def resize_long_side(im: Image.Image, long_side: int | None) -> Image.Image:
    """Resize so the longer side is `long_side` pixels (None keeps the size)."""
    if long_side is None or max(im.size) == long_side:
        return im
    return im.resize(long_side_size(im.size, long_side), Image.Resampling.LANCZOS)


def to_tensor(im: Image.Image) -> Tensor:
    """8-bit RGB PIL image -> (1, 3, H, W) float32 in [0, 1]."""
    a = torch.from_numpy(np.asarray(im, dtype=np.uint8).copy())
    return a.permute(2, 0, 1).unsqueeze(0).contiguous().float() / 255


def to_pil(image: Tensor) -> Image.Image:
    """(1, 3, H, W) or (3, H, W) tensor in [0, 1] -> 8-bit RGB PIL image."""
    a = image.detach().float().cpu().squeeze(0).clamp(0, 1).mul(255).round().byte()
    return Image.fromarray(a.permute(1, 2, 0).numpy(), "RGB")


def load_image(source: ImageLike, *, long_side: int | None = None) -> Tensor:
    """Open, convert to RGB and resize an image; return it as (1, 3, H, W) in [0, 1]."""
    return to_tensor(resize_long_side(open_image(source), long_side))


# The most a side file's name adds to its file's: ".NAME.checkpoint" written as
# "..NAME.checkpoint.PID.XXXXXXXX.tmp" (PIDs up to 7 digits).
TEMPORARY_NAME_EXTRA = 40


def check_writable(path: str | os.PathLike) -> Path:
    """Fail now, not after a long run, if `path` cannot be written."""
    path = Path(path)
    if path.suffix.lower() not in _WRITABLE:
        raise ValueError(
            f"'{path}': unknown image extension; use one of {', '.join(sorted(_WRITABLE))}"
        )
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise ValueError(f"'{path}': cannot write, directory '{parent}' does not exist")
    if path.is_dir():
        raise ValueError(f"'{path}': cannot write, it is a directory")
    if not os.access(parent, os.W_OK):
        raise ValueError(f"'{path}': cannot write, directory '{parent}' is not writable")
    try:
        limit = os.pathconf(parent, "PC_NAME_MAX")
    except (OSError, ValueError):
        limit = 255
    if len(os.fsencode(path.name)) + TEMPORARY_NAME_EXTRA > limit:
        raise ValueError(
            f"'{path}': the name is too long: this folder allows {limit} bytes, and stylegram writes"
            f" through side files with names {TEMPORARY_NAME_EXTRA} bytes longer; choose a shorter name"
        )
    return path


def chmod_like_open(path: str | os.PathLike, mode: int = 0o666) -> None:
    """mkstemp and mkdtemp make files and folders private; give the result the permissions
    open() (0o666) or mkdir() (0o777) would, less the umask."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, mode & ~umask)


# Temporary files of write_atomic: ".NAME.PID.XXXXXXXX.tmp" beside NAME (before the pid was in
# the name: ".NAME.XXXXXXXX.tmp"). One left by a killed writer is removed by a later write into
# its folder (`_sweep`).
STALE_AFTER_S = 300  # a temporary file untouched this long has no live writer


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists but is not ours (EPERM), or we cannot tell: keep its file
        return True
    return True


# The mark write_atomic puts on its temporary files (an extended attribute): a leftover is
# recognised by it, never by its name alone, which a user's file can have too.
TEMPORARY_MARK = ("user.stylegram", b"temporary")


def mark_temporary(path: str | os.PathLike) -> None:
    """Mark a file as write_atomic's temporary; a file system without user attributes keeps no
    mark, and its leftovers are then never removed (deleting only what we wrote comes first)."""
    with contextlib.suppress(OSError, AttributeError):
        os.setxattr(path, *TEMPORARY_MARK, follow_symlinks=False)


def unmark_temporary(path: str | os.PathLike) -> None:
    with contextlib.suppress(OSError, AttributeError):
        os.removexattr(path, TEMPORARY_MARK[0], follow_symlinks=False)


def _marked(path: Path) -> bool:
    try:
        return os.getxattr(path, TEMPORARY_MARK[0], follow_symlinks=False) == TEMPORARY_MARK[1]
    except (OSError, AttributeError):
        return False


def remove_stale_temporaries(path: str | os.PathLike, *, every_name: bool = False) -> list[Path]:
    """Remove write_atomic's leftovers for `path` (a writer killed by SIGKILL or a power cut):
    only regular files of our own name pattern that carry our mark (`mark_temporary`), whose
    writing process is gone or which nobody has touched for `STALE_AFTER_S`; with `every_name`,
    those of every file in `path`'s folder. Returns the files removed."""
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    removed: list[Path] = []
    try:
        candidates = list(parent.glob(".*.tmp" if every_name else temporaries(path).name))
    except OSError:
        return removed
    name = ".+?" if every_name else re.escape(path.name)  # shortest first: "a.png.123." has a pid
    ours = re.compile(rf"\.{name}\.(?:(?P<pid>\d+)\.)?[a-z0-9_]{{8}}\.tmp")
    now = time.time()
    for tmp in candidates:
        found = ours.fullmatch(tmp.name)
        if not found or found.group("pid") == str(os.getpid()):
            continue
        try:
            st = tmp.lstat()
            dead = found.group("pid") is not None and not _pid_alive(int(found.group("pid")))
            if (
                stat.S_ISREG(st.st_mode)
                and st.st_uid == os.getuid()
                and _marked(tmp)
                and (dead or now - st.st_mtime > STALE_AFTER_S)
            ):
                tmp.unlink()
                removed.append(tmp)
        except OSError:
            continue
    return removed


# When this process last removed the leftovers in each folder it writes to (time.monotonic()).
_SWEPT: dict[Path, float] = {}
SWEEP_EVERY_S = 10.0


def _sweep(folder: Path) -> None:
    """Every leftover in `folder`, at most once every `SWEEP_EVERY_S`: listing a folder of
    thousands of files before each of thousands of writes (a unit atlas's patches) took 3.5 ms
    a file, and a leftover waits at most that long for the next write there."""
    now = time.monotonic()
    if now - _SWEPT.get(folder, -math.inf) >= SWEEP_EVERY_S:
        _SWEPT[folder] = now
        remove_stale_temporaries(folder / "any", every_name=True)


def make_temporary(
    made: list[Path], parent: Path, name: str, make: Callable[[Path], T], suffix: str = ".tmp"
) -> T:
    """Make a temporary file or folder beside `name` in `parent` with `make` (open_temporary,
    os.mkdir), named ".NAME.PID.XXXXXXXX<suffix>", the pattern files.temporaries globs; what
    `make` returns.

    The name goes into `made`, the caller's list to clean up, before the file exists, so the
    clean-up sees the file whenever an interruption comes: Ctrl-C and SIGTERM raise at the first
    bytecode after a system call returns, and tempfile.mkstemp hands back a name only after its
    open has returned (a SIGTERM there left a temporary file behind). A name already taken (the
    same process id and 32 random bits) is drawn again."""
    while True:
        made[:] = [parent / f".{name}.{os.getpid()}.{secrets.token_hex(4)}{suffix}"]
        with contextlib.suppress(FileExistsError):
            return make(made[0])


def open_temporary(path: Path) -> int:
    """Make `path` (for make_temporary), as tempfile.mkstemp makes its files: new
    (FileExistsError otherwise), private, not followed through a link; its descriptor."""
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL
    flags |= getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    return os.open(path, flags, 0o600)


def write_atomic(path: str | os.PathLike, write: Callable[[IO[bytes]], object]) -> Path:
    """Write a file atomically: `write` fills a temporary file beside `path`, then a rename.

    A crash, Ctrl-C, SIGTERM or full disk mid-write never leaves a half-written file at `path`,
    and the old file, if any, stays intact; the temporary file is removed (and one left by a
    killed writer is removed by a later write into its folder, `_sweep`). Images, manifests, caches and
    checkpoints go through it. Two writers keep the same promise their own way: a folder built
    beside its place and renamed into it (a studio job, a folder of PNG frames), and the video
    encoder, which FFmpeg writes under a temporary name that is then renamed.
    """
    path = Path(path)
    parent = folder_of(path)
    _sweep(parent)
    made: list[Path] = []
    try:
        fd = make_temporary(made, parent, path.name, open_temporary)
        tmp = made[0]
        mark_temporary(tmp)
        with os.fdopen(fd, "wb") as f:
            write(f)
        chmod_like_open(tmp)
        unmark_temporary(tmp)  # the finished file is no leftover, wherever it is moved later
        os.replace(tmp, parent / path.name)
    except OSError as exc:
        raise ValueError(f"'{path}': cannot write ({exc.strerror or exc})") from None
    finally:
        for leftover in made:
            if os.path.lexists(leftover):
                os.unlink(leftover)
    return path


def save_image(
    image: Tensor | Image.Image, path: str | os.PathLike, *, metadata: dict[str, str] | None = None
) -> Path:
    """Write an image atomically, in the format its extension names; `metadata` goes into a
    PNG's text chunks (other formats ignore it)."""
    path = check_writable(path)
    im = image if isinstance(image, Image.Image) else to_pil(image)
    fmt = _WRITABLE[path.suffix.lower()]
    extra = {}
    if metadata and fmt == "PNG":
        from PIL.PngImagePlugin import PngInfo

        extra["pnginfo"] = info = PngInfo()
        for key, value in metadata.items():
            info.add_itxt(key, value)
    return write_atomic(path, lambda f: im.save(f, format=fmt, **extra))


def png_text(path: str | os.PathLike, key: str) -> str | None:
    """The text chunk `key` that `save_image(metadata=...)` put into a PNG, or None: no such
    chunk, file or image. Reads the chunks before the pixels, where PIL writes them, and does
    not decode the pixels (``Image.text`` would)."""
    try:
        with Image.open(path) as im:
            value = im.info.get(key)
    except (OSError, ValueError):
        return None
    return str(value) if isinstance(value, str) else None


def write_text_atomic(text: str, path: str | os.PathLike) -> Path:
    """Write a text file (a manifest, a page) atomically."""
    # A file name that is not UTF-8 (a surrogate in `text`) is written back as its own bytes.
    return write_atomic(path, lambda f: f.write(text.encode("utf-8", "surrogateescape")))


# ---------------------------------------------------------------- helpers for the unit visualiser


def short_side_size(size: tuple[int, int], short_side: int) -> tuple[int, int]:
    """The (W, H) of an image of `size` resized so that its shorter side is `short_side`: the
    one rule behind `resize_short_side` and the unit scan's crop boxes (units.scan.Frame)."""
    w, h = size
    scale = short_side / min(w, h)
    return max(short_side, round(w * scale)), max(short_side, round(h * scale))


def resize_short_side(im: Image.Image, short_side: int) -> Image.Image:
    """Resize so the shorter side is `short_side` pixels, keeping the aspect ratio."""
    size = short_side_size(im.size, short_side)
    return im if size == im.size else im.resize(size, Image.Resampling.BICUBIC, reducing_gap=3.0)


def text_image(
    text: str, *, height: int = 20, width: int | None = None, font_size: int | None = None
) -> Tensor:
    """A label as a (1, 3, height, W) tensor: dark text on white, PIL's built-in font."""
    from PIL import ImageDraw, ImageFont

    font = ImageFont.load_default(size=font_size or max(8, height * 3 // 4))
    _, top, right, bottom = font.getbbox(text)
    # FreeType's box is typed float (it can be with a stroke); the image needs whole pixels.
    im = Image.new("RGB", (width or math.ceil(right) + 8, height), (255, 255, 255))
    ImageDraw.Draw(im).text((4, (height - bottom - top) // 2), text, fill=(20, 20, 20), font=font)
    return to_tensor(im)
