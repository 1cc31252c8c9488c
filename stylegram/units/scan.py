"""What VGG's units respond to: the top-activating image patches per channel (Zeiler & Fergus).

`scan()` streams a folder of images through the network once, computing every requested layer
in one pass, and caches each channel's per-image maximum, its position and its mean (see
cache.py). `Scan.top()` then ranks images per unit from the cache, with no forward pass,
so a rerun with other units or a larger top-k is cheap. Each hit carries the exact receptive
field of the maximal activation, from the extractor's stride and receptive-field figures.

Images are scanned at ``size × size``: resized so the short side is `size`, then centre-cropped
(as for ImageNet evaluation), so that they batch. Boxes are given both in those scan pixels and
in the original image's pixels.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as F

from ..geometry import Box, Precision, Size
from ..image import open_image, resize_short_side, short_side_size, to_tensor
from ..settings import ConfigError
from ..vgg import VGG, LayerInfo, check_layers, last_relus, network_for
from .cache import CHUNK, ActivationCache, ChunkInfo, LayerStats, Shares
from .topk import TopK, chunk_top_k, merge_top_k

Rank = Literal["max", "mean"]

# The last ReLU of each block, as in Zeiler & Fergus's figure of layers 1 to 5.
DEFAULT_LAYERS = last_relus("vgg19")  # relu1_2, relu2_2, relu3_4, relu4_4, relu5_4
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm"}
PAD_VALUE = 0.5  # patches are padded with neutral grey where the receptive field leaves the image
# Departure from Zeiler & Fergus, who search every position: by default a peak may sit only where
# at most a quarter of its receptive field (per axis) lies past the border. Zero padding is the
# mean colour after preprocessing, so many units otherwise fire on "image edge against grey".
MAX_OUTSIDE = 0.25


@dataclass(frozen=True)
class Frame:
    """How a scan image of ``size × size`` sits in its original image of ``width × height``."""

    width: int
    height: int
    size: int

    @property
    def resized(self) -> Size:
        """The size after scaling the short side to `size`, before the crop."""
        return short_side_size((self.width, self.height), self.size)

    @property
    def crop(self) -> tuple[int, int]:
        """The (left, top) of the centre crop in resized pixels."""
        w, h = self.resized
        return (w - self.size) // 2, (h - self.size) // 2

    def to_source(self, box: Box) -> Box:
        """A box in scan pixels as a box in the original image's pixels, rounded outwards;
        unclipped."""
        (w, h), (left, top) = self.resized, self.crop
        sx, sy = self.width / w, self.height / h
        x0, y0, x1, y1 = box
        return (
            math.floor((x0 + left) * sx),
            math.floor((y0 + top) * sy),
            math.ceil((x1 + left) * sx),
            math.ceil((y1 + top) * sy),
        )


@dataclass(frozen=True)
class Hit:
    """One entry of a unit's top-k: where in which image the unit fired."""

    layer: str
    unit: int
    rank: int
    image: int  # index into Scan.images
    path: str
    value: float  # the activation at (y, x), the unit's maximum over this image
    mean: float  # the unit's mean activation over this image
    y: int  # position in the feature map
    x: int
    box_scan: Box  # the receptive field in scan pixels; may leave the image
    box_source: Box  # the same box in the original image's pixels


@dataclass(frozen=True)
class ScanProgress:
    """Reported after each batch: images done (read from the cache or computed) of the total."""

    done: int
    total: int
    skipped: tuple[
        tuple[str, str], ...
    ]  # (path, reason) of files that could not be read, new this batch
    cached: bool
    recomputed: tuple[
        str, ...
    ] = ()  # cache files found damaged or of another shape, computed again


def list_images(
    folder: str | os.PathLike, skip: Callable[[Path], bool] | None = None
) -> list[Path]:
    """The image files under `folder`, recursively, in sorted order; without those `skip` names
    (a command's own output and cache, which a rerun would otherwise take for input)."""
    root = Path(folder)
    if not root.is_dir():
        raise ValueError(f"'{root}': not a directory of images")
    paths = sorted(
        p
        for p in root.rglob("*")
        if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file() and not (skip and skip(p))
    )
    if not paths:
        raise ValueError(f"'{root}': no image files ({', '.join(sorted(IMAGE_SUFFIXES))}) found")
    return paths


def load_scan_image(path: str | os.PathLike, size: int) -> tuple[Tensor, Frame]:
    """The (1, 3, size, size) scan image of `path` and its `Frame`."""
    im = open_image(path)
    frame = Frame(im.width, im.height, size)
    left, top = frame.crop
    return to_tensor(resize_short_side(im, size))[..., top : top + size, left : left + size], frame


def parse_units(spec: str, info: LayerInfo, option: str = "units") -> list[int]:
    """``"all"``, ``"0-8"`` or ``"3,7,10-12"`` as a list of channel indices of the layer `info`;
    errors name `option`."""
    if spec == "all":
        return list(range(info.channels))
    units: list[int] = []
    for part in spec.split(","):
        lo, _, hi = part.strip().partition("-")
        try:
            first, last = int(lo), int(hi or lo)
        except ValueError:
            raise ConfigError(
                option, f"{spec!r}: give 'all', a range like 0-8 or a list like 3,7,10-12"
            ) from None
        if last < first:
            raise ConfigError(
                option, f"{spec!r}: the range {part.strip()} runs backwards; write {last}-{first}"
            )
        try:  # both ends, before the range is made: "0-99999999999" is no list
            info.check_unit(first)
            info.check_unit(min(last, info.channels))  # names the first unit past the end
        except ValueError as exc:
            raise ConfigError(option, f"{spec!r}: {exc}") from None
        units.extend(range(first, last + 1))
    return list(dict.fromkeys(units))  # "0-8,5" names unit 5 once


def eligible_positions(info: LayerInfo, side: int, size: int, max_outside: float) -> Tensor:
    """(side, side) bool: the positions whose receptive field lies at most `max_outside` of its
    width past the border of a ``size × size`` image on each axis (all, if none qualifies)."""
    limit = max_outside * info.receptive_field
    x0 = torch.tensor([info.box(x, 0)[0] for x in range(side)])
    ok = (x0 >= -limit) & (x0 + info.receptive_field <= size + limit)
    if not ok.any():
        ok[:] = True
    return ok[:, None] & ok[None, :]


class Scan:
    """The cached activation statistics of a list of images; rank units with `top`."""

    def __init__(
        self, cache: ActivationCache, images: list[Path], layers: Sequence[str], size: int, vgg: VGG
    ) -> None:
        self.cache, self.images, self.layers, self.size, self.info = (
            cache,
            images,
            tuple(layers),
            size,
            vgg.info,
        )
        self._infos = [cache.read_info(c) for c in range(cache.n_chunks)]

    @property
    def skipped(self) -> list[tuple[str, str]]:
        """(path, reason) for every file that could not be read."""
        return [s for info in self._infos for s in info.skipped]

    @property
    def n_read(self) -> int:
        return len(self.images) - len(self.skipped)

    def frame(self, image: int) -> Frame:
        size = self._infos[image // CHUNK].sizes[image % CHUNK]
        if size is None:
            raise ValueError(
                f"image {image} '{self.images[image]}' was unreadable; it has no frame"
            )
        return Frame(*size, self.size)

    def top(
        self, layer: str, units: Sequence[int], k: int, *, rank: Rank = "max"
    ) -> list[list[Hit]]:
        """Per unit, its `k` best images (at most one patch per image), best first.

        Args:
            layer: a scanned layer.
            units: channel indices.
            k: how many images per unit.
            rank: ``"max"`` ranks images by the unit's peak activation, ``"mean"`` by its
                mean over the image; either way the patch is at the peak. Equal scores rank
                the earlier image first.
        """
        return hits_of(
            self.top_k(layer, units, k, rank=rank),
            layer,
            units,
            self.info[layer],
            self.images,
            self.size,
        )

    def shares(self, layer: str) -> Shares:
        """Each channel's share of the Gram energy, summed over the readable images."""
        self._check_layer(layer)
        parts = [self.cache.read(chunk, layer).shares() for chunk in range(self.cache.n_chunks)]
        return sum(parts[1:], parts[0])

    def _check_layer(self, layer: str) -> None:
        if layer not in self.layers:
            raise ValueError(f"layer '{layer}' was not scanned (scanned: {', '.join(self.layers)})")

    def top_k(self, layer: str, units: Sequence[int], k: int, *, rank: Rank = "max") -> TopK:
        """`top` as arrays, merged one cache chunk at a time (see topk.py)."""
        self._check_layer(layer)
        best: TopK | None = None
        for chunk in range(self.cache.n_chunks):
            part = chunk_top_k(
                self.cache.read(chunk, layer),
                chunk * CHUNK,
                self._infos[chunk].sizes,
                units,
                k,
                rank=rank,
            )
            best = part if best is None else merge_top_k([best, part], k)
        assert best is not None
        return best


def hits_of(
    top: TopK,
    layer: str,
    units: Sequence[int],
    info: LayerInfo,
    images: Sequence[str | os.PathLike],
    size: int,
) -> list[list[Hit]]:
    """The hits of top-k arrays: receptive fields in scan and source pixels, unreadable images left out."""
    side = size // info.stride
    hits: list[list[Hit]] = []
    for row, unit in enumerate(units):
        hits.append([])
        for col in np.flatnonzero(top.score[row] > -math.inf):
            image = int(top.image[row, col])
            y, x = divmod(int(top.position[row, col]), side)
            box = info.box(x, y)
            frame = Frame(int(top.width[row, col]), int(top.height[row, col]), size)
            hits[-1].append(
                Hit(
                    layer,
                    unit,
                    len(hits[-1]),
                    image,
                    str(images[image]),
                    float(top.value[row, col]),
                    float(top.mean[row, col]),
                    y,
                    x,
                    box,
                    frame.to_source(box),
                )
            )
    return hits


def scan(
    vgg: VGG,
    images: Sequence[str | os.PathLike],
    *,
    layers: Sequence[str] = DEFAULT_LAYERS,
    size: int = 224,
    cache_dir: str | os.PathLike,
    precision: Precision = "auto",
    batch_size: int = 8,
    max_outside: float = MAX_OUTSIDE,
    callback: Callable[[ScanProgress], None] | None = None,
) -> Scan:
    """Compute (or read from the cache) every layer's per-channel statistics for `images`.

    Args:
        vgg: the extractor; it is not modified.
        images: image files; unreadable ones are skipped and reported in `ScanProgress.skipped`.
        layers: layer names; all are computed in one forward pass per batch.
        size: the scan size in pixels (short side resized to it, then centre-cropped).
        cache_dir: where the activation cache lives.
        precision: ``"auto"`` uses a bf16 copy of the network where that is fast; the statistics
            are recorded in fp32 either way.
        batch_size: images per forward pass.
        max_outside: how much of a peak's receptive field may lie past the border, as a fraction
            of its width per axis; 1 searches every position.
        callback: called with a `ScanProgress` after each batch.
    """
    check_layers(layers, vgg.arch)
    if size < vgg.min_size(layers):
        raise ConfigError(
            "size",
            f"{size} is too small for {max(layers, key=lambda n: vgg.info[n].stride)}; "
            f"at least {vgg.min_size(layers)} px is needed",
        )
    paths = [Path(p) for p in images]
    if not paths:
        raise ValueError("no images to scan")
    net, name = network_for(vgg, precision)
    cache = ActivationCache(
        cache_dir, paths, size=size, vgg=vgg, precision=name, max_outside=max_outside
    )
    masks = {
        layer: eligible_positions(
            vgg.info[layer], size // vgg.info[layer].stride, size, max_outside
        )
        for layer in layers
    }
    shapes = {
        layer: (vgg.info[layer].channels, (size // vgg.info[layer].stride) ** 2) for layer in layers
    }
    done = 0
    for chunk in range(cache.n_chunks):
        todo, damaged = cache.missing(chunk, shapes)
        span = cache.chunk_range(chunk)
        if damaged and callback:
            callback(ScanProgress(done, len(paths), (), False, tuple(damaged)))
        if todo:

            def report(n: int, skipped: tuple, done: int = done) -> None:
                if callback:
                    callback(ScanProgress(done + n, len(paths), skipped, False))

            stats, info = _scan_chunk(
                net, [paths[i] for i in span], {k: masks[k] for k in todo}, size, batch_size, report
            )
            cache.write(chunk, info, stats)
        elif callback:
            callback(
                ScanProgress(
                    done + len(span), len(paths), tuple(cache.read_info(chunk).skipped), True
                )
            )
        done += len(span)
    return Scan(cache, paths, layers, size, vgg)


def _scan_chunk(
    net: VGG,
    paths: list[Path],
    masks: dict[str, Tensor],
    size: int,
    batch_size: int,
    report: Callable[[int, tuple], None],
) -> tuple[dict[str, LayerStats], ChunkInfo]:
    """Run one cache chunk through the network, a batch at a time; `masks` per layer to compute."""
    sizes: list[tuple[int, int] | None] = []
    skipped: list[tuple[str, str]] = []
    parts: dict[str, list[LayerStats]] = {layer: [] for layer in masks}
    for start in range(0, len(paths), batch_size):
        batch, ok, new_skips = [], [], []
        for path in paths[start : start + batch_size]:
            try:
                image, frame = load_scan_image(path, size)
            except ValueError as exc:
                new_skips.append((str(path), str(exc)))
                sizes.append(None)
                ok.append(False)
                continue
            sizes.append((frame.width, frame.height))
            batch.append(image)
            ok.append(True)
        for layer, stats in _batch_stats(net, batch, ok, masks).items():
            parts[layer].append(stats)
        skipped += new_skips
        report(start + len(ok), tuple(new_skips))
    merged = {
        layer: LayerStats(
            *(
                np.concatenate([getattr(s, f) for s in parts[layer]])
                for f in ("max", "argmax", "mean", "energy")
            )
        )
        for layer in masks
    }
    return merged, ChunkInfo(sizes, skipped)


@torch.inference_mode()
def _batch_stats(
    net: VGG, batch: list[Tensor], ok: list[bool], masks: dict[str, Tensor]
) -> dict[str, LayerStats]:
    """Statistics for one batch; rows of unreadable images hold -inf."""
    features = net(torch.cat(batch), masks) if batch else {}
    rows = np.flatnonzero(ok)
    out = {}
    for layer, eligible in masks.items():
        channels = net.info[layer].channels
        stats = LayerStats(
            np.full((len(ok), channels), -np.inf, np.float32),
            np.zeros((len(ok), channels), np.int32),
            np.full((len(ok), channels), -np.inf, np.float32),
            np.zeros((len(ok), channels), np.float32),
        )
        if batch:
            read = LayerStats.of(features[layer], eligible)
            for f in ("max", "argmax", "mean", "energy"):
                getattr(stats, f)[rows] = getattr(read, f)
        out[layer] = stats
    return out


def crop_patch(image: Tensor, box: Box, *, fill: float = PAD_VALUE) -> Tensor:
    """Cut `box` out of `image` (1, 3, H, W), padding with
    `fill` where the box leaves the image, so every box of one size gives a patch of that size."""
    x0, y0, x1, y1 = box
    h, w = image.shape[-2:]
    padded = F.pad(image, (max(0, -x0), max(0, x1 - w), max(0, -y0), max(0, y1 - h)), value=fill)
    dx, dy = max(0, -x0), max(0, -y0)
    return padded[..., y0 + dy : y1 + dy, x0 + dx : x1 + dx]
