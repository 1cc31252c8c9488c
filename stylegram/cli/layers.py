"""`stylegram layers`: the VGG layers with their channels, stride and receptive field."""

from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    p = sub.add_parser(
        "layers", help="list the VGG layers with channels, stride and receptive field"
    )
    p.add_argument("--arch", choices=("vgg16", "vgg19"), default="vgg19")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..vgg import layer_infos

    print(f"{'layer':10} {'channels':>8} {'stride':>6} {'receptive field':>16}")
    for info in layer_infos(args.arch).values():
        print(f"{info.name:10} {info.channels:8d} {info.stride:6d} {info.receptive_field:14d}px")
    return 0
