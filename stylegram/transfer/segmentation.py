"""Semantic pairing for photo to photo (Luan et al. 2017, "augmented style loss"): two colour-coded
segmentations, one of the photo and one of the style image, say which part of the style image
each part of the photo takes its look from: the regions of the same colour.

The colours are the paper's nine. A drawn segmentation's edges are often antialiased: a colour
is the file's only where it has a region (PRESENT), every pixel takes the nearest of the file's
colours, and a file whose colours are mostly off the palette (more than OFF_PALETTE of its
pixels far from every colour) is refused, naming a colour it has.

Each colour of the photo's segmentation that the style's also has becomes one style region: its
photo mask is where it paints (transfer/masks.py), and its style mask is where in the style image
its Gram matrices are taken (the guided Gram, gram.mean_gram with a mask). A colour that only the
photo has is painted by no region: there the photo is kept (with --photorealistic, the
photorealism term holds the output to the photo there: photoreal.photo_term's `held`). A colour
that only the style image has is not used.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from PIL import Image
from torch import Tensor
from torch.nn import functional as F

from ..geometry import Size
from ..image import open_image, to_tensor

PALETTE: dict[str, tuple[int, int, int]] = {
    "blue": (0, 0, 255),
    "green": (0, 255, 0),
    "black": (0, 0, 0),
    "white": (255, 255, 255),
    "red": (255, 0, 0),
    "yellow": (255, 255, 0),
    "grey": (128, 128, 128),
    "light blue": (0, 255, 255),
    "purple": (128, 0, 128),
}
# A pixel further than this from every palette colour (RGB in [0, 1], Euclidean) is off the
# palette. Up to OFF_PALETTE of a file's pixels may be, and take the nearest colour: antialiased
# or blurred edges, a fifth of the pixels of a small drawing (7% of a 40×30 one blurred by
# 1.5 px); a file drawn in other colours, or a photo given by mistake, has far more.
NEAR = 0.35
OFF_PALETTE = 0.25
# A colour is one of the file's if at least this many of its pixels are near it with all their
# neighbours (within the image): a region, not an edge. A resized black and white drawing has grey edges
# (0.4–1.1% of the pixels of the paper's pairs), one or two pixels wide, with no such pixel
# in 38 of its 40 files and 6 in the other two; its smallest true regions have 354.
PRESENT = 16


@dataclass(frozen=True)
class Pair:
    """One colour the two segmentations share: where it is in the photo and in the style image,
    each (1, 1, H, W) in {0, 1} at its own image's size."""

    colour: str
    photo: Tensor
    style: Tensor


def read_segmentation(
    source: str | os.PathLike | Image.Image, size: Size, name: str | None = None
) -> dict[str, Tensor]:
    """The regions of a segmentation drawn for an image of `size` (W, H): colour name -> mask
    (1, 1, H, W) of the pixels nearest that colour, for the colours it has. One drawn at another
    scale in the image's proportions (within a pixel, scaled to the image's long side) is
    resized to it, nearest neighbour: the paper's own files, resized apart from their photos,
    are a pixel short (512×287 for 512×288). A ValueError naming the file if it is not an
    image, not in the image's proportions, or not drawn in the palette's colours (`name`, for
    an image given decoded: the studio's upload)."""
    name = str(source) if name is None else name
    im = open_image(source)
    (w, h), (iw, ih) = im.size, size
    if (w, h) != (iw, ih):
        # Scaled to the image's long side, the short side is within a pixel of the image's
        # (a pixel of the segmentation's, when it is smaller), and both lie the same way.
        scale = max(iw, ih) / max(w, h)
        same_way = (w >= h) == (iw >= ih)
        if not same_way or abs(min(w, h) * scale - min(iw, ih)) > 1 + scale:
            raise ValueError(
                f"segmentation '{name}' is {w}×{h} but its image is {iw}×{ih}: draw it at"
                " the image's size, or in its proportions"
            )
        im = im.resize((iw, ih), Image.Resampling.NEAREST)
    return _regions(im, name)


def _regions(im: Image.Image, name: str) -> dict[str, Tensor]:
    """Label each pixel: the file's colours are those with a region (PRESENT); every pixel takes
    the nearest of them (an edge between blue and white is split between the two, not made a
    grey region, though grey is nearer their blend)."""
    pixels = to_tensor(im)[0].permute(1, 2, 0).reshape(-1, 3).double()  # (H·W, 3)
    palette = torch.tensor(list(PALETTE.values()), dtype=torch.float64) / 255
    distances = torch.cdist(pixels, palette)
    distance, nearest = distances.min(dim=1)
    near = distance <= NEAR
    off = float((~near).double().mean())
    if off > OFF_PALETTE:
        r, g, b = (round(255 * float(v)) for v in pixels[int((~near).nonzero()[0])])
        raise ValueError(
            f"segmentation '{name}' has colours outside the palette ({100 * off:.0f}% of its"
            f" pixels, such as #{r:02x}{g:02x}{b:02x}); draw it in " + ", ".join(PALETTE)
        )
    w, h = im.size
    by_colour = (nearest[None] == torch.arange(len(PALETTE))[:, None]) & near[None]
    # Eroded by a 3×3 window: the pixels whose whole neighbourhood is near the same colour.
    inner = -F.max_pool2d(-by_colour.reshape(len(PALETTE), 1, h, w).float(), 3, 1, padding=1)
    present = inner.sum(dim=(1, 2, 3)) >= PRESENT
    if not bool(present.any()):
        raise ValueError(f"segmentation '{name}' has no region of one colour, only edges")
    label = distances.masked_fill(~present, float("inf")).argmin(dim=1)
    return {
        colour: (label == k).reshape(1, 1, h, w).float()
        for k, colour in enumerate(PALETTE)
        if bool(present[k])
    }


def pair(photo: dict[str, Tensor], style: dict[str, Tensor], names: tuple[str, str]) -> list[Pair]:
    """The colours both segmentations have, in the palette's order; a ValueError naming the two
    files if they share none (nothing would be painted)."""
    shared = [Pair(c, photo[c], style[c]) for c in PALETTE if c in photo and c in style]
    if not shared:
        raise ValueError(
            f"segmentations '{names[0]}' ({', '.join(photo)}) and '{names[1]}'"
            f" ({', '.join(style)}) share no colour: no region of the photo has a partner"
        )
    return shared


def read_pairs(
    content_seg: str | Image.Image,
    style_seg: str | Image.Image,
    content_size: Size,
    style_size: Size,
    names: tuple[str, str] | None = None,
) -> list[Pair]:
    """Both segmentations read and paired: the one entry for the CLI's and the studio's early
    checks and for stylize. `names`, for segmentations given as decoded images."""
    names = (str(content_seg), str(style_seg)) if names is None else names
    return pair(
        read_segmentation(content_seg, content_size, names[0]),
        read_segmentation(style_seg, style_size, names[1]),
        names,
    )
