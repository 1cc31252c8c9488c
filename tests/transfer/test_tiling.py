"""Outputs of any size: tiles cover the image, shift every step, leave no seam; memory is planned."""
from __future__ import annotations

import pytest
import torch

from stylegram import StyleConfig, stylize
from stylegram.image import to_tensor
from stylegram.transfer.tiling import choose_tile, estimate_bytes, tile_boxes


@pytest.mark.parametrize("offset", [(0, 0), (17, 40), (95, 95)])
def test_tiles_cover_the_image_with_full_size_overlapping_tiles(offset):
    h, w, tile = 300, 410, 96
    covered = torch.zeros(h, w, dtype=torch.int32)
    boxes = tile_boxes(h, w, tile, offset)
    for y0, x0, y1, x1 in boxes:
        assert (y1 - y0, x1 - x0) == (tile, tile) and 0 <= y0 and y1 <= h and 0 <= x0 and x1 <= w
        covered[y0:y1, x0:x1] += 1
    assert int(covered.min()) >= 1


def test_the_grid_moves_with_the_offset():
    a = {b[:2] for b in tile_boxes(400, 400, 128, (0, 0))}
    b = {b[:2] for b in tile_boxes(400, 400, 128, (50, 70))}
    assert a != b


def test_small_images_are_not_tiled_and_huge_ones_are_refused():
    assert choose_tile(384, 512, "bf16", None, 32) is None
    assert choose_tile(3072, 4096, "bf16", None, 32) is not None  # 4096 px is over the 5 GB budget
    assert choose_tile(3072, 4096, "bf16", 1024, 32) == 1024
    assert estimate_bytes(3072, 4096, "bf16") > estimate_bytes(1536, 2048, "bf16") * 3.9
    with pytest.raises(ValueError, match=r"needs about .* GB even when tiled"):
        choose_tile(200_000, 200_000, "bf16", None, 32)


def _edge_energy(image) -> tuple[torch.Tensor, torch.Tensor]:
    x = to_tensor(image)
    dx = (x[..., 1:] - x[..., :-1]).abs().mean(dim=(0, 1, 2))  # per column boundary
    dy = (x[..., 1:, :] - x[..., :-1, :]).abs().mean(dim=(0, 1, 3))  # per row boundary
    return dx, dy


def test_a_tiled_run_leaves_no_seam(vgg, small_content, small_style):
    events = []
    config = StyleConfig(size=192, scales=1, iterations=12, tile_size=96, seed=0)
    out = stylize(small_content, [small_style], config, model=vgg, callback=events.append)
    assert out.size == (192, 128)
    assert events[-1].losses["total"] < events[0].losses["total"]
    dx, dy = _edge_energy(out)
    # The gradient energy across any column or row, tile borders included, stays close to typical.
    for energy in (dx, dy):
        assert float(energy.max() / energy.median()) < 1.6
    # And at the borders of the unshifted grid in particular (stride 72 px):
    borders = torch.tensor([71, 143])
    assert float(dx[borders].mean()) < 1.3 * float(dx.mean())
    assert float(dy[borders[:1]].mean()) < 1.3 * float(dy.mean())
