"""The unit explorer: a unit's top patches from a scan, its activation map over a photo, and a
painting read as units (explain-style). Runs in a thread of the server, one request at a time,
through the public functions of stylegram.units."""

from __future__ import annotations

import io
import threading
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from PIL import Image
from torch.nn import functional as F

from ..image import resize_long_side, to_pil, to_tensor

if TYPE_CHECKING:
    from ..units import Scan
    from ..vgg import VGG

SCAN_SIZE = 128  # small, so that the first scan of a folder takes seconds, not minutes
MAP_SIDE = 320  # long side of the photo an activation map is computed on


def bundled_images() -> list[Path]:
    data = resources.files("stylegram") / "data"
    return sorted(Path(str(p)) for p in data.iterdir() if p.name.endswith((".jpg", ".png")))


def png(image: torch.Tensor | Image.Image) -> bytes:
    buf = io.BytesIO()
    (image if isinstance(image, Image.Image) else to_pil(image)).save(buf, format="PNG")
    return buf.getvalue()


class Explorer:
    """Loads VGG and scans the images on first use; later calls read the cached scan."""

    def __init__(self, images: str | None, cache_dir: Path) -> None:
        self.images, self.cache_dir = images, cache_dir
        self._lock = threading.Lock()
        self._vgg: VGG | None = None
        self._scan: Scan | None = None

    def _ready(self) -> tuple[VGG, Scan]:
        from ..units import list_images, scan
        from ..units.scan import DEFAULT_LAYERS
        from ..weights import load_vgg

        if self._vgg is None or self._scan is None:  # i.e. no _scan yet: _vgg is set first
            self._vgg = load_vgg()
            paths = list_images(self.images) if self.images else bundled_images()
            self._scan = scan(
                self._vgg, paths, layers=DEFAULT_LAYERS, size=SCAN_SIZE, cache_dir=self.cache_dir
            )
        return self._vgg, self._scan

    def layers(self) -> dict[str, Any]:
        from ..units.scan import DEFAULT_LAYERS
        from ..vgg import layer_infos

        info = layer_infos()
        return {
            "source": self.images or "the bundled images",
            "layers": [
                {
                    "name": n,
                    "channels": info[n].channels,
                    "receptive_field": info[n].receptive_field,
                }
                for n in DEFAULT_LAYERS
            ],
        }

    def _check(self, layer: str, unit: int) -> None:
        from ..units.scan import DEFAULT_LAYERS
        from ..vgg import layer_infos

        if layer not in DEFAULT_LAYERS:
            raise ValueError(f"layer must be one of {', '.join(DEFAULT_LAYERS)}, not '{layer}'")
        layer_infos()[layer].check_unit(unit)

    def top(self, layer: str, unit: int, k: int) -> bytes:
        """The unit's top-`k` patches in a row, best first, as a PNG."""
        from ..units.grids import display_cell, resize_cell, stack
        from ..units.report import PatchCutter

        self._check(layer, unit)
        with self._lock:
            vgg, scanned = self._ready()
            hits = scanned.top(layer, [unit], k)[0]
            if not hits:
                raise ValueError(f"no image excites {layer} unit {unit}")
            cell = display_cell(vgg.info[layer].receptive_field)
            patches = PatchCutter(scanned.size)(hits)
        return png(stack([resize_cell(p, cell) for p in patches], dim=-1, gap=2))

    @staticmethod
    def _map_input(image: Image.Image, layer: str, name: str):
        """`image` at the map's size, (1, 3, H, W); ValueError naming `name` if `layer` would
        have no position on it (the rule of vgg.min_size, as the CLI applies it)."""
        from ..vgg import min_size

        x = to_tensor(resize_long_side(image, MAP_SIDE))
        need = min_size([layer])
        if min(x.shape[-2:]) < need:
            w, h = image.size
            raise ValueError(
                f"'{name}' is {w}×{h} px: at {MAP_SIDE} px on its long side, its short side is"
                f" {min(x.shape[-2:])} px, and {layer} needs at least {need}"
            )
        return x

    @torch.inference_mode()
    def activation(self, photo: Image.Image, layer: str, unit: int, name: str = "image") -> bytes:
        """The unit's activation over `photo`: the photo dimmed, the map in red on top."""
        self._check(layer, unit)
        x = self._map_input(photo, layer, name)
        with self._lock:
            vgg, _ = self._ready()
            a = vgg(x, [layer])[layer][:, unit : unit + 1].float()  # (1, 1, h, w)
        a = F.interpolate(a, size=x.shape[-2:], mode="bilinear", align_corners=False)
        a = a / a.max().clamp(min=1e-8)
        grey = x.mean(dim=1, keepdim=True) * 0.5
        heat = torch.cat([grey + 0.5 * a, grey * (1 - a), grey * (1 - a)], dim=1).clamp(0, 1)
        return png(heat)

    @torch.inference_mode()
    def explain(self, painting: Image.Image, layer: str, name: str = "image") -> dict[str, Any]:
        """A painting's most particular channels (against the scanned photos) and most
        correlated pairs at `layer` (explain-style)."""
        from ..units.explain import style_components

        self._check(layer, 0)
        x = self._map_input(painting, layer, name)
        with self._lock:
            vgg, scanned = self._ready()
            reference = {layer: scanned.shares(layer).mean}
            found = style_components(vgg, x, [layer], top=6, pairs=4, reference=reference)[0]
        return {
            "layer": layer,
            "painting": name,
            "photos": len(scanned.images) - len(scanned.skipped),
            "channels": [
                {"unit": c.unit, "energy": c.energy, "reference": c.reference, "ratio": c.ratio}
                for c in found.channels
            ],
            "pairs": [{"a": p.a, "b": p.b, "correlation": p.correlation} for p in found.pairs],
        }
