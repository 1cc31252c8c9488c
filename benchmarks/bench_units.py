"""Unit-scan throughput: images/s at 224 px, fp32 and the bf16 fast path, and a cached rerun.

    PYTHONPATH=. python3 benchmarks/bench_units.py [--images DIR] [-n 48]

Each run scans into a fresh cache; the rerun reads the fp32 run's cache and ranks the default
layers' units 0-8 (top 9), which is what `stylegram units` does on a second call.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shared_data import shared_data

from stylegram.units.scan import DEFAULT_LAYERS, list_images, scan
from stylegram.weights import load_vgg


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, help="default: ../shared/data/imagenet-sample")
    parser.add_argument("-n", type=int, default=48, help="images to scan (default: 48)")
    args = parser.parse_args()
    paths = list_images(args.images or shared_data("imagenet-sample"))[: args.n]
    vgg = load_vgg()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for precision in ("fp32", "bf16"):
            scan(vgg, paths[:8], size=224, cache_dir=Path(tmp) / "warmup", precision=precision)
            start = time.perf_counter()
            scan(vgg, paths, size=224, cache_dir=Path(tmp) / precision, precision=precision)
            seconds = time.perf_counter() - start
            rows.append((f"scan, {precision}", seconds, len(paths) / seconds))
        start = time.perf_counter()
        result = scan(vgg, paths, size=224, cache_dir=Path(tmp) / "fp32", precision="fp32")
        for layer in DEFAULT_LAYERS:
            result.top(layer, range(9), 9)
        rows.append(
            ("cached rerun (top 9 of units 0-8, 5 layers)", time.perf_counter() - start, None)
        )
    print(
        f"{len(paths)} images at 224 px, layers {' '.join(DEFAULT_LAYERS)}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads\n"
    )
    print(f"| {'run':44} | {'seconds':>7} | {'images/s':>8} |\n|{'-' * 46}|{'-' * 9}|{'-' * 10}|")
    for name, seconds, rate in rows:
        print(f"| {name:44} | {seconds:7.2f} | {f'{rate:.1f}' if rate else '':>8} |")


if __name__ == "__main__":
    main()
