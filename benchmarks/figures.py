"""Regenerate the README's figures from ../shared/data (minutes on 2 cores).

python benchmarks/figures.py [--only tubingen colors masks]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from shared_data import shared_data

from stylegram import StyleConfig, load_vgg, stylize

OUT = ROOT / "docs" / "images"


def row(images: list[Image.Image], labels: list[str], height: int = 288) -> Image.Image:
    """Images side by side at one height, each with a caption strip."""
    scaled = [
        im.resize((round(im.width * height / im.height), height), Image.LANCZOS) for im in images
    ]
    strip = 22
    canvas = Image.new(
        "RGB", (sum(im.width for im in scaled) + 8 * (len(scaled) - 1), height + strip), "white"
    )
    x = 0
    draw = ImageDraw.Draw(canvas)
    for im, label in zip(scaled, labels, strict=True):
        canvas.paste(im, (x, strip))
        draw.text((x + 4, 4), label, fill="black")
        x += im.width + 8
    return canvas


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", nargs="+", default=["tubingen", "colors", "masks"])
    args = parser.parse_args()
    content = Image.open(shared_data("content", "tubingen.jpg")).convert("RGB")
    starry = shared_data("styles", "starry_night.jpg")
    model = load_vgg()
    OUT.mkdir(parents=True, exist_ok=True)
    if "tubingen" in args.only:
        ours = stylize(content, [starry], StyleConfig(size=512, seed=0), model=model)
        ref = Image.open(shared_data("reference", "tubingen_starry_jcjohnson.png")).convert("RGB")
        row(
            [content, ours, ref],
            [
                "content",
                "stylegram, defaults, ~5 s on 2 CPU cores",
                "jcjohnson/neural-style, 1000 its on a GPU",
            ],
        ).save(OUT / "tubingen_starry.jpg", quality=88)
    if "colors" in args.only:
        lum = stylize(
            content,
            [starry],
            StyleConfig(size=512, seed=0, preserve_colors="luminance"),
            model=model,
        )
        hist = stylize(
            content,
            [starry],
            StyleConfig(size=512, seed=0, preserve_colors="histogram"),
            model=model,
        )
        row([lum, hist], ["--preserve-colors luminance", "--preserve-colors histogram"]).save(
            OUT / "preserve_colors.jpg", quality=88
        )
    if "masks" in args.only:
        w, h = content.size
        left, right = Image.new("L", (w, h), 0), Image.new("L", (w, h), 0)
        # A soft boundary: the two styles blend over the middle tenth.
        for x in range(w):
            t = min(max((x - 0.45 * w) / (0.1 * w), 0.0), 1.0)
            ImageDraw.Draw(left).line([(x, 0), (x, h)], fill=round(255 * (1 - t)))
            ImageDraw.Draw(right).line([(x, 0), (x, h)], fill=round(255 * t))
        scream = shared_data("styles", "the_scream.jpg")
        with tempfile.TemporaryDirectory() as tmp:
            left.save(Path(tmp) / "left.png")
            right.save(Path(tmp) / "right.png")
            config = StyleConfig(
                size=512, seed=0, style_masks=(f"0={tmp}/left.png", f"1={tmp}/right.png")
            )
            masked = stylize(content, [starry, scream], config, model=model)
        row(
            [left, masked],
            ["mask of style 0 (style 1 gets its inverse)", "starry_night left, the_scream right"],
        ).save(OUT / "masks.jpg", quality=88)


if __name__ == "__main__":
    main()
