"""The calibration grid: stylegram's default on every photo × painting of ../shared/data, against
pastiche after 50, 100 and 150 steps on the pairs of pastiche_grid.json.

    python benchmarks/bench_grid.py [--presets draft normal high] [--preset-pairs 4] [--plot FILE]
                                    [--images DIR] [--compared-only]

Prints, measured in this run:
  1. pastiche's 512-px L-BFGS step (the unit of time), and each preset's time in those steps;
  2. a row per pair with the default's content and style gaps, and pastiche's at 150 steps where
     the JSON has that pair, and the verdict: better on both, or better on one by more than twice
     what it loses on the other (both relative to pastiche), or worse;
  3. the spread of the gaps across paintings.
`--plot` draws time (in pastiche steps) against both gaps: stylegram's presets beside pastiche's
step counts, averaged over the pairs both have. Needs ../shared/data; pastiche's scores come from
pastiche_grid.py, run once.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pastiche_grid import RESULTS, SIZE, pair_key
from shared_data import pastiche_step_seconds, shared_data

from stylegram import StyleConfig, load_vgg, stylize
from stylegram.transfer.quality import gaps

PHOTOS = ("tubingen.jpg", "golden_gate.jpg", "hoovertowernight.jpg", "lion.jpg")
PAINTINGS = (
    "starry_night.jpg",
    "starry_night_crop.png",
    "the_scream.jpg",
    "shipwreck.jpg",
    "woman-with-hat-matisse.jpg",
    "vg_la_cafe.jpg",
    "vg_wheat_field.jpg",
    "wave_crop.jpg",
    "edtaonisl.jpg",
)


def verdict(ours: tuple[float, float], theirs: tuple[float, float]) -> str:
    """'both' if better on both gaps; 'trade' if worse on one but better on the other by more than
    twice as much (relative changes); else 'worse'."""
    gains = [(t - o) / t for o, t in zip(ours, theirs, strict=True)]  # > 0: ours is lower (better)
    if min(gains) >= 0:
        return "both"
    loss, gain = -min(gains), max(gains)
    return "trade" if gain > 2 * loss else "worse"


def run_pair(
    model, photo: str, painting: str, quality: str, images: Path | None
) -> tuple[float, float, float]:
    content, style = shared_data("content", photo), shared_data("styles", painting)
    start = time.perf_counter()
    out = stylize(content, style, StyleConfig(size=SIZE, quality=quality, seed=0), model=model)
    seconds = time.perf_counter() - start
    if images is not None:
        images.mkdir(parents=True, exist_ok=True)
        out.save(images / f"{Path(photo).stem}__{Path(painting).stem}__{quality}.png")
    g = gaps(model, out, Image.open(content).convert("RGB"), Image.open(style).convert("RGB"))
    return seconds, g.content, g.style


def plot(
    path: Path, presets: dict[str, tuple[float, float, float]], peer: dict[int, tuple[float, float]]
) -> None:
    """Two panels, content gap and style gap against time in pastiche steps (log scale)."""
    w, h, pad = 420, 300, 50
    canvas = Image.new("RGB", (2 * w, h), "white")
    draw = ImageDraw.Draw(canvas)
    xs = [t for t, _, _ in presets.values()] + list(peer)
    x0, x1 = math.log(min(xs) / 1.5), math.log(max(xs) * 1.5)
    for panel, name in enumerate(("content gap", "style gap")):
        ys = [p[1 + panel] for p in presets.values()] + [v[panel] for v in peer.values()]
        y1 = max(ys) * 1.15
        left = panel * w

        def at(x: float, y: float, left=left, y1=y1) -> tuple[float, float]:
            return (
                left + pad + (math.log(x) - x0) / (x1 - x0) * (w - 2 * pad),
                h - pad - y / y1 * (h - 2 * pad),
            )

        draw.line([at(math.exp(x0), 0), at(math.exp(x1), 0)], fill="black")
        draw.line([at(math.exp(x0), 0), at(math.exp(x0), y1)], fill="black")
        draw.text((left + pad, 8), f"{name} (lower is better)", fill="black")
        draw.text((left + pad, 22), "squares: pastiche after N steps", fill="firebrick")
        draw.text((left + pad + 190, 22), "dots: stylegram's presets", fill="navy")
        draw.text((left + w // 2 - 60, h - 20), "time, pastiche 512-px steps (log)", fill="black")
        for tick in (1, 2, 5, 10, 20, 50, 100, 150):
            if x0 <= math.log(tick) <= x1:
                x, y = at(tick, 0)
                draw.line([(x, y), (x, y + 4)], fill="black")
                draw.text((x - 6, y + 6), str(tick), fill="black")
        draw.text((left + 4, pad - 6), f"{y1:.2g}", fill="black")
        for steps, v in peer.items():
            x, y = at(steps, v[panel])
            draw.rectangle([x - 4, y - 4, x + 4, y + 4], outline="firebrick", width=2)
            draw.text((x - 8, y + 7), str(steps), fill="firebrick")
        for name_, p in presets.items():
            x, y = at(p[0], p[1 + panel])
            draw.ellipse([x - 5, y - 5, x + 5, y + 5], fill="navy")
            draw.text((x + 7, y - 6), name_, fill="navy")
    canvas.save(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["draft", "normal", "high"])
    parser.add_argument(
        "--preset-pairs", type=int, default=4, help="pairs (one per photo) for the other presets"
    )
    parser.add_argument("--plot", type=Path, help="draw time against the gaps to this PNG")
    parser.add_argument("--images", type=Path, help="keep every output here")
    parser.add_argument(
        "--compared-only", action="store_true", help="only the pairs pastiche_grid.json has"
    )
    args = parser.parse_args()
    peer_scores = json.loads(RESULTS.read_text())["pairs"] if RESULTS.exists() else {}
    model = load_vgg()
    stylize(
        shared_data("content", PHOTOS[0]),
        shared_data("styles", PAINTINGS[0]),
        StyleConfig(size=SIZE, iterations=10, seed=0),
        model=model,
    )  # warm-up, untimed
    step = pastiche_step_seconds(
        shared_data("content", PHOTOS[0]), shared_data("styles", PAINTINGS[0]), SIZE, 2
    )
    print(f"pastiche's {SIZE}-px L-BFGS step: {step:.2f} s (the unit of time below)\n")

    print(
        f"{'photo':18} {'painting':28} {'steps':>6} {'content':>8} {'style':>8}   pastiche@150:"
        " content  style  verdict"
    )
    rows = {}
    for photo in PHOTOS:
        for painting in PAINTINGS:
            if args.compared_only and pair_key(photo, painting) not in peer_scores:
                continue
            seconds, content, style = run_pair(model, photo, painting, "normal", args.images)
            rows[photo, painting] = (seconds / step, content, style)
            theirs = peer_scores.get(pair_key(photo, painting), {}).get("150")
            tail = (
                f"{theirs[0]:20.3f} {theirs[1]:6.3f}  {verdict((content, style), tuple(theirs))}"
                if theirs
                else ""
            )
            print(
                f"{photo:18} {painting:28} {seconds / step:6.1f} {content:8.3f} {style:8.4f}   {tail}",
                flush=True,
            )
    contents, styles = [r[1] for r in rows.values()], [r[2] for r in rows.values()]
    print(
        f"\nnormal over {len(rows)} pairs: content gap {min(contents):.3f}–{max(contents):.3f}"
        f" (median {statistics.median(contents):.3f}), style gap {min(styles):.4f}–{max(styles):.4f}"
        f" (median {statistics.median(styles):.4f}), time {statistics.median(r[0] for r in rows.values()):.1f}"
        " pastiche steps (median)"
    )

    compared = [k for k in rows if pair_key(*k) in peer_scores]
    preset_pairs = [
        (p, next(s for s in PAINTINGS if pair_key(p, s) in peer_scores))
        for p in PHOTOS
        if any(pair_key(p, s) in peer_scores for s in PAINTINGS)
    ][: args.preset_pairs]
    summary = {}
    for quality in args.presets:
        runs = []
        for k in preset_pairs:
            if quality == "normal":
                runs.append(rows[k])
            else:
                seconds, content, style = run_pair(model, *k, quality, args.images)
                runs.append((seconds / step, content, style))
        summary[quality] = tuple(statistics.mean(r[i] for r in runs) for i in range(3))
        print(
            f"preset {quality:7} on {len(runs)} pairs: {summary[quality][0]:6.1f} pastiche steps,"
            f" content {summary[quality][1]:.3f}, style {summary[quality][2]:.4f} (means)"
        )
    peer = (
        {
            int(n): tuple(
                statistics.mean(peer_scores[pair_key(*k)][n][i] for k in preset_pairs)
                for i in range(2)
            )
            for n in ("50", "100", "150")
        }
        if preset_pairs
        else {}
    )
    for n, (c, s) in peer.items():
        print(f"pastiche {n:>3} steps on the same pairs: content {c:.3f}, style {s:.4f} (means)")
    if compared:
        verdicts = [verdict(rows[k][1:], tuple(peer_scores[pair_key(*k)]["150"])) for k in compared]
        print(
            f"\nagainst pastiche at 150 steps on {len(compared)} pairs: {verdicts.count('both')} better on both gaps,"
            f" {verdicts.count('trade')} trade one for more than twice as much of the other,"
            f" {verdicts.count('worse')} worse"
        )
    if args.plot and peer:
        plot(args.plot, summary, peer)


if __name__ == "__main__":
    main()
