"""docs/images/photo_dissimilar.jpg: photo to photo when the two photos show different things.

    python docs/make_photo_figure.py

The bundled test photos (tests/data/photos, CC0 and public domain): the coffee takes the look
of the rocket at dusk. Columns: the photo, the reference, `--photorealistic` (the preset, whose
style layers are relu1_1, relu2_1 and relu3_1), the same with Gatys's five style layers (the
preset before; it draws the launch pad into the cup), and the preset's start alone
(`--iterations 1 --scales 1`: the photo recoloured, one step).
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from stylegram import StyleConfig, stylize
from stylegram.image import save_image, text_image, to_tensor
from stylegram.units.grids import stack
from stylegram.vgg import STYLE_LAYERS

PHOTOS = Path(__file__).resolve().parent.parent / "tests" / "data" / "photos"
RUNS = [
    ("--photorealistic", {}),
    ("with relu1_1 ... relu5_1", {"style_layers": STYLE_LAYERS}),
    ("the start alone", {"iterations": 1, "scales": 1}),
]


def main(out: Path = Path("docs/images/photo_dissimilar.jpg")) -> None:
    photo, reference = PHOTOS / "coffee.jpg", PHOTOS / "rocket.jpg"
    size = max(Image.open(photo).size)
    columns = [("photo", Image.open(photo)), ("reference", Image.open(reference))]
    for label, settings in RUNS:
        config = StyleConfig(photorealistic=True, size=size, seed=0, **settings)
        columns.append((label, stylize(photo, reference, config)))
    cells = [
        stack(
            [
                text_image(label, height=20, width=im.width, font_size=13),
                to_tensor(im.convert("RGB")),
            ],
            dim=-2,
            gap=2,
        )
        for label, im in columns
    ]
    save_image(stack(cells, dim=-1, gap=6), out)


if __name__ == "__main__":
    main()
