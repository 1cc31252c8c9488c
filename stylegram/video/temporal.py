"""Frames stylised one after another without flicker (Ruder, Dosovitskiy and Brox 2016).

Each frame after the first starts from the previous stylised frame warped onto it by the optical
flow, with what the flow cannot vouch for (disocclusions, motion boundaries) taken from the
content frame, and a temporal loss holds it to that warp wherever the flow is reliable:

    J_temporal = w · mean_{x, channel} c(x) · (G(x) − ω(x))²      (Ruder et al., Eq. 7)

with ω the warped previous result and c the consistency weight of flow.consistency. The first
frame gets the full coarse-to-fine schedule; the others `frame_iterations` steps at full size.
Nothing here prints: each finished frame goes to a callback as a `FrameDone` event.
"""
from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from ..geometry import Box, crop
from ..image import ImageLike
from ..transfer.config import StyleConfig
from ..transfer.stylize import ExtraTerms, stylize
from ..vgg import VGG
from . import flow as flow_
from .config import VideoConfig
from .work import WorkFolder


@dataclass(frozen=True)
class FrameDone:
    """One frame finished (or found finished in the work folder), reported to the callback."""

    index: int  # 0-based frame of the clip
    pass_: int  # 0-based
    passes: int
    seconds: float  # wall time of this frame; 0 when it was already in the work folder
    resumed: bool  # found in the work folder
    image: Image.Image


FrameCallback = Callable[[FrameDone], None]


def to_array(im: Image.Image) -> np.ndarray:
    """RGB PIL -> (H, W, 3) float32 in [0, 1]."""
    return np.asarray(im.convert("RGB"), dtype=np.float32) / 255


def _to_tensor(a: np.ndarray) -> Tensor:
    """(H, W) or (H, W, C) array -> (1, C, H, W) tensor."""
    a = a[..., None] if a.ndim == 2 else a
    return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))[None].float()


def temporal_term(warped: Tensor, weight_map: Tensor, weight: float) -> ExtraTerms:
    """J_temporal for `stylize`'s extra_terms: `warped` (1, 3, H, W), `weight_map` c (1, 1, H, W)."""

    def terms(image: Tensor, box: Box) -> dict[str, Tensor]:
        target, c = crop(warped, box).to(image.device), crop(weight_map, box).to(image.device)
        assert target.shape[-2:] == image.shape[-2:], "the temporal loss runs at full size only"
        return {"temporal": weight * (c * (image.float() - target).pow(2)).mean()}

    return terms


@dataclass
class _Clip:
    """The content frames and what every frame's optimisation needs."""

    contents: list[Image.Image]
    arrays: list[np.ndarray]
    styles: Sequence[ImageLike]
    first: StyleConfig  # the full schedule
    later: StyleConfig  # one scale, few steps
    video: VideoConfig
    model: VGG


def _warm_start(clip: _Clip, j: int, neighbour: int, done: dict[int, Image.Image],
                earlier: Image.Image | None) -> tuple[Tensor, ExtraTerms]:
    """The start image and temporal term of frame j, from the finished frame `neighbour`."""
    back = flow_.flow(clip.arrays[j], clip.arrays[neighbour], clip.video.flow)  # j -> neighbour
    fwd = flow_.flow(clip.arrays[neighbour], clip.arrays[j], clip.video.flow)
    warped = flow_.warp(to_array(done[neighbour]), back)  # (H, W, 3)
    c = flow_.consistency(back, fwd, frames=(clip.arrays[j], clip.arrays[neighbour]))[..., None]  # (H, W, 1)
    # Disoccluded parts (Ruder's check, without the photometric one) start from the content (first
    # pass) or this frame's last pass. Where only the photometric check fails (a flow that is
    # roughly right on a deforming object) the warp is a better start than the photo: it keeps
    # the style's texture, and with c = 0 there the content loss is free to correct it.
    fill = to_array(earlier) if earlier is not None else clip.arrays[j]
    c_fill = flow_.consistency(back, fwd)[..., None]
    init = c_fill * warped + (1 - c_fill) * fill
    return _to_tensor(init), temporal_term(_to_tensor(warped), _to_tensor(c), clip.video.temporal_weight)


def _one_frame(clip: _Clip, j: int, neighbour: int | None, done: dict[int, Image.Image],
               earlier: Image.Image | None) -> Image.Image:
    if clip.video.temporal_weight == 0 or (neighbour is None and earlier is None):
        return stylize(clip.contents[j], clip.styles, clip.first, model=clip.model)
    if neighbour is None:  # the first frame of a later pass: from its own last pass, no temporal term
        assert earlier is not None
        return stylize(clip.contents[j], clip.styles, clip.later, model=clip.model, init=_to_tensor(to_array(earlier)))
    init, term = _warm_start(clip, j, neighbour, done, earlier)
    return stylize(clip.contents[j], clip.styles, clip.later, model=clip.model, init=init, extra_terms=term)


def stylize_frames(frames: Sequence[Image.Image], styles: Sequence[ImageLike], style: StyleConfig,
                   video: VideoConfig, work: WorkFolder, *, model: VGG,
                   callback: FrameCallback | None = None) -> list[Image.Image]:
    """Stylise the content `frames` (all one size) in order; return the stylised frames.

    Args:
        frames: the content frames, RGB PIL images at the working size.
        styles: style images (paths or PIL).
        style: the style settings; `size` must be the frames' long side.
        video: temporal weight, steps per later frame, passes, flow preset.
        work: where finished frames go and are found again (resume).
        model: the loaded VGG.
        callback: called with a `FrameDone` after every frame.
    """
    later = dataclasses.replace(style, scales=1, iterations=video.frame_iterations, init="content")
    clip = _Clip(list(frames), [to_array(f) for f in frames], styles, style, later, video, model)
    passes = video.passes if video.temporal_weight > 0 else 1
    last: dict[int, Image.Image] = {}
    for p in range(passes):
        order = range(len(frames)) if p % 2 == 0 else range(len(frames) - 1, -1, -1)
        done: dict[int, Image.Image] = {}
        neighbour = None
        for j in order:
            found = work.load(p, j)
            resumed, started = found is not None, time.perf_counter()
            if found is None:
                found = _one_frame(clip, j, neighbour, done, last.get(j))
                work.save(p, j, found)
            done[j] = found
            if callback is not None:
                callback(FrameDone(j, p, passes, time.perf_counter() - started, resumed, found))
            neighbour = j
        last = done
    return [last[j] for j in range(len(frames))]
