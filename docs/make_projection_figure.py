"""docs/images/projections.jpg: deconvnet and guided projections of the same hits, side by side.

Made from two reports over the same scan (../shared/data/imagenet-sample, 200 photos):

    stylegram units --images ../shared/data/imagenet-sample -o /tmp/deconv --projections
    stylegram units --images ../shared/data/imagenet-sample -o /tmp/guided \\
        --cache /tmp/deconv/.cache --projection guided
    python docs/make_projection_figure.py /tmp/deconv /tmp/guided

The README's units figure is /tmp/guided/combined.png, saved as docs/images/units_combined.jpg.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from PIL import Image

from stylegram.image import save_image, text_image, to_tensor
from stylegram.units.grids import resize_cell, stack

UNITS = [("relu2_2", 2), ("relu3_4", 1), ("relu4_4", 3), ("relu5_4", 0)]
CELL = 116


def main(deconv: Path, guided: Path, out: Path = Path("docs/images/projections.jpg")) -> None:
    first, second = (json.loads((d / "manifest.json").read_text()) for d in (deconv, guided))

    def cell(path: Path):
        return resize_cell(to_tensor(Image.open(path).convert("RGB")), CELL)

    rows = []
    for layer, unit in UNITS:
        parts = [text_image(f"{layer} #{unit}", height=CELL, width=110, font_size=13)]
        hits = zip(
            first["layers"][layer]["units"][unit]["hits"][:3],
            second["layers"][layer]["units"][unit]["hits"][:3],
            strict=True,
        )
        for a, b in hits:
            assert a["path"] == b["path"], "the two reports must come from the same scan"
            three = [deconv / a["patch"], deconv / a["projection"], guided / b["projection"]]
            parts.append(stack([cell(p) for p in three], dim=-1, gap=1))
        rows.append(stack(parts, dim=-1, gap=8))
    heading = text_image(
        "Each unit's top three images: patch | deconvnet projection (Zeiler & Fergus)"
        " | guided backpropagation",
        height=22,
        font_size=14,
    )
    save_image(stack([heading, *rows], dim=-2, gap=4), out)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
