"""Shared fixtures: the real VGG19 weights and the project's test images in ../shared/data."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def data() -> Path:
    if not DATA.is_dir():
        pytest.fail(f"test images not found at {DATA}; the repo expects ../shared/data beside it")
    return DATA


@pytest.fixture(scope="session")
def vgg():
    from stylegram import load_vgg

    torch.manual_seed(0)
    return load_vgg()


@pytest.fixture(scope="session")
def content_path(data) -> Path:
    return data / "content" / "tubingen.jpg"


@pytest.fixture(scope="session")
def style_path(data) -> Path:
    return data / "styles" / "starry_night.jpg"


@pytest.fixture(scope="session")
def small_content(content_path) -> Image.Image:
    im = Image.open(content_path).convert("RGB")
    im.thumbnail((96, 96))
    return im


@pytest.fixture(scope="session")
def small_style(style_path) -> Image.Image:
    im = Image.open(style_path).convert("RGB")
    im.thumbnail((96, 96))
    return im
