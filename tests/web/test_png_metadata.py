"""Settings in the PNG's text chunks: save_image(metadata=...), and the CLI writes them."""

from __future__ import annotations

import json
import shlex

from PIL import Image

from stylegram.image import save_image
from stylegram.transfer import StyleConfig
from stylegram.transfer.provenance import png_metadata
from tests.conftest import stylize_argv


def test_png_metadata_round_trip(tmp_path):
    config = StyleConfig(size=64, style_blend=(1.0, 3.0), preserve_colors="luminance")
    meta = png_metadata(config, "my photo.jpg", ["a.jpg", "b.jpg"], "out.png")
    assert json.loads(meta["stylegram:settings"]) == {
        "preserve_colors": "luminance",
        "size": 64,
        "style_blend": [1.0, 3.0],
    }
    assert shlex.split(meta["stylegram:command"]) == [
        "stylegram",
        "stylize",
        "my photo.jpg",
        "a.jpg",
        "b.jpg",
        "-o",
        "out.png",
        "--size",
        "64",
        "--style-blend",
        "1.0",
        "3.0",
        "--preserve-colors",
        "luminance",
    ]
    save_image(Image.new("RGB", (8, 8), "red"), tmp_path / "x.png", metadata=meta)
    assert Image.open(tmp_path / "x.png").text == meta
    save_image(
        Image.new("RGB", (8, 8), "red"), tmp_path / "x.jpg", metadata=meta
    )  # other formats: ignored
    assert Image.open(tmp_path / "x.jpg").size == (8, 8)


def test_the_cli_embeds_its_settings(tmp_path, monkeypatch, content_path, style_path):
    """The command stored in the PNG parses back into the same settings."""
    import stylegram.transfer as transfer
    from stylegram.cli import build_parser, main
    from stylegram.cli.options import config_from_args

    monkeypatch.setattr(
        transfer,
        "stylize",
        lambda content, styles, config, callback, **_: Image.new("RGB", (64, 48)),
    )
    out = tmp_path / "out.png"
    argv = stylize_argv(content_path, style_path, out, "--size", "64", "--tv-weight", "5", "-q")
    assert main(argv) == 0
    text = Image.open(out).text
    assert json.loads(text["stylegram:settings"]) == {"size": 64, "tv_weight": 5.0}
    again = build_parser().parse_args(shlex.split(text["stylegram:command"])[1:])
    assert config_from_args(again, StyleConfig) == StyleConfig(size=64, tv_weight=5.0)
