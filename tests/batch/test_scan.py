"""Unit scans on a cluster: the same hits as a local scan, in parts merged in a tree."""

from __future__ import annotations

import json

import numpy as np
import pytest

from stylegram import cli
from stylegram.batch.scan import ScanSpec, scan_on_cluster
from stylegram.units.config import UnitsConfig
from stylegram.units.scan import DEFAULT_LAYERS, list_images
from tests.conftest import SCAN_SIZE, units_argv

NO_ANSWER = ["--scheduler", "tcp://127.0.0.1:9"]  # the discard port: no scheduler answers there


def test_cluster_scan_equals_local_scan_hit_for_hit(vgg, client, folder, scanned):
    units = {layer: list(range(0, vgg.info[layer].channels, 9)) for layer in DEFAULT_LAYERS}
    spec = ScanSpec.of(UnitsConfig(top=5, size=SCAN_SIZE, precision="fp32"), units)
    seen = []
    # 14 files in parts of 4: four parts and three merges, the corrupt files in different parts
    result = scan_on_cluster(
        client, list_images(folder), spec, part=4, callback=lambda done, total: seen.append(done)
    )
    assert len(seen) == 4 and seen[-1] == 14 and seen == sorted(seen)
    assert result.skipped == scanned.skipped and result.n_read == scanned.n_read
    for layer in DEFAULT_LAYERS:
        # Hit equality: layer, unit, rank, image, path, value, mean, position and both boxes
        assert result.top(layer, units[layer], 5) == scanned.top(layer, units[layer], 5), layer
        here, there = scanned.shares(layer), result.shares(layer)
        assert there.images == here.images
        np.testing.assert_allclose(there.total, here.total, rtol=1e-9)
    chosen = units["relu2_2"][3:1:-1]  # a subset of the scanned units, in another order
    assert result.top("relu2_2", chosen, 5) == scanned.top("relu2_2", chosen, 5)
    assert result.top("relu5_4", units["relu5_4"], 2) == scanned.top("relu5_4", units["relu5_4"], 2)
    with pytest.raises(ValueError, match="kept the top 5"):
        result.top("relu5_4", units["relu5_4"], 6)


def test_units_cli_with_a_scheduler_that_does_not_answer(folder, tmp_path, capsys):
    code = cli.main(units_argv(folder, tmp_path / "o", *NO_ANSWER))
    err = capsys.readouterr().err
    assert (
        code == 1
        and "--scheduler tcp://127.0.0.1:9: no answer within" in err
        and err.count("\n") == 1
    )


def test_units_cli_says_that_a_cluster_scan_does_not_use_cache(folder, tmp_path, capsys):
    code = cli.main(units_argv(folder, tmp_path / "o", "--cache", tmp_path / "c", *NO_ANSWER))
    lines = capsys.readouterr().err.splitlines()
    assert code == 1 and len(lines) == 2
    assert lines[0] == (
        f"stylegram: warning: --cache {tmp_path / 'c'} is not used with --scheduler: each worker"
        " caches in its own scratch folder"
    )
    assert "no answer within" in lines[1]


def test_explain_style_through_the_cluster_shows_the_local_scans_patches(
    client, folder, cache_dir, style_path, tmp_path, capsys
):
    common = [
        str(style_path),
        "--images",
        str(folder),
        "--size",
        str(SCAN_SIZE),
        "--precision",
        "fp32",
        "--layers",
        "relu2_1",
        "relu3_1",
        "--style-size",
        "128",
        "--top",
        "3",
        "-q",
    ]
    assert (
        cli.main(
            ["explain-style", *common, "-o", str(tmp_path / "here"), "--cache", str(cache_dir)]
        )
        == 0
    )
    assert (
        cli.main(
            [
                "explain-style",
                *common,
                "-o",
                str(tmp_path / "there"),
                "--scheduler",
                client.scheduler.address,
            ]
        )
        == 0
    ), capsys.readouterr().err
    here, there = (
        json.loads((tmp_path / name / "explain.json").read_text()) for name in ("here", "there")
    )
    assert there == here and any(layer["channels"] for layer in here["layers"])
    for name in ("explain_relu2_1.png", "explain_relu3_1.png", "index.html"):
        assert (tmp_path / "there" / name).read_bytes() == (
            tmp_path / "here" / name
        ).read_bytes(), name


def test_the_scheduler_forgets_each_part_once_it_is_merged(vgg, client, folder):
    # A merge that took its parts as futures kept every part's task, its images' bytes included,
    # on the scheduler until the end: memory that grew with the number of images.
    spec = ScanSpec.of(UnitsConfig(top=2, size=SCAN_SIZE, precision="fp32"), {"relu1_2": [0, 1]})

    def parts_known(dask_scheduler) -> int:
        return sum(1 for key in dask_scheduler.tasks if str(key).startswith("scan_part"))

    known = []
    result = scan_on_cluster(
        client,
        list_images(folder),
        spec,
        part=1,
        callback=lambda done, total: known.append(client.run_on_scheduler(parts_known)),
    )
    assert len(known) == 14 and result.n_read == 12
    # Two parts per worker thread in flight, one finished part waiting for a partner, the one in
    # hand, and one whose release the scheduler may not have processed yet; before, all 14.
    assert max(known) <= 2 * 2 + 3, known


def test_units_optimize_on_the_cluster_makes_the_local_pictures(
    client, folder, cache_dir, tmp_path, capsys
):
    """--optimize with --scheduler: one task per unit, each picture what a local batch makes
    to the eye (units.maximize seeds each unit by itself), written by the client."""
    from stylegram.image import load_image

    common = ["units", "--images", folder, "--size", SCAN_SIZE, "--precision", "fp32", "-q"]
    common += ["--layers", "relu3_1", "--units", "3,40", "--top", "2"]
    common += ["--optimize", "--opt-steps", "8", "--opt-size", "64"]
    here, there = tmp_path / "here", tmp_path / "there"
    assert cli.main([str(a) for a in [*common, "-o", here, "--cache", cache_dir]]) == 0
    argv = [*common, "-o", there, "--scheduler", client.scheduler.address]
    assert cli.main([str(a) for a in argv]) == 0, capsys.readouterr().err
    name = "opt/relu3_1/{:04d}.png".format
    a3, a40, b3, b40 = (load_image(d / name(u)) for d in (here, there) for u in (3, 40))
    between_units = float((a3 - a40).abs().mean())
    assert float((a3 - b3).abs().mean()) < 0.1 * between_units
    assert float((a40 - b40).abs().mean()) < 0.1 * between_units
    units = json.loads((there / "manifest.json").read_text())["layers"]["relu3_1"]["units"]
    assert [u["optimized"] for u in units] == [name(3), name(40)]
