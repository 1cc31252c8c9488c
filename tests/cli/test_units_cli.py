"""The units and explain-style subcommands: files written, and one-line errors."""

from __future__ import annotations

import json

import pytest

from stylegram import cli
from stylegram.units.report import hit_record
from stylegram.units.scan import DEFAULT_LAYERS
from tests.conftest import SCAN_SIZE as SIZE


def run_cli(argv, capsys):
    """cli.main in this process; (exit code, stderr)."""
    code = cli.main([str(a) for a in argv])
    return code, capsys.readouterr().err


def test_units_cli_writes_grids_manifest_and_page(folder, cache_dir, scanned, tmp_path, capsys):
    out = tmp_path / "units"
    code, err = run_cli(
        [
            "units",
            "--images",
            folder,
            "-o",
            out,
            "--size",
            SIZE,
            "--precision",
            "fp32",
            "--cache",
            cache_dir,
            "--units",
            "2,5",
            "--top",
            "4",
            "-q",
        ],
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
    code, err = run_cli(
        [
            "explain-style",
            style_path,
            "--images",
            folder,
            "-o",
            out,
            "--size",
            SIZE,
            "--precision",
            "fp32",
            "--cache",
            cache_dir,
            "--layers",
            "relu2_1",
            "relu3_1",
            "--style-size",
            128,
            "--top",
            3,
            "-q",
        ],
        capsys,
    )
    assert code == 0, err
    assert {"explain_relu2_1.png", "explain_relu3_1.png", "explain.json", "index.html"} <= {
        p.name for p in out.iterdir()
    }
    data = json.loads((out / "explain.json").read_text())
    assert [layer["layer"] for layer in data["layers"]] == ["relu2_1", "relu3_1"]
