"""Spatial control (Gatys et al. 2017, section 4): masks that say where each style paints.

A mask is a greyscale image the size of the content (resized if not): white paints, black
does not, grey blends. At each layer the mask is averaged down to the feature map's size and
guides the Gram matrix there (losses.mean_gram with a mask). A style whose mask is all black
paints nowhere, as long as another style's mask paints somewhere (the studio sends a painting
nobody painted so); if every style's mask is black, nothing would be painted: an error.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

import torch
from PIL import Image
from torch import Tensor
from torch.nn import functional as F

from ..geometry import Box, Size, crop
from ..image import open_mask, to_tensor

NEGATIVE_INDEX = re.compile(r"\s*-\d+\s*=.+")  # "-1=m.png": a style mask with a negative index


def refuse_negative_index(spec: str, n_styles: int | None = None) -> None:
    """The one rule for ``-1=m.png``, which the CLI meets before it knows the styles (argparse
    would take it for an option) and the API in `parse_style_masks`."""
    if NEGATIVE_INDEX.fullmatch(spec):
        numbered = (
            f"0 to {n_styles - 1}" if n_styles is not None else "0, 1, ... in the order given"
        )
        raise ValueError(
            f"style mask '{spec}' names style {spec.partition('=')[0].strip()}, but the styles are"
            f" numbered {numbered}"
        )


def parse_style_masks(specs: Sequence[str], n_styles: int) -> dict[int, str]:
    """``["0=sky.png", "1=town.png"]`` -> {0: "sky.png", 1: "town.png"}, checked against the styles."""
    masks: dict[int, str] = {}
    for spec in specs:
        refuse_negative_index(spec, n_styles)
        index, sep, path = spec.partition("=")
        if not sep or not index.strip().isdigit() or not path:
            raise ValueError(f"style mask '{spec}' is not INDEX=MASK.png (for example 0=sky.png)")
        i = int(index)
        if not 0 <= i < n_styles:
            raise ValueError(
                f"style mask '{spec}' names style {i}, but the styles are numbered 0 to {n_styles - 1}"
            )
        if i in masks:
            raise ValueError(f"style {i} has two masks: '{masks[i]}' and '{path}'")
        masks[i] = path
    if masks and len(masks) != n_styles:
        missing = sorted(set(range(n_styles)) - masks.keys())
        raise ValueError(f"give a mask for every style or for none; style(s) {missing} have none")
    return masks


def load_mask(
    source: str | os.PathLike | Image.Image, size: Size, *, may_be_empty: bool = False
) -> Tensor:
    """A mask as (1, 1, H, W) in [0, 1] at `size` = (W, H); an empty (all black) one is an
    error unless `may_be_empty`."""
    grey = open_mask(source).resize(size, Image.Resampling.BILINEAR)
    mask = to_tensor(grey.convert("RGB"))[:, :1]
    if not may_be_empty and is_empty(mask):
        raise ValueError(f"mask '{source}' is empty: it has no pixel above black")
    return mask


def is_empty(mask: Tensor) -> bool:
    return float(mask.max()) <= 0


def load_style_masks(paths: dict[int, str], n_styles: int, size: Size) -> list[Tensor]:
    """Each style's mask (`parse_style_masks`), any of them empty but not all."""
    loaded = [load_mask(paths[i], size, may_be_empty=True) for i in range(n_styles)]
    if all(map(is_empty, loaded)):
        raise ValueError(
            "every style mask is empty: "
            + ", ".join(f"'{paths[i]}'" for i in range(n_styles))
            + " have no pixel above black; paint where a style goes"
        )
    return loaded


def normalise_overlaps(masks: list[Tensor]) -> list[Tensor]:
    """Where masks sum to more than 1, scale them down to sum to 1 there (documented, not an error).

    Two styles that both claim a pixel then share it in proportion to their mask values.
    """
    total = torch.stack(masks).sum(dim=0).clamp_min(1.0)
    return [m / total for m in masks]


def uncovered(masks: list[Tensor]) -> Tensor:
    """The part of the image no mask paints: 1 − Σ masks, clipped to [0, 1]. Summed in place,
    one image-sized map however many masks."""
    covered = masks[0].clone()
    for m in masks[1:]:
        covered += m
    return (1 - covered).clamp_(0, 1)


def at_layers(mask: Tensor, box: Box, strides: dict[str, int]) -> dict[str, Tensor]:
    """A scale-sized mask (1, 1, H, W), cropped to `box` and averaged down to each layer's
    size, (H // stride, W // stride) as VGG's pooling gives it."""
    part = crop(mask, box)
    h, w = part.shape[-2:]
    return {n: F.adaptive_avg_pool2d(part, (h // s, w // s)) for n, s in strides.items()}
