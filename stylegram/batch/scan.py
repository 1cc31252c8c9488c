"""Unit scans on a Dask cluster: the images in parts, each part scanned on a worker with
`stylegram.units.scan` and a worker-local cache, the per-unit top-k lists merged in a tree.

The lists merge with `units.topk.merge_top_k`, the same merge a local scan uses chunk by chunk,
under a total order (score, then image index), so the result equals a local scan hit for hit.
The client reads the image files and sends their bytes a few parts at a time; each worker holds
one part's images and a few small top-k arrays. Memory stays flat in the number of images, on
the client and on the workers.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import describe
from ..geometry import Precision
from ..units.cache import Shares
from ..units.config import ScanConfig
from ..units.scan import Hit, Rank, hits_of, scan
from ..units.topk import TopK, merge_top_k
from ..vgg import LayerInfo, layer_infos
from .cluster import InFlight, register_vgg, worker_plugin

PART = 256  # images per part: 4 cache chunks; a worker holds one part's files at a time


@dataclass(frozen=True)
class ScanSpec:
    """What every part is scanned for: the units, and the scan settings of a `ScanConfig`
    (units and explain-style's), which keeps their defaults; `ScanSpec.of` makes one."""

    layers: tuple[str, ...]
    units: Mapping[str, Sequence[int]]  # per layer, the channels to rank
    k: int
    rank: Rank
    size: int
    precision: Precision
    batch_size: int
    max_outside: float
    weights: str | None

    @staticmethod
    def of(config: ScanConfig, units: Mapping[str, Sequence[int]], rank: Rank = "max") -> ScanSpec:
        return ScanSpec(
            tuple(units),
            units,
            config.top,
            rank,
            config.size,
            config.precision,
            config.batch_size,
            config.max_outside,
            config.weights,
        )


@dataclass(frozen=True)
class Partial:
    """The top-k lists of some parts, their channels' Gram shares, and their unreadable files
    as (image index, reason)."""

    tops: dict[str, TopK]
    shares: dict[str, Shares]
    skipped: list[tuple[int, str]]


def scan_part(first: int, names: Sequence[str], blobs: Sequence[bytes], spec: ScanSpec) -> Partial:
    """On a worker: scan images numbered from `first`, given as bytes, through a local folder."""
    plugin = worker_plugin()
    digest = hashlib.sha256()
    for name, blob in zip(names, blobs, strict=True):
        digest.update(name.encode() + b"\0" + hashlib.sha256(blob).digest())
    # The same part's bytes always get the same paths and times, so a rerun hits the worker's cache.
    folder = plugin.scratch / "images" / digest.hexdigest()[:20]
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{i:06d}{Path(name).suffix}" for i, name in enumerate(names)]
    try:
        for path, blob in zip(paths, blobs, strict=True):
            path.write_bytes(blob)
            os.utime(path, ns=(0, 0))
        result = scan(
            plugin.models.get(spec.weights),
            paths,
            layers=spec.layers,
            size=spec.size,
            cache_dir=plugin.scratch / "cache",
            precision=spec.precision,
            batch_size=spec.batch_size,
            max_outside=spec.max_outside,
        )
        tops = {
            layer: result.top_k(layer, spec.units[layer], spec.k, rank=spec.rank).shifted(first)
            for layer in spec.layers
        }
        shares = {layer: result.shares(layer) for layer in spec.layers}
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    index = {str(p): i for i, p in enumerate(paths)}
    skipped = [
        (first + index[p], reason.replace(p, names[index[p]])) for p, reason in result.skipped
    ]
    return Partial(tops, shares, skipped)


def merge_partials(a: Partial, b: Partial, k: int) -> Partial:
    return Partial(
        {layer: merge_top_k([a.tops[layer], b.tops[layer]], k) for layer in a.tops},
        {layer: a.shares[layer] + b.shares[layer] for layer in a.shares},
        a.skipped + b.skipped,
    )


@dataclass(frozen=True)
class ClusterScan:
    """A scan's result as the units report reads it, for the units and k it was scanned for."""

    images: list[Path]
    size: int
    info: dict[str, LayerInfo]
    skipped: list[tuple[str, str]]
    partial: Partial
    spec: ScanSpec

    @property
    def n_read(self) -> int:
        return len(self.images) - len(self.skipped)

    def shares(self, layer: str) -> Shares:
        """Each channel's share of the Gram energy, summed over the readable images."""
        if layer not in self.partial.shares:
            raise ValueError(f"layer '{layer}' was not scanned on the cluster")
        return self.partial.shares[layer]

    def top(
        self, layer: str, units: Sequence[int], k: int, *, rank: str = "max"
    ) -> list[list[Hit]]:
        scanned = list(self.spec.units.get(layer, ()))
        if not set(units) <= set(scanned):
            raise ValueError(f"layer '{layer}' units {list(units)} were not scanned on the cluster")
        if k > self.spec.k or rank != self.spec.rank:
            raise ValueError(
                f"the cluster scan kept the top {self.spec.k} by {self.spec.rank}, not {k} by {rank}"
            )
        rows = [scanned.index(u) for u in units]
        tops = self.partial.tops[layer]
        chosen = TopK(*(getattr(tops, f)[rows] for f in TopK.__dataclass_fields__))
        return hits_of(
            merge_top_k([chosen], k),
            layer,
            units,
            self.info[layer],
            self.images,
            self.size,
        )


def scan_on_cluster(
    client,
    images: Sequence[Path],
    spec: ScanSpec,
    *,
    part: int = PART,
    retries: int = 2,
    callback: Callable[[int, int], None] | None = None,
) -> ClusterScan:
    """Scan `images` on the workers of `client` and merge the parts' top-k lists in a tree.

    Args:
        client: a connected `distributed.Client`.
        images: the image files, in scan order (their indices number the hits).
        spec: the layers, units, k and scan settings.
        part: images per task.
        retries: tries after an unexpected error in a part.
        callback: called with (images done, images in all) as each part finishes.
    """
    register_vgg(client, spec.weights)
    images = [Path(p) for p in images]
    starts = iter(range(0, len(images), part))
    sizes: dict[str, int] = {}  # scan future key -> images in its part

    def submit_part():
        first = next(starts, None)
        if first is None:
            return None
        names = [str(p) for p in images[first : first + part]]
        with warnings.catch_warnings():
            # A part's image bytes are its task's input by design (workers share no file
            # system): Dask's "Sending large graph" advice, to load the data with Dask, does
            # not apply, and a user would read it as something wrong.
            warnings.filterwarnings("ignore", message="Sending large graph", category=UserWarning)
            future = client.submit(
                scan_part,
                first,
                names,
                [_read(p) for p in names],
                spec,
                retries=retries,
                pure=False,
            )
        sizes[future.key] = len(names)
        return future

    if not images:
        raise ValueError("no images to scan")
    flight = InFlight(client, submit_part)
    waiting, done = None, 0  # a finished part or merge without a partner yet
    try:
        for future in flight:
            if future.key in sizes:
                done += sizes.pop(future.key)
                flight.refill()
                if callback:
                    callback(done, len(images))
            if waiting is None:
                waiting = future
            else:  # a tree: any two finished results merge on a worker, while other parts still scan.
                # The two go by value, not as futures: a merge that depended on its parts would keep
                # every part's task on the scheduler, its images' bytes included, until the end
                # (dask keeps a result's lineage, to recompute it): 800 MB more at 20,000 images.
                flight.add(
                    client.submit(
                        merge_partials,
                        _result(waiting),
                        _result(future),
                        spec.k,
                        pure=False,
                        retries=retries,
                    )
                )
                waiting = None
        assert waiting is not None
        result: Partial = _result(waiting)
    finally:
        flight.running.clear()
    skipped = [(str(images[i]), reason) for i, reason in sorted(result.skipped)]
    return ClusterScan(images, spec.size, layer_infos(), skipped, result, spec)


def _result(future) -> Partial:
    """A finished part's or merge's result; a part that failed in every try is a ValueError."""
    try:
        return future.result()
    except Exception as exc:
        raise ValueError(f"the cluster scan failed: {describe(exc)}") from None


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError:
        return b""  # unreadable here: the worker reports it as a skipped file
