"""The work folder of a clip: finished frames as PNGs, written atomically, and the job they
belong to. Rerunning the same job finds its frames there and goes on from the first missing one;
a different job (other input, styles or settings) is refused, so frames never mix.

    WORK/job.json           the job's fingerprint
    WORK/pass1/00001.png    frame 1 of pass 1, ..., each with the L-BFGS curvature scale its run
                            ended with (a PNG text chunk), which the next frame starts from
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from PIL import Image

from ..files import read_own
from ..image import open_image, png_text, save_image, write_text_atomic
from ..settings import ConfigError


def file_id(path: str | os.PathLike) -> dict[str, Any]:
    """A file by its resolved name, size and modification time (a changed file is another job)."""
    p = Path(path)
    st = p.stat()
    return {"path": str(p.resolve()), "bytes": st.st_size, "mtime_ns": st.st_mtime_ns}


GAMMA_KEY = "stylegram:lbfgs-gamma"  # repr() of a float: read back to the bit


class WorkFolder:
    def __init__(self, root: str | os.PathLike, job: dict[str, Any]) -> None:
        """Open or create `root` for `job` (a JSON-able description); ValueError if it holds another job."""
        self.root = Path(root)
        self.job = json.loads(json.dumps(job, sort_keys=True, default=str))
        manifest = self.root / "job.json"
        if self.root.exists() and not self.root.is_dir():
            raise ValueError(f"'{self.root}': the work folder is a file")
        if manifest.exists():
            try:
                held = json.loads(read_own(manifest).decode("utf-8"))
            except (OSError, ValueError):
                held = None
            if held != self.job:
                raise ConfigError(
                    "work_dir",
                    f"'{self.root}': the work folder holds frames of another job (other input,"
                    " styles or settings); remove it or choose another",
                )
        elif self.root.exists() and any(self.root.iterdir()):
            raise ConfigError(
                "work_dir",
                f"'{self.root}': the work folder is not empty and is not a stylegram job; choose"
                " another",
            )
        for entry in self.root.iterdir() if self.root.is_dir() else ():
            if entry.name.startswith("pass") and (entry.is_symlink() or not entry.is_dir()):
                # Frames are read from and written into it: it must be a folder of the job's own.
                raise ValueError(
                    f"'{entry}': is a link or not a folder; the work folder keeps its frames only in"
                    " folders of its own; remove it"
                )
        self.made = not self.root.exists()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ValueError(
                f"'{self.root}': cannot make the work folder ({exc.strerror or exc})"
            ) from None
        write_text_atomic(json.dumps(self.job, indent=1, sort_keys=True), manifest)

    def remove_if_unused(self) -> None:
        """Remove the work folder if this run made it and no frame was finished in it."""
        if self.made and [p.name for p in self.root.iterdir()] == ["job.json"]:
            (self.root / "job.json").unlink()
            self.root.rmdir()

    def path(self, pass_: int, index: int) -> Path:
        """The PNG of frame `index` (0-based) after pass `pass_` (0-based)."""
        return self.root / f"pass{pass_ + 1}" / f"{index + 1:05d}.png"

    def load(self, pass_: int, index: int) -> Image.Image | None:
        path = self.path(pass_, index)
        return open_image(path) if path.exists() else None

    def save(self, pass_: int, index: int, image: Image.Image, gamma: float | None = None) -> None:
        path = self.path(pass_, index)
        path.parent.mkdir(exist_ok=True)
        if path.parent.is_symlink():  # made by someone else since the start: never write through it
            raise ValueError(
                f"'{path.parent}': is a link; the work folder keeps its frames only in folders of its own"
            )
        save_image(image, path, metadata={GAMMA_KEY: repr(gamma)} if gamma is not None else None)

    def gamma(self, pass_: int, index: int) -> float | None:
        """The L-BFGS curvature scale saved with a finished frame, or None (Adam, or none saved)."""
        text = png_text(self.path(pass_, index), GAMMA_KEY)
        try:
            gamma = float(text) if text else None
        except ValueError:
            return None
        return gamma if gamma is not None and math.isfinite(gamma) and gamma > 0 else None

    def count_done(self, passes: int, n_frames: int) -> int:
        return sum(self.path(p, k).exists() for p in range(passes) for k in range(n_frames))
