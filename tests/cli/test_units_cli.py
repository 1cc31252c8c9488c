"""The units and explain-style subcommands: files written, and one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from stylegram import cli
from stylegram.units.report import hit_record
from stylegram.units.scan import DEFAULT_LAYERS
from tests.conftest import SCAN_SIZE as SIZE


def run_cli(argv, capsys):
    """cli.main in this process; (exit code, stderr)."""
    code = cli.main([str(a) for a in argv])
    return code, capsys.readouterr().err


def on_the_scan(folder, out, cache_dir) -> list:
    """--images and -o, with the size, precision and cache of the `scanned` fixture's scan."""
    settings = ["--size", SIZE, "--precision", "fp32", "--cache", cache_dir]
    return ["--images", folder, "-o", out, *settings]


def test_units_cli_writes_grids_manifest_and_page(folder, cache_dir, scanned, tmp_path, capsys):
    out = tmp_path / "units"
    code, err = run_cli(
        ["units", *on_the_scan(folder, out, cache_dir), "--units", "2,5", "--top", "4", "-q"],
        capsys,
    )
    assert code == 0, err
    assert "warning: skipped" in err and "2 of 14 files could not be read" in err
    names = {p.name for p in out.iterdir()}
    assert {f"{layer}.png" for layer in DEFAULT_LAYERS} | {
        "combined.png",
        "manifest.json",
        "index.html",
    } <= names
    data = json.loads((out / "manifest.json").read_text())
    assert [u["hits"] for u in data["layers"]["relu3_4"]["units"]] == [
        [hit_record(h) for h in hits] for hits in scanned.top("relu3_4", [2, 5], 4)
    ]
    assert "combined.png" in (out / "index.html").read_text()


def test_units_cli_projections_are_files_named_in_the_manifest(
    folder, cache_dir, scanned, vgg, tmp_path, capsys, monkeypatch
):
    """--projection guided (which implies --projections) writes each hit's patch and
    projection as PNGs of the receptive field's size, names them on the hit in manifest.json,
    draws them in pairs in the grid; a rerun projects only the hits it has not drawn; a rerun
    without projections removes them."""
    from PIL import Image

    from stylegram.units.project import Target, picture, project
    from stylegram.units.scan import crop_patch, load_scan_image

    out = tmp_path / "units"
    base = ["units", *on_the_scan(folder, out, cache_dir)]
    base += ["--layers", "relu2_2", "--units", "1,3", "--top", "3", "-q"]
    code, err = run_cli([*base, "--projection", "guided"], capsys)
    assert code == 0, err
    data = json.loads((out / "manifest.json").read_text())
    assert data["projection"] == "guided"
    hits = [h for u in data["layers"]["relu2_2"]["units"] for h in u["hits"]]
    assert len(hits) == 6
    rf = vgg.info["relu2_2"].receptive_field
    for h in hits:
        assert Image.open(out / h["patch"]).size == (rf, rf)
        assert Image.open(out / h["projection"]).size == (rf, rf)
    first = data["layers"]["relu2_2"]["units"][0]
    hit = first["hits"][0]
    image = load_scan_image(hit["path"], SIZE)[0]
    signal = project(
        vgg, image, "relu2_2", [Target(first["unit"], *hit["position"])], method="guided"
    )
    expected = picture(crop_patch(signal, tuple(hit["box_scan"]), fill=0.0))
    saved = torch.from_numpy(np.array(Image.open(out / hit["projection"]))).permute(2, 0, 1) / 255
    assert (saved - expected[0]).abs().max() < 1 / 255 + 1e-6
    with_pairs = Image.open(out / "relu2_2.png").width
    grid = (out / "relu2_2.png").read_bytes()

    import stylegram.units.project as projecting

    projected = []
    real = projecting.project_hits
    monkeypatch.setattr(
        projecting,
        "project_hits",
        lambda vgg, hits, *a, **k: projected.extend(hits) or real(vgg, hits, *a, **k),
    )
    code, err = run_cli([*base, "--projection", "guided", "--top", "4"], capsys)
    assert code == 0, err
    assert sorted((h.unit, h.rank) for h in projected) == [(1, 3), (3, 3)]  # only the new ranks
    projected.clear()
    code, err = run_cli([*base, "--projection", "guided"], capsys)
    assert code == 0, err
    assert projected == [] and (out / "relu2_2.png").read_bytes() == grid
    code, err = run_cli(base, capsys)
    assert code == 0, err
    assert not (out / "hits").exists()
    assert (
        "projection"
        not in json.loads((out / "manifest.json").read_text())["layers"]["relu2_2"]["units"][0][
            "hits"
        ][0]
    )
    assert Image.open(out / "relu2_2.png").width < with_pairs


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--layers", "relu9_1"], "unknown layer 'relu9_1'"),
        (["--units", "0-70"], "unit 64 is out of range for relu1_2, which has 64 channels (0-63)"),
        (["--units", "x"], "--units 'x'"),
    ],
)
def test_units_cli_errors_are_one_line(folder, tmp_path, capsys, argv, message):
    code, err = run_cli(["units", "--images", folder, "-o", tmp_path / "o", *argv], capsys)
    assert code == 1 and message in err and err.count("\n") == 1 and "Traceback" not in err


def test_empty_folder_is_a_one_line_error(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code, err = run_cli(["units", "--images", tmp_path / "empty", "-o", tmp_path / "o"], capsys)
    assert code == 1 and f"'{tmp_path / 'empty'}': no image files" in err and err.count("\n") == 1


def test_explain_style_cli(folder, cache_dir, style_path, tmp_path, capsys):
    out = tmp_path / "explain"
    explain = ["explain-style", style_path, *on_the_scan(folder, out, cache_dir)]
    code, err = run_cli(
        [*explain, "--layers", "relu2_1", "relu3_1", "--style-size", 128, "--top", 3, "-q"], capsys
    )
    assert code == 0, err
    assert {"explain_relu2_1.png", "explain_relu3_1.png", "explain.json", "index.html"} <= {
        p.name for p in out.iterdir()
    }
    data = json.loads((out / "explain.json").read_text())
    assert [layer["layer"] for layer in data["layers"]] == ["relu2_1", "relu3_1"]
