"""`stylegram explain-style`: a painting's Gram matrices read as channels and channel pairs,
each shown by its top-activating patches from a folder of photos."""

from __future__ import annotations

import argparse
import dataclasses
import sys

from ..units.config import ExplainConfig
from .files import explain_files
from .options import add_config_options, config_from_args
from .units import add_io_options, check_images, every_unit, output_folder, scan_units


def add_parser(sub) -> None:
    p = sub.add_parser(
        "explain-style",
        help="what a style is made of: its strongest and co-occurring channels",
        description="Read a style image's Gram matrices as channels and pairs, each shown by "
        "its top-activating patches from a folder of photos.",
    )
    p.add_argument("style", help="the style image")
    add_io_options(p)
    add_config_options(p, ExplainConfig)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..image import load_image
    from ..units.explain import style_components, write_style_report
    from ..units.report import PatchCutter
    from ..vgg import min_size
    from ..weights import load_vgg

    config = config_from_args(args, ExplainConfig)
    out = output_folder(args)
    files = explain_files(args, config.weights)
    check_images(args, files)
    style = load_image(args.style, long_side=config.style_size)
    need = min_size(config.layers)
    if min(style.shape[-2:]) < need:
        raise ValueError(
            f"style image '{args.style}' is {style.shape[-1]}×{style.shape[-2]} px at --style-size "
            f"{config.style_size}; at least {need} px a side is needed"
        )
    vgg = load_vgg(config.weights)
    config = dataclasses.replace(config, layers=vgg.own_layers(config.layers, "--layers"))
    # The scan comes first: the photos' Gram shares (a reference) decide which channels are
    # particular to the painting, so every channel of each layer is scanned for.
    result = scan_units(args, config, vgg, every_unit(vgg, config.layers), files)
    reference = {layer: result.shares(layer).mean for layer in config.layers}
    found = style_components(
        vgg, style, config.layers, top=config.channels, pairs=config.pairs, reference=reference
    )
    shown = {layer.layer: layer.units() for layer in found}
    hits = {
        name: dict(zip(units, result.top(name, units, config.top), strict=True))
        for name, units in shown.items()
    }
    write_style_report(out, args.style, style, found, hits, PatchCutter(result.size), vgg)
    if not args.quiet:
        print(f"open {out / 'index.html'}", file=sys.stderr)
    return 0
