"""Per-unit top-k lists as small arrays, and their merge.

One ranking serves a local scan (merged chunk by chunk) and a scan split into parts on a
cluster (merged part by part, in a tree): images are ordered by score, highest first, and equal
scores by image index, lowest first. That is a total order, so the top k of a union does not
depend on how the parts were grouped or in which order they were merged, and both paths give
the same hits in the same order, ties included (a ReLU unit that never fires scores 0 everywhere).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from .cache import LayerStats


@dataclass(frozen=True)
class TopK:
    """Per unit (rows), its best images (columns), best first; every array is (U, k')."""

    score: (
        np.ndarray
    )  # float32, what the images are ranked by; -inf where an image could not be read
    image: np.ndarray  # int64, index into the scan's list of images
    value: np.ndarray  # float32, the unit's peak in that image
    mean: np.ndarray  # float32, the unit's mean over that image
    position: np.ndarray  # int32, the peak's flat position y·W + x in the feature map
    width: np.ndarray  # int32, the original image's size, (0, 0) where it could not be read
    height: np.ndarray

    def shifted(self, offset: int) -> TopK:
        """The same lists with image indices counted from `offset` (a part's first image)."""
        return replace(self, image=self.image + offset)


def _select(t: TopK, k: int) -> TopK:
    """The first `k` columns of each row in the ranking order (score down, then image up)."""
    order = np.lexsort((t.image, -t.score), axis=1)[:, :k]  # the last key sorts first
    return TopK(*(np.take_along_axis(getattr(t, f), order, 1) for f in TopK.__dataclass_fields__))


def chunk_top_k(
    stats: LayerStats,
    first: int,
    sizes: Sequence[tuple[int, int] | None],
    units: Sequence[int],
    k: int,
    *,
    rank: str = "max",
) -> TopK:
    """The top k of one cache chunk, whose images are numbered from `first`.

    Args:
        stats: the chunk's statistics for one layer, n images × C channels.
        first: the index of the chunk's first image.
        sizes: (width, height) per image, None where it could not be read.
        units: channel indices; one row each.
        k: how many images per unit.
        rank: ``"max"`` or ``"mean"``.
    """
    cols = np.asarray(units, dtype=np.int64)
    peak = stats.max[:, cols].T  # (U, n)
    score = np.where(peak == -np.inf, -np.inf, peak if rank == "max" else stats.mean[:, cols].T)
    wh = np.array([s or (0, 0) for s in sizes], dtype=np.int32).reshape(-1, 2)
    n = len(sizes)

    def rows(a: np.ndarray) -> np.ndarray:
        return np.broadcast_to(a, (len(cols), n))

    t = TopK(
        score.astype(np.float32),
        rows(np.arange(first, first + n, dtype=np.int64)),
        peak.astype(np.float32),
        stats.mean[:, cols].T.astype(np.float32),
        stats.argmax[:, cols].T.astype(np.int32),
        rows(wh[:, 0]),
        rows(wh[:, 1]),
    )
    return _select(t, k)


def merge_top_k(parts: Sequence[TopK], k: int) -> TopK:
    """The top k of the union of `parts`, each a top-k list of disjoint images for the same units."""
    if len(parts) == 1:
        return _select(parts[0], k)
    return _select(
        TopK(
            *(np.concatenate([getattr(p, f) for p in parts], 1) for f in TopK.__dataclass_fields__)
        ),
        k,
    )
