"""`stylegram units`: the image patches that excite each VGG unit most (Zeiler & Fergus).

Unreadable images are warnings, counted at the end. An interrupted scan keeps the chunks it
finished in the cache, so running the same command again resumes it.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import itertools
import os
import shutil
import sys
import time
from pathlib import Path

from ..files import FilePlan
from ..units.config import ScanConfig, UnitsConfig
from ..units.scan import Rank
from .files import units_files
from .options import add_config_options, config_from_args


def add_io_options(p: argparse.ArgumentParser) -> None:
    """The files of a scan, shared with explain-style: these are not settings of the result."""
    p.add_argument(
        "--images",
        required=True,
        metavar="DIR",
        help="folder of images to search, read recursively",
    )
    p.add_argument(
        "-o", "--output", required=True, metavar="OUTDIR", help="output folder (made if missing)"
    )
    p.add_argument(
        "--cache",
        metavar="DIR",
        help="activation cache (default: OUTDIR/.cache; with --scheduler, each worker keeps its own)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    p.add_argument(
        "--scheduler",
        metavar="tcp://HOST:PORT",
        help="work on a Dask cluster (the scan; units --optimize too, a unit per task): its"
        " scheduler's address (default: $STYLEGRAM_SCHEDULER, else here)",
    )


def add_parser(sub) -> None:
    p = sub.add_parser(
        "units",
        help="top-activating image patches per VGG unit (Zeiler & Fergus)",
        description="For each unit (channel) of each layer, find the image patches that excite it most.",
    )
    add_io_options(p)
    p.add_argument(
        "--styles",
        metavar="DIR",
        help="paintings: each unit's page lists those that use it most, each with its"
        " explain-style view (OUTDIR/styles/NAME/)",
    )
    add_config_options(p, UnitsConfig)
    p.set_defaults(run=run)


def output_folder(args: argparse.Namespace) -> Path:
    """The output folder, checked (with the cache folder) before any work: it is a folder, or
    can be made, and can be written."""
    out = Path(args.output)
    if out.exists() and not out.is_dir():
        raise ValueError(f"'{out}': output must be a folder, and this is a file")
    check_folder_writable(out, "-o")
    if args.cache:
        check_folder_writable(Path(args.cache), "--cache")
    return out


def check_folder_writable(folder: Path, flag: str) -> None:
    """Raise ValueError unless `folder` is a writable folder or can be made as one."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ValueError(f"{flag} '{folder}': cannot make this folder, '{existing}' is a file")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"{flag} '{folder}': cannot write, folder '{existing}' is not writable")


def _make_folder(folder: Path, flag: str) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(
            f"{flag} '{folder}': cannot make this folder ({exc.strerror or exc})"
        ) from None


def _remove_if_unused(out: Path, cache: Path, made: set[Path], *, worthless: bool = False) -> None:
    """After a failed or interrupted scan: remove the cache folder if this run made it and
    nothing was cached in it (or what was is `worthless`), then the output folder if this run
    made it and it is empty."""
    if cache in made and (worthless or not any(cache.rglob("c*.json"))):
        shutil.rmtree(cache, ignore_errors=True)
    if out in made:
        with contextlib.suppress(OSError):
            out.rmdir()


def check_images(args: argparse.Namespace, files: FilePlan) -> None:
    """Refuse, before the model loads, a folder in which no image can be read (headers only)."""
    from ..image import image_size
    from ..units.scan import list_images

    paths = list_images(args.images, skip=files.skips)
    for path in paths:
        try:
            image_size(path)
            return
        except ValueError:
            continue
    raise ValueError(f"'{args.images}': none of the {len(paths)} image files could be read")


def scan_folder(args: argparse.Namespace, config: ScanConfig, vgg, layers, files: FilePlan):
    """Scan `args.images` for `layers` with progress; warn about each unreadable file."""
    from ..units.scan import list_images, scan
    from .progress import Progress

    paths = list_images(args.images, skip=files.skips)
    out = output_folder(args)
    cache = Path(args.cache) if args.cache else out / ".cache"
    made = {p for p in (out, cache) if not p.exists()}
    progress = Progress(len(paths), unit="images", quiet=args.quiet, desc="scan")

    def on_batch(event) -> None:
        for _, reason in event.skipped:
            progress.write(f"stylegram: warning: skipped {reason}")
        for path in event.recomputed:
            progress.write(
                f"stylegram: note: cache file '{path}' was damaged or of another shape; computing it again"
            )
        progress.update(event.done, values=None)

    try:
        _make_folder(out, "-o")
        result = scan(
            vgg,
            paths,
            layers=layers,
            size=config.size,
            cache_dir=cache,
            precision=config.precision,
            batch_size=config.batch_size,
            max_outside=config.max_outside,
            callback=on_batch,
        )
    except BaseException:
        _remove_if_unused(out, cache, made)
        raise
    finally:
        progress.close()
    if result.skipped:
        print(
            f"stylegram: warning: {len(result.skipped)} of {len(paths)} files could not be read and were skipped",
            file=sys.stderr,
        )
    if result.n_read == 0:
        _remove_if_unused(out, cache, made, worthless=True)
        raise ValueError(f"'{args.images}': none of the {len(paths)} image files could be read")
    return result


def every_unit(vgg, layers) -> dict[str, list[int]]:
    """Every channel of each of `layers`: what explain-style's views scan for, since the
    ranking against the photos may show any unit."""
    return {layer: list(range(vgg.info[layer].channels)) for layer in layers}


def scan_units(
    args: argparse.Namespace,
    config: ScanConfig,
    vgg,
    units: dict[str, list[int]],
    files: FilePlan,
    rank: Rank = "max",
):
    """Scan `args.images` for `units`, on the Dask cluster of --scheduler (or $STYLEGRAM_SCHEDULER)
    if one is given, else here. Either result answers `top(layer, units[layer], config.top, rank=rank)`."""
    scheduler = _scheduler(args)
    if scheduler:
        return scan_on_scheduler(args, config, units, scheduler, rank, files)
    return scan_folder(args, config, vgg, list(units), files)


def _scheduler(args: argparse.Namespace) -> str | None:
    """The Dask scheduler of --scheduler or $STYLEGRAM_SCHEDULER, or None: work here."""
    from ..batch.cluster import SCHEDULER_ENV

    return args.scheduler or os.environ.get(SCHEDULER_ENV)


def scan_on_scheduler(
    args: argparse.Namespace,
    config: ScanConfig,
    units: dict[str, list[int]],
    scheduler: str,
    rank: Rank,
    files: FilePlan,
):
    """The same scan in parts on a Dask cluster (stylegram.batch.scan); the images travel as bytes."""
    from ..batch.cluster import connect
    from ..batch.scan import ScanSpec, scan_on_cluster
    from ..units.scan import list_images
    from .progress import Progress

    paths = list_images(args.images, skip=files.skips)
    if getattr(args, "cache", None):
        # The workers cache activations in their own scratch folders, on their own disks.
        print(
            f"stylegram: warning: --cache {args.cache} is not used with --scheduler: each worker caches in its"
            " own scratch folder",
            file=sys.stderr,
        )
    client = connect(scheduler)
    output_folder(args).mkdir(parents=True, exist_ok=True)
    progress = Progress(len(paths), unit="images", quiet=args.quiet, desc="scan")
    spec = ScanSpec.of(config, units, rank)
    try:
        result = scan_on_cluster(
            client, paths, spec, callback=lambda done, _: progress.update(done)
        )
    finally:
        progress.close()
        client.close()
    for _, reason in result.skipped:
        print(f"stylegram: warning: skipped {reason}", file=sys.stderr)
    if result.skipped:
        print(
            f"stylegram: warning: {len(result.skipped)} of {len(paths)} files could not be read and were skipped",
            file=sys.stderr,
        )
    if result.n_read == 0:
        raise ValueError(f"'{args.images}': none of the {len(paths)} image files could be read")
    return result


def run(args: argparse.Namespace) -> int:
    from ..image import image_size
    from ..units.cache import weights_fingerprint
    from ..units.explain import prune_views
    from ..units.report import STYLES, write_units_report
    from ..units.scan import list_images, parse_units
    from ..weights import load_vgg

    config = config_from_args(args, UnitsConfig)
    output_folder(args)
    files = units_files(args, config.weights)
    check_images(args, files)
    paintings = list_images(args.styles, skip=files.skips) if args.styles else []
    for painting in paintings:  # every header, before the model loads: one line naming it
        image_size(painting)
    vgg = load_vgg(config.weights)
    config = dataclasses.replace(config, layers=vgg.own_layers(config.layers, "--layers"))
    units = {layer: parse_units(config.units, vgg.info[layer]) for layer in config.layers}
    start = time.perf_counter()
    # With paintings, every channel is scanned for: their explain-style views show any unit.
    scanned = every_unit(vgg, config.layers) if paintings else units
    result = scan_units(args, config, vgg, scanned, files, config.rank)
    hits = {
        layer: result.top(layer, units[layer], config.top, rank=config.rank)
        for layer in config.layers
    }
    network = weights_fingerprint(vgg)  # keys the pictures a rerun may reuse
    optimized = _optimize(args, config, vgg, units, network) if config.optimize else None
    used = _paintings(args, config, vgg, result, units, paintings) if paintings else None
    method = config.projection_method
    with _projector(args, vgg, hits, method, config.size, network) as project:
        write_units_report(
            args.output,
            result,
            hits,
            rank=config.rank,
            top=config.top,
            optimized=optimized,
            optimize=_optimize_settings(config, vgg, network),
            project=project,
            method=method or "deconv",
            paintings=used,
            atlas=config.atlas,
            network=network,
        )
    # The views of paintings no longer given (all of them, without --styles) go.
    prune_views(Path(args.output) / STYLES, set(_style_names(paintings)))
    if not args.quiet:
        page = "atlas/index.html" if config.atlas else "index.html"
        print(
            f"{result.n_read} images, {len(config.layers)} layers in {time.perf_counter() - start:.1f} s; "
            f"open {Path(args.output) / page}",
            file=sys.stderr,
        )
    return 0


def _optimize_settings(config: UnitsConfig, vgg, network: str) -> dict:
    """What an activation-maximisation image depends on besides its unit: a rerun with the
    same settings reuses the images it finds."""
    from ..device import precision_on

    return {
        "steps": config.opt_steps,
        "size": config.opt_size,
        "precision": precision_on(vgg.conv("conv1_1").weight.device, config.precision),
        "network": network,
    }


def _optimize(
    args: argparse.Namespace, config: UnitsConfig, vgg, units: dict[str, list[int]], network: str
) -> dict[str, dict]:
    """Per layer, per unit of --opt-units (default: every unit shown), its image, made here or
    on the cluster of --scheduler, one task per unit. Each is written as soon as it is made
    (an interrupted run keeps it); those an earlier run made with the same settings are read
    back, not made again."""
    from ..image import open_image, to_tensor
    from ..units.report import finished_optimized, optimized_name, save_optimized
    from ..units.scan import parse_units
    from .progress import Progress

    out_dir = Path(args.output)
    settings = _optimize_settings(config, vgg, network)
    wanted = {
        layer: [
            u
            for u in (
                parse_units(config.opt_units, vgg.info[layer], option="opt_units")
                if config.opt_units
                else chosen
            )
            if u in chosen
        ]
        for layer, chosen in units.items()
    }
    todo = [
        (layer, u)
        for layer, us in wanted.items()
        for u in us
        if not finished_optimized(out_dir, settings, layer, u)
    ]
    progress = Progress(len(todo), unit="units", quiet=args.quiet, desc="optimize")
    try:
        # Nothing to make (a rerun): no cluster is contacted, no network copied.
        made = _maximized(args, config, vgg, todo, settings) if todo else iter(())
        for done, (layer, unit, image) in enumerate(made, 1):
            save_optimized(out_dir, layer, unit, image, settings)
            progress.update(done, label=layer)
    finally:
        progress.close()
    return {
        layer: {u: to_tensor(open_image(out_dir / optimized_name(layer, u))) for u in us}
        for layer, us in wanted.items()
    }


def _maximized(args: argparse.Namespace, config: UnitsConfig, vgg, todo, settings: dict):
    """(layer, unit, image) for each (layer, unit) of `todo`: on the cluster of --scheduler, one
    task per unit, in the order they finish; else here, a batch of units at a time."""
    scheduler = _scheduler(args)
    if scheduler:
        from ..batch.cluster import connect
        from ..batch.maximize import MaximizeSpec, maximize_on_cluster

        client = connect(scheduler)
        spec = MaximizeSpec(
            config.opt_size, config.opt_steps, settings["precision"], config.weights
        )
        try:
            yield from maximize_on_cluster(client, todo, spec)
        finally:
            client.close()
        return
    from ..units.maximize import BATCH, maximize_units
    from ..vgg import network_for

    net, _ = network_for(vgg, config.precision)
    for layer, group in itertools.groupby(todo, key=lambda item: item[0]):
        chosen = [unit for _, unit in group]
        for start in range(0, len(chosen), BATCH):
            chunk = chosen[start : start + BATCH]
            made = maximize_units(net, layer, chunk, size=config.opt_size, steps=config.opt_steps)
            yield from (
                (layer, unit, image) for unit, image in zip(chunk, made.split(1), strict=True)
            )


def _paintings(
    args: argparse.Namespace, config: UnitsConfig, vgg, result, units, paintings
) -> dict[tuple[str, int], list[dict]]:
    """Each painting's explain-style view in OUTDIR/styles/NAME/ (ranked against the scanned
    photos), and per (layer, unit) the five paintings that give it the largest share of their
    Gram energy."""
    import torch

    from ..image import load_image
    from ..units.explain import feature_shares, style_components, write_style_report
    from ..units.report import STYLES, PatchCutter

    layers = list(units)
    reference = {layer: result.shares(layer).mean for layer in layers}
    cut = PatchCutter(result.size)
    found: dict[tuple[str, int], list[dict]] = {}
    for name, path in zip(_style_names(paintings), paintings, strict=True):
        style = load_image(path, long_side=STYLE_SIDE)
        folder = Path(args.output) / STYLES / name
        _make_folder(folder, "-o")
        with torch.inference_mode():  # one forward pass for the view and the shares
            features = vgg(style, layers)
        parts = style_components(vgg, style, layers, reference=reference, features=features)
        shown = {part.layer: part.units() for part in parts}
        hits = {
            layer: dict(zip(us, result.top(layer, us, config.top, rank=config.rank), strict=True))
            for layer, us in shown.items()
        }
        write_style_report(folder, str(path), style, parts, hits, cut, vgg)
        for layer, share in feature_shares(features).items():
            for unit in units[layer]:
                found.setdefault((layer, unit), []).append(
                    {
                        "name": path.name,
                        "share": float(share[unit]),
                        "explain": f"{STYLES}/{name}/index.html",
                    }
                )
    return {key: sorted(entries, key=lambda e: -e["share"])[:5] for key, entries in found.items()}


STYLE_SIDE = 512  # the paintings' long side, as explain-style's --style-size


def _style_names(paths: list[Path]) -> list[str]:
    """A folder name per painting: its stem in safe characters, numbered where that name is
    taken (compared case-folded, as macOS and Windows compare file names)."""
    taken: set[str] = set()
    names = []
    for path in paths:
        stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in path.stem) or "painting"
        name, n = stem, 1
        while name.casefold() in taken:
            n += 1
            name = f"{stem}_{n}"
        taken.add(name.casefold())
        names.append(name)
    return names


@contextlib.contextmanager
def _projector(args: argparse.Namespace, vgg, hits: dict, method, size: int, network: str):
    """The report's projector (units.project) with a progress bar over the hits that an
    earlier run did not draw already, or None."""
    if method is None:
        yield None
        return
    from ..units.project import project_hits
    from ..units.report import finished_hits
    from .progress import Progress

    finished = finished_hits(Path(args.output), size, method, network)
    total = sum(not finished(h) for per_unit in hits.values() for hs in per_unit for h in hs)
    progress = Progress(total, unit="patches", quiet=args.quiet, desc=method)
    done = 0

    def project(batch, load):
        nonlocal done
        first = done

        def advance(n: int) -> None:
            progress.update(first + n)

        out = project_hits(vgg, batch, load, method=method, callback=advance)
        done += len(batch)
        return out

    try:
        yield project
    finally:
        progress.close()
