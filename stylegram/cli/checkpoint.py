"""Resumable long runs: a side file beside the output with the image, the scale and the step.

The file is `.OUT.checkpoint` next to OUT, written atomically: `MAGIC`, the job key on a line,
then the torch archive. The key is a hash of the settings and the bytes of every input.
Rerunning the same command continues from it; a different command ignores it and, once it
saves its own, replaces it. A finished job removes its own checkpoint, known from the header
without reading the archive, and no other. A file of that name that is no checkpoint (neither
this header nor an older bare torch archive with our keys) is refused before work, never
replaced or deleted.

It keeps L-BFGS's history too, so a resumed run takes the steps the uninterrupted one would
have: without it, the first step after a resume was a short steepest-descent step, and a
2048-px job resumed two steps before its end finished with a style gap 56 % worse. The file is
as large as that history: up to 2 × history image-sized vectors (bf16 on tiled scales).
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import IO

import torch

from ..image import write_atomic
from ..transfer.config import StyleConfig
from ..transfer.stylize import Iterate, Resume

# 4: L-BFGS's γ as "gamma" (lbfgs.learnt_gamma reads 3's "h_diag"); 3: MAGIC first;
# 2: with the optimiser's state; 1: without it. All are still read.
VERSION = 4
MAGIC = b"stylegram checkpoint\n"


def job_key(inputs: Sequence[str], config: StyleConfig) -> str:
    """A hash of the settings and of every input file's bytes."""
    h = hashlib.sha256(json.dumps(asdict(config), sort_keys=True, default=str).encode())
    for path in inputs:
        h.update(Path(path).read_bytes())
    return h.hexdigest()


def _header_key(f: IO[bytes]) -> str | None:
    """The job key in a version-3 or later file's header (MAGIC, then the key on a line), leaving `f`
    at the archive; None, with `f` at its start, for a file without the header."""
    if f.read(len(MAGIC)) == MAGIC:
        return f.readline(128).rstrip(b"\n").decode("ascii", "replace")
    f.seek(0)
    return None


def _state(path: Path) -> dict | None:
    """The dict a checkpoint file holds, or None if `path` is not one of ours."""
    try:
        with open(path, "rb") as f:
            if _header_key(f) is None:  # an older file: a bare torch archive, or no checkpoint
                if not zipfile.is_zipfile(f):
                    return None
                f.seek(0)  # is_zipfile read from the end
            state = torch.load(io.BytesIO(f.read()), map_location="cpu", weights_only=True)
    except Exception:
        return None
    if (
        not isinstance(state, dict)
        or state.get("version") not in (1, 2, 3, VERSION)
        or "key" not in state
    ):
        return None
    return state


def _key(path: Path) -> str | None:
    """The job key of the checkpoint at `path` from its header alone (older files, without one,
    from their content), or None if it is no stylegram checkpoint."""
    try:
        with open(path, "rb") as f:
            key = _header_key(f)
    except OSError:
        return None
    if key is not None:
        return key
    state = _state(path)
    return None if state is None else str(state["key"])


class Checkpoint:
    def __init__(self, path: Path, key: str) -> None:
        self.path = path
        self.key = key

    def check(self) -> None:
        """Refuse, before any work, a file of the checkpoint's name that is not a checkpoint."""
        from ..files import readable_file

        if not self.path.exists() and not self.path.is_symlink():
            return
        readable_file(self.path, "checkpoint file")  # a folder, a pipe, a dangling link: one line
        if _key(self.path) is None:
            raise ValueError(
                f"'{self.path}': is not a stylegram checkpoint, and this run would replace it"
                " there; move it or choose another -o"
            )

    def save(self, event: Iterate) -> None:
        state = {
            "version": VERSION,
            "key": self.key,
            "scale": event.scale,
            "step": event.step,
            "image": event.image,
            "optimizer": event.optimizer,
        }

        payload = io.BytesIO()  # torch's archive records offsets from its own start
        torch.save(state, payload)
        write_atomic(
            self.path,
            lambda f: f.write(MAGIC + self.key.encode("ascii") + b"\n" + payload.getbuffer()),
        )

    def load(self) -> Resume | None:
        """The saved state of this same job, or None (missing, another job's, or unreadable)."""
        state = _state(self.path) if self.path.is_file() else None
        if state is None or state.get("key") != self.key:
            return None
        return Resume(
            int(state["scale"]), int(state["step"]), state["image"], state.get("optimizer")
        )

    def remove(self) -> None:
        """Remove this job's checkpoint: never another file of its name, nor another job's
        checkpoint (a different command leaves it for its own rerun)."""
        if self.path.is_file() and not self.path.is_symlink() and _key(self.path) == self.key:
            self.path.unlink()
