"""Figures as tensors: patch grids per layer and the combined figure of all layers.

Every function takes and returns (1, 3, H, W) tensors in [0, 1] on a white background;
image.save_image writes them. Nothing here reads or writes files.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor
from torch.nn import functional as F

from ..image import text_image

BACKGROUND = 1.0  # white, so that the grey padding of border patches stays visible
GAP = 2


def display_cell(receptive_field: int, *, smallest: int = 64, largest: int = 128) -> int:
    """The on-screen size of a layer's patches: shallow ones enlarged by a whole factor,
    deep ones shrunk to at most `largest`."""
    if receptive_field >= smallest:
        return min(receptive_field, largest)
    return receptive_field * math.ceil(smallest / receptive_field)


def resize_cell(patch: Tensor, cell: int) -> Tensor:
    """A square patch at `cell × cell`: nearest-neighbour up (crisp pixels), antialiased down."""
    if patch.shape[-1] == cell and patch.shape[-2] == cell:
        return patch
    if patch.shape[-1] < cell:
        return F.interpolate(patch, size=(cell, cell), mode="nearest-exact")
    return F.interpolate(
        patch, size=(cell, cell), mode="bilinear", antialias=True, align_corners=False
    ).clamp(0, 1)


def stack(images: Sequence[Tensor], *, dim: int, gap: int = GAP) -> Tensor:
    """Images side by side (dim=-1) or one above another (dim=-2), top/left aligned, with gaps."""
    other = -2 if dim == -1 else -1
    extent = max(im.shape[other] for im in images)
    parts = []
    for i, im in enumerate(images):
        missing = extent - im.shape[other]
        im = F.pad(im, (0, missing, 0, 0) if other == -1 else (0, 0, 0, missing), value=BACKGROUND)
        parts.append(im)
        if i < len(images) - 1 and gap:
            shape = list(im.shape)
            shape[dim] = gap
            parts.append(torch.full(shape, BACKGROUND))
    return torch.cat(parts, dim=dim)


def block(
    patches: Sequence[Tensor], *, cell: int | None, columns: int | None = None, gap: int = 1
) -> Tensor:
    """Patches in a near-square block, `columns` across (√n by default), row by row;
    each resized to `cell × cell` unless `cell` is None."""
    columns = columns or math.ceil(math.sqrt(len(patches)))
    cells = [resize_cell(p, cell) if cell else p for p in patches]
    rows = [stack(cells[i : i + columns], dim=-1, gap=gap) for i in range(0, len(cells), columns)]
    return stack(rows, dim=-2, gap=gap)


def pair(patch: Tensor, projection: Tensor, cell: int) -> Tensor:
    """A patch and its projection side by side, each `cell × cell`: Zeiler & Fergus's pair."""
    return stack([resize_cell(patch, cell), resize_cell(projection, cell)], dim=-1, gap=1)


def unit_grid(
    rows: Sequence[tuple[str, Sequence[Tensor]]],
    *,
    cell: int,
    beside: Sequence[Tensor | None] | None = None,
    projections: Sequence[Sequence[Tensor]] | None = None,
    title: str | None = None,
) -> Tensor:
    """One row per unit: its label, its top patches across, then an optional extra image.

    Args:
        rows: ``(label, patches)`` per unit, best patch first.
        cell: the display size of every patch.
        beside: per row, an image to show after a wider gap (the activation-maximisation
            image), or None.
        projections: per row, one picture per patch, drawn right of its patch as a pair.
        title: a heading above the grid.
    """
    label_width = 8 * max(len(label) for label, _ in rows) + 12
    lines = []
    for i, (label, patches) in enumerate(rows):
        parts = [text_image(label, height=cell, width=label_width, font_size=13)]
        if projections is not None and patches:
            pairs = [pair(p, q, cell) for p, q in zip(patches, projections[i], strict=True)]
            parts.append(stack(pairs, dim=-1, gap=3 * GAP))
        else:
            parts.append(
                block(patches, cell=cell, columns=len(patches))
                if patches
                else torch.full((1, 3, cell, cell), BACKGROUND)
            )
        extra = beside[i] if beside is not None else None
        if extra is not None:
            parts.append(torch.full((1, 3, cell, 3 * GAP), BACKGROUND))
            parts.append(resize_cell(extra, cell))
        lines.append(stack(parts, dim=-1))
    grid = stack(lines, dim=-2)
    if title:
        grid = stack([text_image(title, height=24, font_size=15), grid], dim=-2, gap=0)
    return grid


def combined_figure(
    panels: Sequence[tuple[str, Sequence[Sequence[Tensor]]]],
    *,
    cell: int = 36,
    per_row: int = 3,
    projections: Sequence[Sequence[Sequence[Tensor]]] | None = None,
) -> Tensor:
    """The lecture figure: per layer a panel of units, each unit a small block of its patches.

    Args:
        panels: ``(title, units)`` per layer, where ``units`` holds each unit's patches.
        cell: display size of every patch.
        per_row: panels per row of the figure.
        projections: per panel, per unit, a picture per patch: each unit is then drawn as in
            Zeiler & Fergus's figure, the block of projections left of the block of patches.
    """
    drawn = []
    for index, (title, units) in enumerate(panels):
        blocks = [
            block(patches, cell=cell)
            if projections is None
            else stack(
                [block(projections[index][u], cell=cell), block(patches, cell=cell)],
                dim=-1,
                gap=GAP,
            )
            for u, patches in enumerate(units)
            if patches
        ]
        body = (
            block(blocks, cell=None, gap=4 * GAP)
            if blocks
            else torch.full((1, 3, cell, cell), BACKGROUND)
        )
        heading = text_image(title, height=22, width=body.shape[-1])
        drawn.append(stack([heading, body], dim=-2, gap=GAP))
    rows = [
        stack(drawn[i : i + per_row], dim=-1, gap=8 * GAP) for i in range(0, len(drawn), per_row)
    ]
    figure = stack(rows, dim=-2, gap=8 * GAP)
    return F.pad(figure, (8, 8, 8, 8), value=BACKGROUND)
