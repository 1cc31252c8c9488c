"""The outputs of `stylegram units`: patches cut from the scan images, per-layer grids, the
combined figure, ``manifest.json`` and ``index.html``. Files are written through image.py.
"""

from __future__ import annotations

import contextlib
import fnmatch
import html
import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path

from torch import Tensor

from ..files import read_own
from ..image import save_image, write_text_atomic
from .grids import combined_figure, display_cell, unit_grid
from .scan import Hit, Scan, crop_patch, load_scan_image

MANIFEST_VERSION = 1
UNITS_PER_PAGE = 64  # rows per grid image, so that `--units all` gives pages, not a 50,000 px strip
COMBINED_UNITS = 9  # units per layer in the combined figure, as in Zeiler & Fergus's figure


class PatchCutter:
    """Cuts hits' receptive fields out of the scan images, keeping recent images decoded."""

    def __init__(self, size: int, *, keep: int = 256) -> None:
        self._load = lru_cache(maxsize=keep)(lambda path: load_scan_image(path, size)[0])

    def __call__(self, hits: Sequence[Hit]) -> list[Tensor]:
        return [crop_patch(self._load(hit.path), hit.box_scan) for hit in hits]


def hit_record(hit: Hit) -> dict:
    return {
        "rank": hit.rank,
        "path": hit.path,
        "image": hit.image,
        "activation": hit.value,
        "mean": hit.mean,
        "position": [hit.y, hit.x],
        "box_source": list(hit.box_source),
        "box_scan": list(hit.box_scan),
    }


def manifest(
    scan: Scan,
    results: Mapping[str, Sequence[Sequence[Hit]]],
    *,
    rank: str,
    top: int,
    grids: Mapping[str, list[str]] | None = None,
) -> dict:
    """The JSON-ready record of every layer, unit and rank.

    ``box_source`` is the receptive field in the original image's pixels, a `Box` (x0, y0, x1, y1),
    end-exclusive and unclipped: it may run past the border, where the patch is padded with grey.
    ``box_scan`` is the same box in the pixels of the ``size × size`` scan image.
    """
    layers = {}
    for layer, per_unit in results.items():
        info = scan.info[layer]
        layers[layer] = {
            "channels": info.channels,
            "stride": info.stride,
            "receptive_field": info.receptive_field,
            "grids": list((grids or {}).get(layer, [])),
            "units": [
                {"unit": hits[0].unit if hits else None, "hits": [hit_record(h) for h in hits]}
                for hits in per_unit
            ],
        }
    return {
        "version": MANIFEST_VERSION,
        "size": scan.size,
        "rank": rank,
        "top": top,
        "images": len(scan.images),
        "read": scan.n_read,
        "skipped": [{"path": p, "reason": r} for p, r in scan.skipped],
        "layers": layers,
    }


# Every name the report writes in its folder, as patterns: a grid per layer (and page), and
# three fixed files. cli/files.py declares them, so that no input can be among them.
REPORT_NAMES = (
    "conv*.png",
    "relu*.png",
    "pool*.png",
    "combined.png",
    "manifest.json",
    "index.html",
)


def write_layer_grids(
    outdir: Path,
    scan: Scan,
    layer: str,
    per_unit: Sequence[Sequence[Hit]],
    cut: PatchCutter,
    optimized: Sequence[Tensor] | None = None,
) -> list[str]:
    """One PNG per page of `UNITS_PER_PAGE` units; returns the file names."""
    info = scan.info[layer]
    cell = display_cell(info.receptive_field)
    names = []
    pages = range(0, len(per_unit), UNITS_PER_PAGE)
    for page, start in enumerate(pages, start=1):
        chunk = per_unit[start : start + UNITS_PER_PAGE]
        rows = [(f"#{hits[0].unit}" if hits else "-", cut(hits)) for hits in chunk]
        beside = list(optimized[start : start + UNITS_PER_PAGE]) if optimized is not None else None
        title = f"{layer}: receptive field {info.receptive_field} px, stride {info.stride}"
        name = f"{layer}.png" if len(pages) == 1 else f"{layer}_p{page}.png"
        save_image(unit_grid(rows, cell=cell, beside=beside, title=title), outdir / name)
        names.append(name)
    return names


def write_units_report(
    outdir: str | os.PathLike,
    scan: Scan,
    results: Mapping[str, Sequence[Sequence[Hit]]],
    *,
    rank: str,
    top: int,
    optimized: Mapping[str, Sequence[Tensor]] | None = None,
) -> list[Path]:
    """Write the grids, ``combined.png``, ``manifest.json`` and ``index.html``; return the paths.

    Args:
        outdir: an existing directory.
        scan: the scan the hits came from.
        results: per layer, per unit, the hits best first.
        rank: how images were ranked (recorded in the manifest).
        top: the k of top-k.
        optimized: per layer, one activation-maximisation image per unit, shown beside the patches.
    """
    outdir = Path(outdir)
    before = listed_figures(
        outdir / "manifest.json",
        lambda data: [n for e in data["layers"].values() for n in e["grids"]],
    )
    cut = PatchCutter(scan.size)
    grids = {
        layer: write_layer_grids(outdir, scan, layer, hits, cut, (optimized or {}).get(layer))
        for layer, hits in results.items()
    }
    panels = [
        (layer, [cut(hits) for hits in per_unit[:COMBINED_UNITS]])
        for layer, per_unit in results.items()
    ]
    save_image(combined_figure(panels), outdir / "combined.png")
    data = manifest(scan, results, rank=rank, top=top, grids=grids)
    write_text_atomic(json.dumps(data, indent=1), outdir / "manifest.json")
    write_text_atomic(units_page(data), outdir / "index.html")
    remove_figures(outdir, before - {n for names in grids.values() for n in names}, REPORT_NAMES)
    return [outdir / n for names in grids.values() for n in names] + [
        outdir / f for f in ("combined.png", "manifest.json", "index.html")
    ]


def listed_figures(record: Path, names: Callable[[dict], list[str]]) -> set[str]:
    """The figure files an earlier run listed in its `record` (manifest.json, explain.json)."""
    try:
        found = names(json.loads(read_own(record).decode("utf-8")))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return set()
    return {n for n in found if isinstance(n, str)}


def remove_figures(outdir: Path, names: Iterable[str], written: Sequence[str]) -> None:
    """Remove an earlier run's figures that this run did not write (layers no longer asked
    for, pages no longer needed): only plain PNG names inside `outdir` that are among the names
    the report writes (`written`, patterns), whatever the earlier manifest says."""
    for name in names:
        if (
            Path(name).name == name
            and name.endswith(".png")
            and not name.startswith(".")
            and any(fnmatch.fnmatchcase(name, pattern) for pattern in written)
        ):
            with contextlib.suppress(OSError):
                (outdir / name).unlink()


def units_page(data: Mapping) -> str:
    """A static page showing the combined figure and every layer's grid."""
    esc = html.escape
    parts = [
        "<!doctype html><meta charset='utf-8'><title>stylegram units</title>",
        "<style>body{font-family:sans-serif;margin:2em;max-width:1400px} img{max-width:100%;"
        "image-rendering:pixelated}</style>",
        "<h1>What VGG19's units respond to</h1>",
        f"<p>The top {data['top']} image patches per unit (ranked by {esc(data['rank'])} activation, at most one "
        f"per image) from {data['read']} images scanned at {data['size']}×{data['size']} px. Each patch is the "
        "unit's exact receptive field; grey is padding beyond the image border. "
        "Details: <a href='manifest.json'>manifest.json</a>.</p>",
    ]
    if data["skipped"]:
        parts.append(f"<p>{len(data['skipped'])} unreadable file(s) skipped.</p>")
    parts.append("<h2>All layers</h2><img src='combined.png' alt='combined figure'>")
    for layer, entry in data["layers"].items():
        parts.append(
            f"<h2>{esc(layer)}</h2><p>{entry['channels']} channels, stride {entry['stride']}, "
            f"receptive field {entry['receptive_field']} px.</p>"
        )
        parts.extend(f"<img src='{esc(name)}' alt='{esc(layer)}'>" for name in entry["grids"])
    return "\n".join(parts) + "\n"
