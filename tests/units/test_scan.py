"""The unit visualiser: recorded activations, ranking, receptive fields, borders, cache."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest
import torch

from stylegram.units.report import hit_record, manifest
from stylegram.units.scan import (
    DEFAULT_LAYERS,
    MAX_OUTSIDE,
    Frame,
    crop_patch,
    eligible_positions,
    list_images,
    load_scan_image,
    parse_units,
    scan,
)
from stylegram.vgg import layer_infos
from tests.conftest import SCAN_IMAGES as N_IMAGES
from tests.conftest import SCAN_SIZE as SIZE


def near(largest: float) -> dict[str, float]:
    """pytest.approx's tolerances between the scan's values and `vgg`'s for a layer whose largest
    value is `largest`: the scan's fp32 network may convolve by Winograd (stylegram.winograd),
    whose difference from `vgg`'s direct one is relative to the layer's scale, not to each value
    (relu4_4 under the AVX2 cap: 1.3e-3 on a value of 9.4, in a layer whose largest is 337)."""
    return {"rel": 1e-4, "abs": 1e-5 * largest}


@pytest.mark.parametrize("layer", DEFAULT_LAYERS)
def test_recorded_activation_equals_recomputed_at_stored_position(vgg, scanned, layer):
    channels = vgg.info[layer].channels
    top = scanned.top(layer, [0, 7, channels - 1], 3)
    close = near(max(hit.value for hits in top for hit in hits))
    for hits in top:
        for hit in hits:
            image, _ = load_scan_image(hit.path, SIZE)
            with torch.no_grad():
                again = vgg(image, [layer])[layer][0, hit.unit, hit.y, hit.x]
            assert float(again) == pytest.approx(hit.value, **close), (layer, hit)


@pytest.mark.parametrize("layer", DEFAULT_LAYERS)
def test_top_k_is_the_true_ranking_over_the_image_set(vgg, scanned, features, layer):
    _, acts = features
    a = acts[layer]  # (N, C, h, w)
    eligible = eligible_positions(vgg.info[layer], a.shape[-1], SIZE, MAX_OUTSIDE)
    per_image = a.masked_fill(~eligible, -math.inf).flatten(2).amax(2)  # (N, C)
    units = list(range(0, a.shape[1], 5))
    close = near(float(per_image.max()))
    for unit, hits in zip(units, scanned.top(layer, units, 4), strict=True):
        assert hits[0].value == pytest.approx(float(per_image[:, unit].max()), **close)
        expected = per_image[:, unit].sort(descending=True).values[:4]
        assert [h.value for h in hits] == pytest.approx(expected.tolist(), **close)
        assert len({h.image for h in hits}) == len(hits)  # at most one patch per image
    by_mean = scanned.top(layer, [1], 3, rank="mean")[0]
    means = a[:, 1].mean(dim=(1, 2)).sort(descending=True).values[:3]
    assert [h.mean for h in by_mean] == pytest.approx(means.tolist(), rel=1e-4)


@pytest.mark.parametrize("layer", ["relu1_2", "relu4_4"])
def test_shares_are_each_images_gram_trace_shares_summed(scanned, features, layer):
    """Scan.shares, what explain-style compares a painting with: per readable image, each
    channel's G_kk over the trace, summed over the images, from the cache's energies."""
    readable, acts = features
    f = acts[layer].flatten(2).double()  # (N, C, h·w)
    energy = f.square().sum(2)  # the Gram diagonal per image
    expected = (energy / energy.sum(1, keepdim=True)).sum(0)
    found = scanned.shares(layer)
    assert found.images == len(readable)
    np.testing.assert_allclose(found.total, expected.numpy(), rtol=1e-4, atol=1e-7)
    assert found.mean.sum() == pytest.approx(1, rel=1e-5)


def _inner_positions(info) -> tuple[int, int]:
    """Position p whose box starts inside the image, and an image side with its box ending inside."""
    p = math.ceil(((info.receptive_field - 1) / 2 + 1 - info.offset) / info.stride)
    return p, max(info.stride * (p + 1), info.box(0, 0)[2] + 1)


def test_receptive_field_contains_every_pixel_with_a_gradient_for_every_layer(vgg):
    """Backpropagate from one activation; its input gradient must lie inside the analytic box.

    Two units per layer: one whose box starts inside the image (tests the top-left edge) and
    one at (0, 0) whose box ends inside it (tests the bottom-right edge). The box is also tight:
    the gradient reaches its edges (within a pooling stride, where max pooling routes it).
    """
    generator = torch.Generator().manual_seed(0)
    for name, info in vgg.info.items():
        p, side = _inner_positions(info)
        x = torch.rand(2, 3, side, side, generator=generator).requires_grad_(True)
        out = vgg(x, [name])[name]
        a, b = int(out[0, :, p, p].argmax()), int(out[1, :, 0, 0].argmax())  # a unit that is on
        (out[0, a, p, p] + out[1, b, 0, 0]).backward()
        slack = info.stride if info.kind == "pool" else 1
        for i, (y0x0_inside, pos) in enumerate(((True, p), (False, 0))):
            ys, xs = torch.nonzero(x.grad[i].abs().sum(0), as_tuple=True)
            x0, y0, x1, y1 = info.box(pos, pos)
            assert xs.numel() > 0, name
            assert x0 <= xs.min() and xs.max() < x1 and y0 <= ys.min() and ys.max() < y1, (
                name,
                info.box(pos, pos),
            )
            if y0x0_inside:
                assert x0 >= 0 and int(xs.min()) - x0 < slack and int(ys.min()) - y0 < slack, name
            else:
                assert (
                    x1 <= side and x1 - 1 - int(xs.max()) < slack and y1 - 1 - int(ys.max()) < slack
                ), name


def test_crop_boxes_and_patches_at_the_borders(scanned, vgg):
    image = torch.rand(1, 3, 10, 12)
    patch = crop_patch(image, (-3, -2, 2, 3))
    assert patch.shape == (1, 3, 5, 5)
    assert (patch[..., :2, :] == 0.5).all() and (patch[..., :, :3] == 0.5).all()
    assert torch.equal(patch[..., 2:, 3:], image[..., :3, :2])
    assert torch.equal(crop_patch(image, (9, 8, 14, 13))[..., :2, :3], image[..., 8:, 9:])
    # A 300×200 photo at 100 px: scaled by 1/2 to 150×100, then 25 px cropped off the left.
    frame = Frame(300, 200, 100)
    assert (frame.resized, frame.crop) == ((150, 100), (25, 0))
    assert frame.to_source((-2, -2, 3, 3)) == (46, -4, 56, 6)
    assert frame.to_source((98, 98, 103, 103)) == (246, 196, 256, 206)
    # Every recorded patch of a layer has the same size, padded where it leaves the image.
    for layer in ("relu3_4", "relu5_4"):
        rf = vgg.info[layer].receptive_field
        for hits in scanned.top(layer, [2, 3], 5):
            for hit in hits:
                x0, y0, x1, y1 = hit.box_scan
                assert (x1 - x0, y1 - y0) == (rf, rf)
                assert eligible_positions(
                    vgg.info[layer], SIZE // vgg.info[layer].stride, SIZE, MAX_OUTSIDE
                )[hit.y, hit.x]
                if (
                    layer == "relu3_4"
                ):  # at 96 px relu5_4's field (252 px) cannot obey the rule: no limit there
                    assert max(-x0, -y0, x1 - SIZE, y1 - SIZE) <= MAX_OUTSIDE * rf
                assert hit.box_source == scanned.frame(hit.image).to_source(hit.box_scan)
                assert crop_patch(load_scan_image(hit.path, SIZE)[0], hit.box_scan).shape[-2:] == (
                    rf,
                    rf,
                )


def test_corrupt_files_are_skipped_and_reported(scanned):
    skipped = dict(scanned.skipped)
    assert sorted(p.rsplit("/", 1)[-1] for p in skipped) == ["corrupt.jpg", "truncated.jpg"]
    assert all("corrupt.jpg" in r or "truncated" in r for r in skipped.values())
    assert (scanned.n_read, len(scanned.images)) == (N_IMAGES, N_IMAGES + 2)


def test_manifest_records_every_hit_with_boxes_in_both_frames(scanned):
    hits = {layer: scanned.top(layer, [0, 4], 3) for layer in ("relu1_2", "relu5_4")}
    data = json.loads(json.dumps(manifest(scanned, hits, rank="max", top=3)))
    for layer, per_unit in hits.items():
        assert [u["hits"] for u in data["layers"][layer]["units"]] == [
            [hit_record(h) for h in unit_hits] for unit_hits in per_unit
        ]
    entry = data["layers"]["relu5_4"]["units"][1]["hits"][0]
    hit = hits["relu5_4"][1][0]
    assert entry["box_source"] == list(hit.box_source) and entry["box_scan"] == list(hit.box_scan)
    assert entry["position"] == [hit.y, hit.x] and entry["activation"] == pytest.approx(hit.value)


def test_rerun_reads_the_cache_without_forward_passes(vgg, folder, cache_dir, scanned, monkeypatch):
    monkeypatch.setattr(
        type(vgg), "forward", lambda *a, **k: pytest.fail("forward pass on a cached rerun")
    )
    again = scan(
        vgg,
        list_images(folder),
        layers=["relu2_2", "relu4_4"],
        size=SIZE,
        cache_dir=cache_dir,
        precision="fp32",
    )
    assert again.top("relu4_4", [10], 9) == scanned.top("relu4_4", [10], 9)


def test_parse_units():
    assert parse_units("0-3,7", layer_infos()["relu1_2"]) == [0, 1, 2, 3, 7]
    assert parse_units("all", layer_infos()["relu1_2"]) == list(range(64))
    assert parse_units("0-3,2,1", layer_infos()["relu1_2"]) == [0, 1, 2, 3]  # each unit once
    with pytest.raises(ValueError, match="unit 512 is out of range for relu5_4"):
        parse_units("510-512", layer_infos()["relu5_4"])


def test_a_changed_image_file_is_scanned_again(vgg, data, tmp_path, monkeypatch):
    import shutil

    photos = sorted((data / "scan").iterdir())[:3]
    folder = tmp_path / "images"
    folder.mkdir()
    for path in photos:
        shutil.copy(path, folder / path.name)

    def top_hits():
        """relu2_2's unit 3 over the folder, scanned through the cache: its top three hits."""
        scanned = scan(
            vgg,
            list_images(folder),
            layers=["relu2_2"],
            size=64,
            cache_dir=tmp_path / "cache",
            precision="fp32",
        )
        return scanned.top("relu2_2", [3], 3)[0]

    first = top_hits()
    # Replace one image by another picture: the cache key (size, mtime) changes with it.
    changed = folder / photos[0].name
    shutil.copy(sorted((data / "scan").iterdir())[-1], changed)
    os.utime(changed, ns=(1, 1))
    calls = []
    forward = type(vgg).forward
    monkeypatch.setattr(type(vgg), "forward", lambda *a, **k: calls.append(1) or forward(*a, **k))
    again = top_hits()
    assert calls, "the changed folder was read from the stale cache"
    assert sorted(h.value for h in again) != sorted(h.value for h in first)


def test_grids_are_paged_so_that_many_units_do_not_make_one_huge_image(
    scanned, tmp_path, monkeypatch
):
    from PIL import Image

    from stylegram.units import report

    monkeypatch.setattr(report, "UNITS_PER_PAGE", 2)
    hits = scanned.top("relu2_2", [0, 1, 2, 3, 4], 2)
    names = report.write_layer_grids(
        tmp_path, scanned, "relu2_2", hits, report.PatchCutter(scanned.size)
    ).grids
    assert names == ["relu2_2_p1.png", "relu2_2_p2.png", "relu2_2_p3.png"]
    heights = [Image.open(tmp_path / n).height for n in names]
    assert heights[0] == heights[1] > heights[2]  # two rows, two rows, one row
