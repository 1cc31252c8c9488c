"""The atlases the studio serves (`stylegram serve --atlas DIR`): folders written by
`stylegram units --atlas`. Each is served as static files under ``/atlas/<n>/`` (its pages are
at ``/atlas/<n>/atlas/index.html``), and its manifest answers the explorer's questions: which
layers and units it holds, and a unit's top patches with their projections."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..files import read_own
from ..settings import ConfigError
from ..units.atlas import ATLAS, unit_page_name


def check_atlas(folder: str | Path) -> Path:
    """`folder` if it holds an atlas, else a ConfigError in one line saying what is missing."""
    path = Path(folder)
    if not path.is_dir():
        raise ConfigError("atlas", f"'{folder}': not a folder")
    for needed in ("manifest.json", f"{ATLAS}/index.html"):
        if not (path / needed).is_file():
            raise ConfigError(
                "atlas",
                f"'{folder}': no {needed} here; make an atlas with"
                f" stylegram units --images DIR -o '{folder}' --atlas",
            )
    read_manifest(path)
    return path


def read_manifest(folder: Path) -> dict[str, Any]:
    """An atlas folder's manifest.json, checked for what the studio reads; a ConfigError in one
    line naming the file otherwise."""
    path = folder / "manifest.json"
    try:
        data = json.loads(read_own(path))
        complete = isinstance(data["read"], int) and all(
            isinstance(entry["channels"], int)
            and all({"unit", "hits"} <= set(u) for u in entry["units"])
            for entry in data["layers"].values()
        )
        if not complete:
            raise KeyError("a layer's channels or a unit's hits")
        return data
    except OSError as exc:
        raise ConfigError("atlas", f"'{path}': cannot read it ({exc.strerror or exc})") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(
            "atlas",
            f"'{path}': not a units manifest ({type(exc).__name__}: {exc});"
            " make the atlas again with stylegram units --atlas",
        ) from None


class Atlases:
    """The atlases' manifests, read once at start."""

    def __init__(self, folders: tuple[str, ...]) -> None:
        self.folders = [check_atlas(f) for f in folders]
        self.manifests = [read_manifest(f) for f in self.folders]

    @staticmethod
    def url(index: int, name: str) -> str:
        """Where the studio serves `name`, a path inside atlas `index`'s folder."""
        return f"/atlas/{index}/{name}"

    def listing(self) -> list[dict[str, Any]]:
        return [
            {
                "id": i,
                "name": folder.resolve().name,
                "images": data["read"],
                "projection": data.get("projection"),
                "index": self.url(i, f"{ATLAS}/index.html"),
                "layers": [
                    {
                        "name": layer,
                        "channels": entry["channels"],
                        "units": [u["unit"] for u in entry["units"] if u["unit"] is not None],
                    }
                    for layer, entry in data["layers"].items()
                ],
            }
            for i, (folder, data) in enumerate(zip(self.folders, self.manifests, strict=True))
        ]

    def unit(self, index: int, layer: str, unit: int) -> dict[str, Any]:
        """A unit's hits with the URLs of their patches and projections; ValueError if the
        atlas does not hold it."""
        if not 0 <= index < len(self.manifests):
            raise ValueError(f"no atlas {index}; there are {len(self.manifests)}")
        layers = self.manifests[index]["layers"]
        if layer not in layers:
            raise ValueError(f"atlas {index} has no layer '{layer}' ({', '.join(layers)})")
        found = next((u for u in layers[layer]["units"] if u["unit"] == unit), None)
        if found is None:
            raise ValueError(f"atlas {index} has no page for {layer} unit {unit}")
        return {
            "layer": layer,
            "unit": unit,
            "page": self.url(index, f"{ATLAS}/{unit_page_name(layer, unit)}"),
            "optimized": self.url(index, found["optimized"]) if found.get("optimized") else None,
            "hits": [
                {
                    "rank": h["rank"],
                    "image": Path(h["path"]).name,
                    "activation": h["activation"],
                    "patch": self.url(index, h["patch"]) if "patch" in h else None,
                    "projection": self.url(index, h["projection"]) if "projection" in h else None,
                }
                for h in found["hits"]
            ],
        }
