"""Resumable long runs: a side file beside the output with the image, the scale and the step.

The file is `.OUT.checkpoint` next to OUT, written atomically. It is keyed by the job: the
settings and the bytes of every input. Rerunning the same command continues from it; a
different command ignores it and, once it saves its own, replaces it. A finished job removes it.
It keeps L-BFGS's history too, so a resumed run takes the steps the uninterrupted one would
have: without it, the first step after a resume was a short steepest-descent step, and a
2048-px job resumed two steps before its end finished with a style gap 56 % worse. The file is
as large as that history: up to 2 × history image-sized vectors (bf16 on tiled scales).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path
from typing import Sequence

import torch

from ..image import write_atomic
from ..transfer.config import StyleConfig
from ..transfer.stylize import Iterate, Resume

VERSION = 2  # 2: with the optimiser's state; 1 (without it) is still read


def job_key(inputs: Sequence[str], config: StyleConfig) -> str:
    """A hash of the settings and of every input file's bytes."""
    h = hashlib.sha256(json.dumps(asdict(config), sort_keys=True, default=str).encode())
    for path in inputs:
        h.update(Path(path).read_bytes())
    return h.hexdigest()


class Checkpoint:
    def __init__(self, output: Path, key: str) -> None:
        self.path = output.with_name(f".{output.name}.checkpoint")
        self.key = key

    def save(self, event: Iterate) -> None:
        state = {"version": VERSION, "key": self.key, "scale": event.scale, "step": event.step,
                 "image": event.image, "optimizer": event.optimizer}
        write_atomic(self.path, lambda f: torch.save(state, f))

    def load(self) -> Resume | None:
        """The saved state of this same job, or None (missing, another job's, or unreadable)."""
        if not self.path.is_file():
            return None
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception:  # a file we cannot read is no checkpoint; it will be replaced
            return None
        if (not isinstance(state, dict) or state.get("version") not in (1, VERSION)
                or state.get("key") != self.key):
            return None
        return Resume(int(state["scale"]), int(state["step"]), state["image"], state.get("optimizer"))

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
