"""The activation cache of a unit scan: per image and layer, each channel's spatial max, its
position and its spatial mean.

That is 12 bytes per channel, about 18 kB per image for the five default layers, so the cache
of 100,000 images fits on disk (1.8 GB) and is read one chunk at a time. Rerunning with other
units or a larger top-k reads it instead of running the network again.

Layout: ``DIR/<key>/c000000_relu1_2.npz`` holds one chunk of images for one layer; ``c000000.json``
holds the chunk's image sizes and the files that could not be read. The key hashes the image
list (paths, sizes, modification times), the scan size, the network's weights and precision,
so a changed folder or network never reads stale numbers.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..files import read_own
from ..geometry import Resolved
from ..image import write_atomic, write_text_atomic
from ..settings import ConfigError
from ..vgg import VGG

CACHE_VERSION = 2  # 2: each channel's energy (mean of a²) beside its max and mean
CHUNK = 64  # images per cache file


@dataclass(frozen=True)
class LayerStats:
    """One chunk's statistics for one layer; n images × C channels."""

    max: np.ndarray  # (n, C) float32, -inf for images that could not be read
    argmax: np.ndarray  # (n, C) int32, flat position y·W + x in the feature map
    mean: np.ndarray  # (n, C) float32
    energy: np.ndarray  # (n, C) float32, mean of a² over the map: the Gram diagonal per position

    @staticmethod
    def of(features: Tensor, eligible: Tensor | None = None) -> LayerStats:
        """From activations (n, C, H, W) of one layer, recorded in fp32; the max is taken over
        the positions where `eligible` (H, W) is true, the mean and energy over all."""
        n, c, h, w = features.shape
        if eligible is None:
            eligible = torch.ones(h, w, dtype=torch.bool)
        if tuple(eligible.shape) != (h, w):
            raise ValueError(
                f"the eligible positions are {tuple(eligible.shape)}, the feature map {(h, w)}"
            )
        # (n, H, W, C) in fp32: the order channels-last features (the bf16 network's) lie in
        # memory, so that reducing over positions reads memory in order.
        positions = features.permute(0, 2, 3, 1).float()
        mean = positions.reshape(n, -1, c).mean(dim=1)
        energy = positions.reshape(n, -1, c).square().mean(dim=1)
        rows, cols = eligible.any(dim=1).nonzero()[:, 0], eligible.any(dim=0).nonzero()[:, 0]
        y0, y1, x0, x1 = (
            (int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1)
            if len(rows)
            else (0,) * 4
        )
        if len(rows) and bool(eligible[y0:y1, x0:x1].all()):
            # A rectangle (the border rule always gives one): the max over that window, with its
            # position mapped back to the whole map. Row-major in both, so ties resolve alike; a
            # quarter of a scan's time went to masking a full-size fp32 copy instead.
            best, where = positions[:, y0:y1, x0:x1].reshape(n, -1, c).max(dim=1)
            where = (where // (x1 - x0) + y0) * w + where % (x1 - x0) + x0
        else:
            best, where = (
                positions.reshape(n, -1, c)
                .masked_fill(~eligible.flatten()[:, None], -torch.inf)
                .max(dim=1)
            )
        return LayerStats(best.numpy(), where.int().numpy(), mean.numpy(), energy.numpy())

    def shares(self) -> Shares:
        """Each readable image's channel energies as shares of its Gram trace, summed."""
        readable = ~np.isneginf(self.max[:, 0]) if len(self.max) else np.zeros(0, bool)
        energy = self.energy[readable].astype(np.float64)
        trace = energy.sum(axis=1, keepdims=True)
        shares = np.divide(energy, trace, out=np.zeros_like(energy), where=trace > 0)
        return Shares(shares.sum(axis=0), int(readable.sum()))


@dataclass(frozen=True)
class Shares:
    """The sum over images of each image's per-channel share of its Gram trace, G_kk / Σ G_jj,
    and the number of images: what explain-style compares a painting's shares with. Sums, so
    that the chunks of a scan and the parts of a cluster scan add up in any order."""

    total: np.ndarray  # (C,) float64
    images: int

    def __add__(self, other: Shares) -> Shares:
        return Shares(self.total + other.total, self.images + other.images)

    @property
    def mean(self) -> np.ndarray:
        """Each channel's share of a typical image's Gram energy (the mean over images)."""
        return self.total / max(self.images, 1)


@dataclass(frozen=True)
class ChunkInfo:
    """Which images of a chunk were read, their original sizes, and why the others were not."""

    sizes: list[tuple[int, int] | None]  # (width, height), None where unreadable
    skipped: list[tuple[str, str]]  # (path, reason)


def weights_fingerprint(vgg: VGG) -> str:
    """A short hash of the network's weights (every bias and the first filter bank)."""
    h = hashlib.sha256()
    for name in vgg.convs:
        bias = vgg.conv(name).bias
        assert bias is not None  # VGG's convolutions all have one
        h.update(name.encode())
        h.update(bias.detach().float().cpu().numpy().tobytes())
    h.update(vgg.conv("conv1_1").weight.detach().float().cpu().numpy().tobytes())
    h.update(f"{vgg.pooling} {vgg.preprocessing}".encode())
    return h.hexdigest()[:16]


class ActivationCache:
    """Chunked statistics for one (image list, scan size, network, precision).

    Args:
        root: the cache directory; a subdirectory per key is made inside it.
        images: the image files, in scan order.
        size: the scan size in pixels.
        vgg: the network whose weights key the cache.
        precision: ``"fp32"`` or ``"bf16"``, the precision the activations were computed in.
        max_outside: the border rule the maxima were taken under (see units.eligible_positions).
    """

    def __init__(
        self,
        root: str | os.PathLike,
        images: Sequence[Path],
        *,
        size: int,
        vgg: VGG,
        precision: Resolved,
        max_outside: float,
    ) -> None:
        key = (
            f"v{CACHE_VERSION} {size} {precision} {max_outside} {CHUNK} {weights_fingerprint(vgg)}"
        )
        h = hashlib.sha256(key.encode())
        for path in images:
            st = path.stat()
            h.update(
                b"\n" + os.fsencode(path.resolve()) + f" {st.st_size} {st.st_mtime_ns}".encode()
            )
        self.dir = Path(root) / h.hexdigest()[:20]
        if self.dir.is_symlink():  # it would lead the chunks into a folder that is not the cache's
            raise ConfigError(
                "cache",
                f"'{self.dir}': is a link; the activation cache writes only into folders of its"
                " own; remove the link or choose another",
            )
        self.n_images = len(images)

    @property
    def n_chunks(self) -> int:
        return -(-self.n_images // CHUNK)

    def chunk_range(self, chunk: int) -> range:
        return range(chunk * CHUNK, min(self.n_images, (chunk + 1) * CHUNK))

    def _layer_path(self, chunk: int, layer: str) -> Path:
        return self.dir / f"c{chunk:06d}_{layer}.npz"

    def _info_path(self, chunk: int) -> Path:
        return self.dir / f"c{chunk:06d}.json"

    def missing(
        self, chunk: int, shapes: Mapping[str, tuple[int, int]]
    ) -> tuple[list[str], list[str]]:
        """The layers of `shapes` (layer: (channels, positions)) not cached for `chunk`, and the
        cache files among them that are there but wrong: cut short by a crash or a full disk,
        or of another shape (another layer's, another network's). Both are computed again."""
        n = len(self.chunk_range(chunk))
        info = self._info_path(chunk)
        try:
            if len(self.read_info(chunk).sizes) != n:
                raise ValueError("another chunk's images")
        except ValueError:
            return list(shapes), [str(info)] if info.exists() else []
        todo, damaged = [], []
        for layer, (channels, positions) in shapes.items():
            path = self._layer_path(chunk, layer)
            if not _valid(path, n, channels, positions):
                todo.append(layer)
                damaged += [str(path)] if path.exists() else []
        return todo, damaged

    def write(self, chunk: int, info: ChunkInfo, stats: dict[str, LayerStats]) -> None:
        """Store a chunk; each file is written atomically, the info file last."""
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                "cache",
                f"'{self.dir}': cannot make the activation cache here ({exc.strerror or exc});"
                " choose another",
            ) from None
        for layer, s in stats.items():
            write_atomic(
                self._layer_path(chunk, layer),
                functools.partial(
                    np.savez, max=s.max, argmax=s.argmax, mean=s.mean, energy=s.energy
                ),
            )
        text = json.dumps({"sizes": info.sizes, "skipped": info.skipped})
        write_text_atomic(text, self._info_path(chunk))

    def read_info(self, chunk: int) -> ChunkInfo:
        path = self._info_path(chunk)
        try:
            raw = json.loads(read_own(path).decode("utf-8"))
            sizes = [tuple(s) if s is not None else None for s in raw["sizes"]]
            return ChunkInfo(sizes, [tuple(s) for s in raw["skipped"]])
        except FileNotFoundError:
            raise ValueError(f"'{path}': cache file missing") from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ValueError(
                f"'{path}': unreadable cache file ({type(exc).__name__}); delete the cache folder"
                " and run again"
            ) from None

    def read(self, chunk: int, layer: str) -> LayerStats:
        path = self._layer_path(chunk, layer)
        try:
            with np.load(io.BytesIO(read_own(path))) as z:
                return LayerStats(z["max"], z["argmax"], z["mean"], z["energy"])
        except Exception as exc:
            raise ValueError(
                f"'{path}': unreadable cache file ({type(exc).__name__}); delete the cache folder"
                " and run again"
            ) from None


def _valid(path: Path, n: int, channels: int, positions: int) -> bool:
    """Whether a chunk file holds the statistics of `n` images × `channels` units, with peak
    positions inside a map of `positions` (a few hundred kB: read whole)."""
    try:
        with np.load(io.BytesIO(read_own(path))) as z:
            best, where, mean, energy = z["max"], z["argmax"], z["mean"], z["energy"]
    except Exception:
        return False
    return (
        all(a.shape == (n, channels) for a in (best, where, mean, energy))
        and all(a.dtype.kind == "f" for a in (best, mean, energy))
        and where.dtype.kind in "iu"
        and bool(((where >= 0) & (where < positions)).all())
    )
