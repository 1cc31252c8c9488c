"""The outputs of `stylegram units`: patches cut from the scan images, per-layer grids, the
combined figure, ``manifest.json`` and ``index.html``. Files are written through image.py.
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import html
import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from torch import Tensor

from ..files import read_own
from ..image import open_image, png_text, save_image, to_tensor, write_text_atomic
from .atlas import ATLAS, atlas_pages
from .grids import combined_figure, display_cell, unit_grid
from .project import picture
from .scan import Hit, Scan, crop_patch, load_scan_image

MANIFEST_VERSION = 1
UNITS_PER_PAGE = 64  # rows per grid image, so that `--units all` gives pages, not a 50,000 px strip
COMBINED_UNITS = 9  # units per layer in the combined figure, as in Zeiler & Fergus's figure


class PatchCutter:
    """Cuts hits' receptive fields out of the scan images, keeping recent images decoded."""

    def __init__(self, size: int, *, keep: int = 256) -> None:
        self.load: Callable[[str], Tensor] = lru_cache(maxsize=keep)(
            lambda path: load_scan_image(path, size)[0]
        )

    def __call__(self, hits: Sequence[Hit]) -> list[Tensor]:
        return [crop_patch(self.load(hit.path), hit.box_scan) for hit in hits]


def hit_record(hit: Hit, files: Mapping[str, str] | None = None) -> dict:
    """A hit as manifest.json records it; `files` adds its PNGs (``patch``, ``projection``)."""
    return {
        "rank": hit.rank,
        "path": hit.path,
        "image": hit.image,
        "activation": hit.value,
        "mean": hit.mean,
        "position": [hit.y, hit.x],
        "box_source": list(hit.box_source),
        "box_scan": list(hit.box_scan),
        **(files or {}),
    }


def manifest(
    scan: Scan,
    results: Mapping[str, Sequence[Sequence[Hit]]],
    *,
    rank: str,
    top: int,
    grids: Mapping[str, list[str]] | None = None,
    hit_files: Mapping[tuple[str, int, int], Mapping[str, str]] | None = None,
    projection: str | None = None,
    unit_extras: Mapping[tuple[str, int], Mapping] | None = None,
    optimize: Mapping | None = None,
) -> dict:
    """The JSON-ready record of every layer, unit and rank.

    ``box_source`` is the receptive field in the original image's pixels, a `Box` (x0, y0, x1, y1),
    end-exclusive and unclipped: it may run past the border, where the patch is padded with grey.
    ``box_scan`` is the same box in the pixels of the ``size × size`` scan image.
    With projections, each hit names its ``patch`` and its ``projection`` (PNG paths relative to
    the report's folder), and ``projection`` at the top says which method drew them. A unit may
    also name its ``optimized`` image (made with the settings in ``optimize`` at the top) and
    list the ``paintings`` that use it most.
    """
    files = hit_files or {}
    extras = unit_extras or {}
    layers = {}
    for layer, per_unit in results.items():
        info = scan.info[layer]
        layers[layer] = {
            "channels": info.channels,
            "stride": info.stride,
            "receptive_field": info.receptive_field,
            "grids": list((grids or {}).get(layer, [])),
            "units": [
                {
                    "unit": hits[0].unit if hits else None,
                    "hits": [hit_record(h, files.get((h.layer, h.unit, h.rank))) for h in hits],
                    **(extras.get((layer, hits[0].unit), {}) if hits else {}),
                }
                for hits in per_unit
            ],
        }
    return {
        "version": MANIFEST_VERSION,
        "size": scan.size,
        "rank": rank,
        "top": top,
        "projection": projection,
        "optimize": dict(optimize) if optimize else None,
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
# With projections, each hit's patch and projection as their own PNGs, in this folder of the
# report's, which the report owns: HITS/<layer>/<unit>_<rank>.png and ..._<method>.png.
HITS = "hits"
OPT = "opt"  # each unit's activation-maximisation image, OPT/<layer>/<unit>.png
STYLES = "styles"  # with paintings: each one's explain-style view, STYLES/<name>/

# Computes the projections of a list of hits, one (1, 3, rf, rf) signal each (units.project),
# given what loads a hit's scan image.
Projector = Callable[[Sequence[Hit], Callable[[str], Tensor]], list[Tensor]]


@dataclass
class LayerFigures:
    """What `write_layer_grids` wrote for one layer."""

    grids: list[str]  # file names of the grid pages
    hit_files: dict[tuple[str, int, int], dict[str, str]]  # (layer, unit, rank) -> its PNGs
    pictures: list[list[Tensor]]  # projection pictures of the first COMBINED_UNITS units


def write_layer_grids(
    outdir: Path,
    scan: Scan,
    layer: str,
    per_unit: Sequence[Sequence[Hit]],
    cut: PatchCutter,
    optimized: Mapping[int, Tensor] | None = None,
    project: Projector | None = None,
    method: str = "deconv",
    finished: Callable[[Hit], bool] = lambda hit: False,
    drawn: Callable[[Hit], str] = lambda hit: "",
) -> LayerFigures:
    """One PNG per page of `UNITS_PER_PAGE` units. With `project`, every hit's patch and
    projection are also written as PNGs under `HITS` (but for those `finished` already), and
    the grids show them in pairs."""
    info = scan.info[layer]
    cell = display_cell(info.receptive_field)
    result = LayerFigures([], {}, [])
    pages = range(0, len(per_unit), UNITS_PER_PAGE)
    for page, start in enumerate(pages, start=1):
        chunk = per_unit[start : start + UNITS_PER_PAGE]
        patches = [cut(hits) for hits in chunk]
        rows = [
            (f"#{hits[0].unit}" if hits else "-", p) for hits, p in zip(chunk, patches, strict=True)
        ]
        pictures = None
        if project is not None:
            pictures = _write_hits(
                outdir, chunk, patches, cut.load, project, method, result.hit_files, finished, drawn
            )
            if start == 0:
                result.pictures = pictures[:COMBINED_UNITS]
        beside = (
            [optimized.get(hits[0].unit) if hits else None for hits in chunk]
            if optimized is not None
            else None
        )
        title = f"{layer}: receptive field {info.receptive_field} px, stride {info.stride}"
        if project is not None:
            title += f"; each patch beside its {method} projection"
        name = f"{layer}.png" if len(pages) == 1 else f"{layer}_p{page}.png"
        grid = unit_grid(rows, cell=cell, beside=beside, projections=pictures, title=title)
        save_image(grid, outdir / name)
        result.grids.append(name)
    return result


def hit_names(hit: Hit, method: str) -> dict[str, str]:
    """Where a hit's patch and projection PNGs go, relative to the report's folder."""
    folder = f"{HITS}/{hit.layer}"
    return {
        "patch": f"{folder}/{hit.unit:04d}_{hit.rank}.png",
        "projection": f"{folder}/{hit.unit:04d}_{hit.rank}_{method}.png",
    }


def _write_hits(
    outdir: Path,
    units: Sequence[Sequence[Hit]],
    patches: Sequence[Sequence[Tensor]],
    load: Callable[[str], Tensor],
    project: Projector,
    method: str,
    hit_files: dict[tuple[str, int, int], dict[str, str]],
    finished: Callable[[Hit], bool],
    drawn: Callable[[Hit], str],
) -> list[list[Tensor]]:
    """Project the hits of `units`, write each patch and projection picture, record their
    names in `hit_files`; return the pictures per unit. A hit that is `finished` (an earlier
    run drew the same hit with the same method) keeps its files and is not projected again."""
    todo = [hit for hits in units for hit in hits if not finished(hit)]
    signals = dict(zip(todo, project(todo, load), strict=True)) if todo else {}
    pictures: list[list[Tensor]] = []
    for hits, cut in zip(units, patches, strict=True):
        pictures.append([])
        for hit, patch in zip(hits, cut, strict=True):
            names = hit_names(hit, method)
            if hit in signals:
                shown = picture(signals[hit])
                (outdir / HITS / hit.layer).mkdir(parents=True, exist_ok=True)
                save_image(patch, outdir / names["patch"])
                save_image(shown, outdir / names["projection"])
            else:
                shown = to_tensor(open_image(outdir / names["projection"]))
            hit_files[hit.layer, hit.unit, hit.rank] = {**names, "drawn": drawn(hit)}
            pictures[-1].append(shown)
    return pictures


def drawn_key(hit: Hit, size: int, method: str, network: str) -> str:
    """What a hit's projection depends on, as a short hash: the network, the scan size, the
    method, the image file (path, size, modification time) and the position. manifest.json
    records it as ``drawn`` on each projected hit; a rerun keeps a projection whose key is
    unchanged and whose files are there."""
    try:
        st = os.stat(hit.path)
        stamp = f"{st.st_size} {st.st_mtime_ns}"
    except OSError:
        stamp = "gone"
    text = f"{network} {size} {method} {hit.path} {stamp} {hit.layer} {hit.unit} {hit.y} {hit.x}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def finished_hits(outdir: Path, size: int, method: str, network: str) -> Callable[[Hit], bool]:
    """Whether an earlier run's manifest.json in `outdir` drew this hit as this run would
    (`drawn_key`), with both its files there."""
    try:
        data = json.loads(read_own(outdir / "manifest.json").decode("utf-8"))
        done = {
            (layer, unit["unit"], h["rank"]): h.get("drawn")
            for layer, entry in data["layers"].items()
            for unit in entry["units"]
            for h in unit["hits"]
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        done = {}

    def finished(hit: Hit) -> bool:
        names = hit_names(hit, method)
        return done.get((hit.layer, hit.unit, hit.rank)) == drawn_key(
            hit, size, method, network
        ) and all((outdir / name).is_file() for name in names.values())

    return finished


def optimized_name(layer: str, unit: int) -> str:
    """Where a unit's activation-maximisation image goes, relative to the report's folder."""
    return f"{OPT}/{layer}/{unit:04d}.png"


OPTIMIZE_KEY = "stylegram:optimize"  # the PNG text chunk holding an image's settings


def _settings_text(settings: Mapping) -> str:
    """The settings as the PNG chunk holds them, the same text for the same settings."""
    return json.dumps(dict(settings), sort_keys=True)


def save_optimized(outdir: Path, layer: str, unit: int, image: Tensor, settings: Mapping) -> None:
    """Write a unit's activation-maximisation image as soon as it is made, its settings inside
    it: an interrupted run keeps every finished image, and the next run reuses it."""
    (outdir / OPT / layer).mkdir(parents=True, exist_ok=True)
    metadata = {OPTIMIZE_KEY: _settings_text(settings)}
    save_image(image, outdir / optimized_name(layer, unit), metadata=metadata)


def finished_optimized(outdir: Path, settings: Mapping, layer: str, unit: int) -> bool:
    """Whether the unit's activation-maximisation image in `outdir` was made with `settings`."""
    found = png_text(outdir / optimized_name(layer, unit), OPTIMIZE_KEY)
    return found == _settings_text(settings)


def write_units_report(
    outdir: str | os.PathLike,
    scan: Scan,
    results: Mapping[str, Sequence[Sequence[Hit]]],
    *,
    rank: str,
    top: int,
    optimized: Mapping[str, Mapping[int, Tensor]] | None = None,
    optimize: Mapping | None = None,
    project: Projector | None = None,
    method: str = "deconv",
    paintings: Mapping[tuple[str, int], list[dict]] | None = None,
    atlas: bool = False,
    network: str = "",
) -> list[Path]:
    """Write the grids, ``combined.png``, ``manifest.json`` and ``index.html``; return the paths.

    Args:
        outdir: an existing directory.
        scan: the scan the hits came from.
        results: per layer, per unit, the hits best first.
        rank: how images were ranked (recorded in the manifest).
        top: the k of top-k.
        optimized: per layer, per unit, an activation-maximisation image, shown beside the
            unit's patches; each is already under `OPT` (`save_optimized`), made with the
            settings `optimize`, which the manifest records.
        project: computes hits' projections (`method`, recorded in the manifest); with it, each
            patch and projection is also written as its own PNG, and the figures show both.
        paintings: per (layer, unit), the paintings that use it most, for the manifest and the
            atlas: ``{"name", "share", "explain"}`` each.
        atlas: also write the atlas's pages (units.atlas) under `ATLAS`.
        network: names the network (cache.weights_fingerprint), for `drawn_key`.
    """
    outdir = Path(outdir)
    before = listed_figures(
        outdir / "manifest.json",
        lambda data: [n for e in data["layers"].values() for n in e["grids"]],
    )
    cut = PatchCutter(scan.size)
    finished = finished_hits(outdir, scan.size, method, network)

    def drawn(hit: Hit) -> str:
        return drawn_key(hit, scan.size, method, network)

    figures = {
        layer: write_layer_grids(
            outdir,
            scan,
            layer,
            hits,
            cut,
            (optimized or {}).get(layer),
            project,
            method,
            finished,
            drawn,
        )
        for layer, hits in results.items()
    }
    panels = [
        (layer, [cut(hits) for hits in per_unit[:COMBINED_UNITS]])
        for layer, per_unit in results.items()
    ]
    pictures = [f.pictures for f in figures.values()] if project is not None else None
    save_image(combined_figure(panels, projections=pictures), outdir / "combined.png")
    grids = {layer: f.grids for layer, f in figures.items()}
    hit_files = {key: names for f in figures.values() for key, names in f.hit_files.items()}
    extras: dict[tuple[str, int], dict] = {}
    for layer, per_unit in (optimized or {}).items():
        for unit in per_unit:
            extras.setdefault((layer, unit), {})["optimized"] = optimized_name(layer, unit)
    for key, found in (paintings or {}).items():
        extras.setdefault(key, {})["paintings"] = found
    data = manifest(
        scan,
        results,
        rank=rank,
        top=top,
        grids=grids,
        hit_files=hit_files,
        projection=method if project is not None else None,
        unit_extras=extras,
        optimize=optimize if optimized else None,
    )
    write_text_atomic(json.dumps(data, indent=1), outdir / "manifest.json")
    write_text_atomic(units_page(data), outdir / "index.html")
    remove_figures(outdir, before - {n for names in grids.values() for n in names}, REPORT_NAMES)
    prune(
        outdir,
        HITS,
        {names[kind] for names in hit_files.values() for kind in ("patch", "projection")},
    )
    prune(outdir, OPT, {e["optimized"] for e in extras.values() if "optimized" in e})
    pages = atlas_pages(data) if atlas else {}
    for name, text in pages.items():
        (outdir / ATLAS / name).parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(text, outdir / ATLAS / name)
    prune(outdir, ATLAS, {f"{ATLAS}/{name}" for name in pages})
    return [outdir / n for names in grids.values() for n in names] + [
        outdir / f for f in ("combined.png", "manifest.json", "index.html")
    ]


def prune(outdir: Path, folder: str, keep: set[str]) -> None:
    """Remove the files in `folder`, one of the report's own (`HITS`, `OPT`, `ATLAS`), that this
    run did not write (an earlier run's units, layers or method), and the folders that leaves
    empty. Only the kinds of file the report writes there are removed."""
    root = outdir / folder
    if not root.is_dir() or root.is_symlink():
        return
    for path in sorted(root.rglob("*"), reverse=True):  # files before their folders
        name = path.relative_to(outdir).as_posix()
        with contextlib.suppress(OSError):
            if path.is_dir() and not path.is_symlink():
                path.rmdir()  # only if empty
            elif path.suffix in (".png", ".html", ".css", ".js") and name not in keep:
                path.unlink()
    with contextlib.suppress(OSError):
        root.rmdir()


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
    if data.get("projection"):
        parts.append(
            f"<p>Right of each patch, its {esc(data['projection'])} projection: the pixels that "
            "drive the unit there, grey where they do not matter, lighter or darker (and coloured) "
            "where raising or lowering them would raise the unit. "
            "See <a href='https://arxiv.org/abs/1311.2901'>Zeiler &amp; Fergus 2014</a>.</p>"
        )
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
