"""Temporal consistency of a stylised clip: the warping error used in the video literature
(Lai et al. 2018, after Ruder et al. 2016).

    E = mean over i ≥ 1 of  Σ_x c_i(x) · ‖O_i(x) − O_{i−1}(x + w_i(x))‖² / (3 · Σ_x c_i(x))

with w_i the flow of the INPUT frames i → i−1 and c_i its consistency weight (unsmoothed, with
the photometric check: pixels the input itself does not warp onto are left out), so that the
measure does not depend on how the output was made. Lower is steadier; pixel values in [0, 1].
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

from . import flow as flow_
from .flow import FlowPreset


def _array(im: Image.Image) -> np.ndarray:
    return np.asarray(im.convert("RGB"), dtype=np.float32) / 255


def warping_error(
    outputs: Sequence[Image.Image], inputs: Sequence[Image.Image], *, preset: FlowPreset = "medium"
) -> float:
    """The mean warping error of `outputs` under the flow of `inputs` (same sizes); 0.0 for one frame."""
    if len(outputs) != len(inputs):
        raise ValueError(f"{len(outputs)} output frames but {len(inputs)} input frames")
    errors = []
    for i in range(1, len(inputs)):
        a, b = _array(inputs[i]), _array(inputs[i - 1])
        back, fwd = flow_.flow(a, b, preset), flow_.flow(b, a, preset)
        c = flow_.consistency(back, fwd, frames=(a, b), smooth=0)
        out, prev = _array(outputs[i]), _array(outputs[i - 1].resize(outputs[i].size))
        diff = ((out - flow_.warp(prev, back)) ** 2).sum(-1)
        errors.append(float((c * diff).sum() / (3 * max(c.sum(), 1.0))))
    return float(np.mean(errors)) if errors else 0.0
