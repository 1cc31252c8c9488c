"""A job's multipart upload, checked before anything is written.

Images are checked by decoding them, never by their names: the size of each file, the pixel
count from the header before decoding (decompression bombs), then a full decode. Settings are
checked by building the `StyleConfig`, so that the API refuses what the CLI refuses, with the
same words (the field's name in place of the flag).
"""

from __future__ import annotations

import io
import json
import warnings
from dataclasses import dataclass
from typing import Any

from PIL import Image

from ..image import decode_image as image_decode
from ..transfer import segmentation
from ..transfer.config import StyleConfig, check_size, check_styles, min_side
from ..transfer.plan import plan
from .config import ServeConfig
from .store import SEGMENTATIONS, with_inputs

FORMATS = {"PNG", "JPEG", "WEBP", "BMP", "GIF", "TIFF"}
MAX_STYLES = 8
MAX_FILES = 2 + 2 * MAX_STYLES + len(SEGMENTATIONS)
# Settings a client may not give: every one that names a file the server would read (a test
# holds each StyleConfig field with a file metavar to being here), and the device.
SERVER_ONLY = {
    "weights": "the server's weights are used",
    "style_masks": "send mask files instead",
    "content_mask": "not available in the studio",
    "content_seg": "send content_seg and style_seg files instead",
    "style_seg": "send content_seg and style_seg files instead",
    "device": "the server chooses the device",
}


class UploadError(ValueError):
    """A request the server refuses: its HTTP status and a one-line message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class JobInput:
    content: Image.Image
    styles: list[Image.Image]
    masks: list[Image.Image] | None
    segmentations: tuple[Image.Image, Image.Image] | None
    config: StyleConfig
    names: dict[str, Any]


def decode_image(data: bytes, name: str, limits: ServeConfig) -> Image.Image:
    """The upload as 8-bit RGB, or UploadError naming the file: the server's own limits (bytes,
    formats, pixels) from the header, then image.decode_image, the rules every image follows."""
    if len(data) > limits.max_upload_bytes:
        raise UploadError(
            413,
            f"'{name}' is {len(data) / 1e6:.1f} MB; the limit is {limits.max_upload_mb:g} MB"
            " per file",
        )
    if not data:
        raise UploadError(400, f"'{name}' is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:  # the header only
                fmt, (w, h) = im.format, im.size
    except (
        Image.UnidentifiedImageError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ):
        raise UploadError(415, f"'{name}' is not an image") from None
    except Exception as exc:
        raise UploadError(400, f"'{name}' is a corrupt or truncated image ({exc})") from None
    if fmt not in FORMATS:
        raise UploadError(415, f"'{name}' is {fmt}, not one of {', '.join(sorted(FORMATS))}")
    if w * h > limits.max_pixels:
        raise UploadError(
            413,
            f"'{name}' is {w}×{h} px ({w * h / 1e6:.0f} megapixels); the limit is"
            f" {limits.max_megapixels:g}",
        )
    try:
        return image_decode(data, name)
    except ValueError as exc:
        raise UploadError(400, str(exc)) from None


def parse_config(text: str | None, n_styles: int, limits: ServeConfig) -> StyleConfig:
    """The `config` form field, a JSON object of StyleConfig fields, as a checked StyleConfig."""
    try:
        given = json.loads(text) if text else {}
    except ValueError as exc:
        raise UploadError(400, f"config is not valid JSON ({exc})") from None
    if not isinstance(given, dict):
        raise UploadError(400, "config must be a JSON object of settings")
    known = set(StyleConfig.__dataclass_fields__)
    for name in given:
        if name not in known:
            raise UploadError(400, f"config has an unknown setting '{name}'")
        if name in SERVER_ONLY:
            raise UploadError(
                400, f"{name} cannot be set through the web API ({SERVER_ONLY[name]})"
            )
    if given.get("init", "content") not in ("content", "random"):
        raise UploadError(400, "init must be 'content' or 'random' in the web API")
    try:
        settings: dict[str, Any] = {  # checked by StyleConfig itself
            k: tuple(v) if isinstance(v, list) else v for k, v in given.items()
        }
        config = StyleConfig(**settings)
        check_styles(config, n_styles)
    except ValueError as exc:  # a ConfigError too
        raise UploadError(400, str(exc)) from None
    if config.size > limits.max_size:
        raise UploadError(
            400, f"size must be at most {limits.max_size} on this server, not {config.size}"
        )
    return config


async def read_job(request, limits: ServeConfig) -> JobInput:
    """Read and check `POST /api/jobs`: content, style (repeated), mask (optional, one per
    style), content_seg and style_seg (optional, together), config."""
    length = int(request.headers.get("content-length") or 0)
    if length > limits.max_upload_bytes * MAX_FILES + 1_000_000:
        raise UploadError(
            413, f"the request is {length / 1e6:.0f} MB, more than this server accepts"
        )
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise UploadError(415, "send multipart/form-data with content, style and config fields")
    try:
        form = await request.form(max_files=MAX_FILES, max_fields=8, max_part_size=100_000)
    except Exception as exc:  # Starlette's MultiPartException and parser errors
        raise UploadError(
            400, f"the form cannot be read ({getattr(exc, 'message', exc)})"
        ) from None
    try:
        return await _read_form(form, limits)
    finally:
        await form.close()


async def _file(part, field: str, limits: ServeConfig) -> tuple[Image.Image, str]:
    if isinstance(part, str) or part is None:
        raise UploadError(400, f"{field} must be a file")
    name = (part.filename or field).replace("\n", " ")[:200]
    if part.size is not None and part.size > limits.max_upload_bytes:
        raise UploadError(
            413,
            f"'{name}' is {part.size / 1e6:.1f} MB; the limit is {limits.max_upload_mb:g} MB"
            " per file",
        )
    return decode_image(await part.read(), name, limits), name


async def _read_form(form, limits: ServeConfig) -> JobInput:
    unknown = set(form.keys()) - {"content", "style", "mask", *SEGMENTATIONS, "config"}
    if unknown:
        raise UploadError(400, f"unknown form field '{sorted(unknown)[0]}'")
    if "content" not in form:
        raise UploadError(400, "content (the photo) is missing")
    if len(form.getlist("content")) > 1:
        raise UploadError(400, "give one content image")
    style_parts, mask_parts = form.getlist("style"), form.getlist("mask")
    if not style_parts:
        raise UploadError(400, "style (one or more paintings) is missing")
    if len(style_parts) > MAX_STYLES:
        raise UploadError(400, f"at most {MAX_STYLES} style images, not {len(style_parts)}")
    if mask_parts and len(mask_parts) != len(style_parts):
        raise UploadError(
            400,
            f"give one mask per style or none: {len(mask_parts)} masks for"
            f" {len(style_parts)} styles",
        )
    config = parse_config(form.get("config"), len(style_parts), limits)
    seg_parts = {field: form.getlist(field) for field in SEGMENTATIONS}
    if any(len(parts) > 1 for parts in seg_parts.values()):
        raise UploadError(400, "give one content_seg and one style_seg")
    sent = [field for field, parts in seg_parts.items() if parts]
    try:  # both or neither, one style, no masks beside them: StyleConfig's rules and words
        check_styles(with_inputs(config, len(mask_parts), sent), len(style_parts))
    except ValueError as exc:
        raise UploadError(400, str(exc)) from None
    need = min_side(config)
    content, content_name = await _file(form["content"], "content", limits)
    styles, style_names = [], []
    for part in style_parts:
        im, name = await _file(part, "style", limits)
        styles.append(im)
        style_names.append(name)
    try:
        check_size("content image", content_name, content.size, need)
        for im, name in zip(styles, style_names, strict=True):
            check_size("style image", name, im.size, need)
        plan(
            content, config
        )  # the CLI's memory check: a job that cannot fit is refused now, not queued
    except ValueError as exc:
        raise UploadError(400, str(exc)) from None
    masks = [(await _file(part, "mask", limits))[0].convert("L") for part in mask_parts] or None
    if masks and all(m.getextrema()[1] == 0 for m in masks):
        # transfer.masks' rule, checked before the job is queued: its message would name the
        # job's files on the server.
        raise UploadError(400, "every mask is black: paint where a painting goes, or send none")
    segmentations = None
    if sent:
        (content_seg, content_seg_name), (style_seg, style_seg_name) = [
            await _file(parts[0], field, limits) for field, parts in seg_parts.items()
        ]
        try:  # the CLI's check, before the job is queued: drawn for these pictures, paired
            segmentation.read_pairs(
                content_seg,
                style_seg,
                content.size,
                styles[0].size,
                names=(content_seg_name, style_seg_name),
            )
        except ValueError as exc:
            raise UploadError(400, str(exc)) from None
        segmentations = (content_seg, style_seg)
    names = {"content": content_name, "styles": style_names}
    return JobInput(content, styles, masks, segmentations, config, names)
