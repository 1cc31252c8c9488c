"""Shared fixtures: the real VGG19 weights and the small public-domain/CC0 images in tests/data."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from PIL import Image

DATA = Path(__file__).resolve().parent / "data"  # see data/LICENSES.md
SCAN_SIZE = 96  # the unit scans of the tests: 12 photos at 96 px
SCAN_IMAGES = 12


@pytest.fixture(scope="session")
def data() -> Path:
    return DATA


@pytest.fixture(scope="session")
def vgg():
    from stylegram import load_vgg

    torch.manual_seed(0)
    return load_vgg(device="cpu")  # the suite tests the CPU paths; tests/test_cuda.py the GPU's


@pytest.fixture(scope="session")
def content_path() -> Path:
    return DATA / "photos" / "chelsea.jpg"


@pytest.fixture(scope="session")
def style_path() -> Path:
    return DATA / "paintings" / "starry_night.jpg"


def stylize_argv(content, style, out, *options) -> list[str]:
    """The command line `stylize content style -o out options`, each item as a string."""
    return [str(a) for a in ("stylize", content, style, "-o", out, *options)]


def units_argv(images, out, *options) -> list[str]:
    """The command line `units --images images -o out options`, each item as a string."""
    return [str(a) for a in ("units", "--images", images, "-o", out, *options)]


def thumbnail(path: Path, side: int = 96) -> Image.Image:
    im = Image.open(path).convert("RGB")
    im.thumbnail((side, side))
    return im


@pytest.fixture(scope="session")
def small_content(content_path) -> Image.Image:
    return thumbnail(content_path)


@pytest.fixture(scope="session")
def small_style(style_path) -> Image.Image:
    return thumbnail(style_path)


@pytest.fixture(scope="session")
def folder(data, tmp_path_factory):
    """12 photos, a file that is not an image and a truncated JPEG."""
    root = tmp_path_factory.mktemp("images")
    for path in sorted((data / "scan").iterdir())[:SCAN_IMAGES]:
        shutil.copy(path, root / path.name)
    (root / "corrupt.jpg").write_bytes(b"this is not a jpeg")
    good = sorted((data / "scan").iterdir())[SCAN_IMAGES]
    (root / "sub").mkdir()
    (root / "sub" / "truncated.jpg").write_bytes(good.read_bytes()[:2000])
    return root


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="session")
def scanned(vgg, folder, cache_dir):
    """An fp32 scan, so that recomputing with `vgg` compares like with like."""
    from stylegram.units.scan import DEFAULT_LAYERS, list_images, scan

    return scan(
        vgg,
        list_images(folder),
        layers=DEFAULT_LAYERS,
        size=SCAN_SIZE,
        cache_dir=cache_dir,
        precision="fp32",
    )


@pytest.fixture(scope="session")
def features(vgg, scanned):
    """Every readable image's activations, recomputed independently of the scan."""
    from stylegram.units.scan import DEFAULT_LAYERS, load_scan_image

    readable = [i for i, p in enumerate(scanned.images) if str(p) not in dict(scanned.skipped)]
    batch = torch.cat([load_scan_image(scanned.images[i], SCAN_SIZE)[0] for i in readable])
    with torch.no_grad():
        return readable, vgg(batch, DEFAULT_LAYERS)


@pytest.fixture()
def no_model(monkeypatch):
    """Fail the test if anything loads the network."""

    def load_vgg(*args, **kwargs):
        raise AssertionError("the model was loaded before the bad input was refused")

    import importlib

    for module in (
        "stylegram.weights",
        "stylegram.transfer.stylize",
    ):  # the package's `stylize` is the function
        monkeypatch.setattr(importlib.import_module(module), "load_vgg", load_vgg)
