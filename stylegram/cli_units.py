"""The `units` and `explain-style` subcommands: argv, progress bars and warnings.

    stylegram units --images DIR -o OUTDIR [--layers ...] [--units 0-8|all] [--top 9] [--optimize]
    stylegram explain-style STYLE --images DIR -o OUTDIR

Unreadable images are warnings, counted at the end; user errors are ValueErrors that cli.main
turns into one line and exit status 1. An interrupted scan keeps the chunks it finished in the
cache, so running the same command again resumes it.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .units import DEFAULT_LAYERS, MAX_OUTSIDE, Scan

PRECISIONS = ("auto", "fp32", "bf16")


def _common_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--images", required=True, metavar="DIR", help="folder of images to search, read recursively")
    p.add_argument("-o", "--output", required=True, metavar="OUTDIR", help="output folder (made if missing)")
    p.add_argument("--top", type=int, default=9, metavar="K", help="patches per unit (default: 9)")
    p.add_argument("--size", type=int, default=224, metavar="PX",
                   help="scan size: short side resized to PX, then centre-cropped to PX×PX (default: 224)")
    p.add_argument("--cache", metavar="DIR", help="activation cache (default: OUTDIR/.cache)")
    p.add_argument("--batch-size", type=int, default=8, metavar="N", help="images per forward pass (default: 8)")
    p.add_argument("--precision", choices=PRECISIONS, default="auto",
                   help="network precision for the scan: bf16 where it is fast (default: auto)")
    p.add_argument("--max-outside", type=float, default=MAX_OUTSIDE, metavar="F",
                   help="how much of a patch may lie past the image border, per axis; 1 allows any"
                        f" position (default: {MAX_OUTSIDE})")
    p.add_argument("--weights", metavar="FILE", help="VGG weights file (default: the original VGG19)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")


def add_units_parser(sub) -> None:
    p = sub.add_parser("units", help="top-activating image patches per VGG unit (Zeiler & Fergus)",
                       description="For each unit (channel) of each layer, find the image patches that excite it most.")
    _common_options(p)
    p.add_argument("--layers", nargs="+", default=list(DEFAULT_LAYERS), metavar="LAYER",
                   help=f"layers to show (default: {' '.join(DEFAULT_LAYERS)})")
    p.add_argument("--units", default="0-8", metavar="0-8|all|3,7,10-12", help="channels per layer (default: 0-8)")
    p.add_argument("--rank", choices=("max", "mean"), default="max",
                   help="rank images by the unit's peak or mean activation (default: max)")
    p.add_argument("--optimize", action="store_true",
                   help="also synthesise an image per unit by activation maximisation, shown beside the patches")
    p.add_argument("--opt-steps", type=int, default=128, metavar="N", help="--optimize: Adam steps (default: 128)")
    p.add_argument("--opt-size", type=int, default=128, metavar="PX", help="--optimize: image size (default: 128)")
    p.set_defaults(run=run_units)


def add_explain_parser(sub) -> None:
    from .transfer import DEFAULT_STYLE_LAYERS

    p = sub.add_parser("explain-style", help="what a style is made of: its strongest and co-occurring channels",
                       description="Read a style image's Gram matrices as channels and pairs, each shown by "
                                   "its top-activating patches from a folder of photos.")
    p.add_argument("style", help="the style image")
    _common_options(p)
    p.add_argument("--layers", nargs="+", default=list(DEFAULT_STYLE_LAYERS), metavar="LAYER",
                   help=f"style layers (default: {' '.join(DEFAULT_STYLE_LAYERS)})")
    p.add_argument("--channels", type=int, default=6, metavar="N", help="strongest channels per layer (default: 6)")
    p.add_argument("--pairs", type=int, default=6, metavar="N", help="correlated pairs per layer (default: 6)")
    p.add_argument("--style-size", type=int, default=512, metavar="PX", help="style image long side (default: 512)")
    p.set_defaults(run=run_explain)


def _check_args(args: argparse.Namespace) -> Path:
    for name in ("top", "size", "batch_size"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be at least 1, not {getattr(args, name)}")
    out = Path(args.output)
    if out.exists() and not out.is_dir():
        raise ValueError(f"'{out}': output must be a folder, and this is a file")
    return out


def scan_with_progress(args: argparse.Namespace, vgg, layers) -> Scan:
    """Scan `args.images` for `layers` with a tqdm bar; warn about each unreadable file."""
    from tqdm import tqdm

    from .units import list_images, scan

    paths = list_images(args.images)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    bar = tqdm(total=len(paths), unit="img", disable=args.quiet, dynamic_ncols=True, desc="scan")

    def on_batch(event) -> None:
        for path, reason in event.skipped:
            tqdm.write(f"stylegram: warning: skipped {reason}", file=sys.stderr)
        bar.set_postfix_str("cached" if event.cached else "", refresh=False)
        bar.update(event.done - bar.n)

    try:
        result = scan(vgg, paths, layers=layers, size=args.size, cache_dir=args.cache or out / ".cache",
                      precision=args.precision, batch_size=args.batch_size, max_outside=args.max_outside,
                      callback=on_batch)
    finally:
        bar.close()
    if result.skipped:
        print(f"stylegram: warning: {len(result.skipped)} of {len(paths)} files could not be read and were skipped",
              file=sys.stderr)
    if result.n_read == 0:
        raise ValueError(f"'{args.images}': none of the {len(paths)} image files could be read")
    return result


def run_units(args: argparse.Namespace) -> int:
    from .unit_report import write_units_report
    from .units import parse_units
    from .vgg import check_layers, load_vgg

    out = _check_args(args)
    check_layers(args.layers)
    vgg = load_vgg(args.weights)
    units = {layer: parse_units(args.units, vgg.info[layer].channels, layer) for layer in args.layers}
    start = time.perf_counter()
    result = scan_with_progress(args, vgg, args.layers)
    hits = {layer: result.top(layer, units[layer], args.top, rank=args.rank) for layer in args.layers}
    optimized = _optimize(args, vgg, units) if args.optimize else None
    write_units_report(out, result, hits, rank=args.rank, top=args.top, optimized=optimized)
    if not args.quiet:
        print(f"{result.n_read} images, {len(args.layers)} layers in {time.perf_counter() - start:.1f} s; "
              f"open {out / 'index.html'}", file=sys.stderr)
    return 0


def _optimize(args: argparse.Namespace, vgg, units: dict[str, list[int]]) -> dict:
    from tqdm import tqdm

    from .activation_max import maximize_units
    from .units import scan_network

    net, _ = scan_network(vgg, args.precision)
    out = {}
    for layer, chosen in tqdm(units.items(), desc="optimize", unit="layer", disable=args.quiet, dynamic_ncols=True):
        out[layer] = list(maximize_units(net, layer, chosen, size=args.opt_size, steps=args.opt_steps).split(1))
    return out


def run_explain(args: argparse.Namespace) -> int:
    from .explain import style_components, write_style_report
    from .image import load_image
    from .unit_report import PatchCutter
    from .vgg import check_layers, load_vgg

    out = _check_args(args)
    check_layers(args.layers)
    vgg = load_vgg(args.weights)
    style = load_image(args.style, long_side=args.style_size)
    if min(style.shape[-2:]) < vgg.min_size(args.layers):
        raise ValueError(f"style image '{args.style}' is {style.shape[-1]}×{style.shape[-2]} px at --style-size "
                         f"{args.style_size}; at least {vgg.min_size(args.layers)} px a side is needed")
    found = style_components(vgg, style, args.layers, top=args.channels, pairs=args.pairs)
    result = scan_with_progress(args, vgg, args.layers)
    hits = {}
    for layer in found:
        shown = layer.units()
        hits[layer.layer] = dict(zip(shown, result.top(layer.layer, shown, args.top)))
    write_style_report(out, args.style, style, found, hits, PatchCutter(result.size), vgg)
    if not args.quiet:
        print(f"open {out / 'index.html'}", file=sys.stderr)
    return 0
