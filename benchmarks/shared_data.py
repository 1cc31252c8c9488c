"""Where the benchmarks find ../shared/data, the calibration images kept beside the repository.

The tests never need it; the benchmarks do, and say so in one line when it is missing.
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


def shared_data(*parts: str) -> Path:
    """The path under ../shared/data, or exit 2 with one line saying what is missing."""
    path = DATA.joinpath(*parts)
    if not path.exists():
        print(f"benchmark needs '{path}' (../shared/data beside the repository), which is missing", file=sys.stderr)
        sys.exit(2)
    return path
