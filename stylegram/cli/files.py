"""Checks on the files a command is about to write."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable


def refuse_overwriting_inputs(output: str | os.PathLike, inputs: Iterable[str | os.PathLike]) -> None:
    """Raise ValueError if `output` is (a link to) one of `inputs`: a result never replaces its source."""
    out = Path(output).resolve()
    for source in inputs:
        path = Path(source)
        if path.exists() and (path.resolve() == out or (out.exists() and os.path.samefile(path, out))):
            raise ValueError(f"'{output}': the output would overwrite the input '{source}'; choose another -o")
