"""The photo-to-photo figures, from the bundled test photos (tests/data/photos, CC0 and public domain):

    python docs/make_photo_figure.py

docs/images/photo_portraits.jpg (the README's): the astronaut's portrait takes the look of Grace
Hopper's, paired by the two segmentations beside them: backdrop (blue) with backdrop, flag (red)
with flag; the astronaut (green) has no partner (Hopper is yellow), so she keeps the photo.
Columns: the photo and its segmentation, the reference and its segmentation, the README's
command's result.

docs/images/photo_dissimilar.jpg: photo to photo when the two photos show different things. The
coffee takes the look
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


def portraits(out: Path = Path("docs/images/photo_portraits.jpg")) -> None:
    photo, reference = PHOTOS / "astronaut.jpg", PHOTOS / "grace_hopper.jpg"
    segs = PHOTOS / "astronaut_seg.png", PHOTOS / "grace_hopper_seg.png"
    # The README's command: stylegram stylize astronaut.jpg grace_hopper.jpg --photorealistic
    # --photo-smooth --content-seg astronaut_seg.png --style-seg grace_hopper_seg.png --size 256
    config = StyleConfig(
        photorealistic=True,
        photo_smooth=True,
        content_seg=str(segs[0]),
        style_seg=str(segs[1]),
        size=max(Image.open(photo).size),
        seed=0,
    )
    height = Image.open(photo).height
    shown = [
        ("photo", Image.open(photo)),
        ("its segmentation", Image.open(segs[0])),
        ("reference", Image.open(reference)),
        ("its segmentation", Image.open(segs[1])),
        ("--photorealistic, paired", stylize(photo, reference, config)),
    ]
    columns = [(label, im.resize((im.width * height // im.height, height))) for label, im in shown]
    save_image(_figure(columns), out)


def dissimilar(out: Path = Path("docs/images/photo_dissimilar.jpg")) -> None:
    photo, reference = PHOTOS / "coffee.jpg", PHOTOS / "rocket.jpg"
    size = max(Image.open(photo).size)
    columns = [("photo", Image.open(photo)), ("reference", Image.open(reference))]
    for label, settings in RUNS:
        config = StyleConfig(photorealistic=True, size=size, seed=0, **settings)
        columns.append((label, stylize(photo, reference, config)))
    save_image(_figure(columns), out)


def _figure(columns: list[tuple[str, Image.Image]]):
    """Labelled images side by side."""
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
    return stack(cells, dim=-1, gap=6)


if __name__ == "__main__":
    portraits()
    dissimilar()
