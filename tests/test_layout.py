"""The import directions of the house: ground <- transfer, units <- subsystems <- cli."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "stylegram"
GROUND = {
    "geometry",
    "settings",
    "vgg",
    "weights",
    "device",
    "winograd",
    "nnpack",
    "packed",
    "image",
    "gram",
    "files",
    "errors",
}
# What each part may import from stylegram; anything else is a wrong-way import.
ALLOWED = {
    "ground": GROUND,
    "transfer": GROUND | {"transfer"},
    "units": GROUND | {"units"},
    "video": GROUND | {"transfer", "units", "video"},
    "web": GROUND | {"transfer", "units", "web"},
    "batch": GROUND | {"transfer", "units", "batch"},
}


def _part(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0] if len(rel.parts) > 1 else "ground"


def _stylegram_imports(path: Path) -> set[str]:
    """The top-level stylegram modules or subpackages that `path` imports."""
    rel = path.relative_to(PACKAGE)
    depth = len(rel.parts) - 1  # 0 for stylegram/x.py, 1 for stylegram/transfer/x.py
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level == 0 and (node.module or "").startswith("stylegram."):
                found.add(node.module.split(".")[1])
            elif node.level > 0:
                up = node.level - 1  # levels above this file's own package
                if up > depth:
                    continue
                base = list(rel.parts[:-1])[: depth - up]
                parts = base + (
                    node.module.split(".") if node.module else [a.name for a in node.names]
                )
                found.add(parts[0])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("stylegram.")}
    return found


@pytest.mark.parametrize(
    "path", sorted(p for p in PACKAGE.rglob("*.py") if _part(p) != "cli"), ids=str
)
def test_imports_run_one_way(path):
    part = _part(path)
    if path.name in ("__init__.py", "__main__.py") and part == "ground":
        return  # the package's front door re-exports the public API
    wrong = _stylegram_imports(path) - ALLOWED[part]
    assert not wrong, f"{path.relative_to(PACKAGE)} ({part}) imports {sorted(wrong)}"
