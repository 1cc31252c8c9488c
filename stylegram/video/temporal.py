"""Frames stylised one after another without flicker (Ruder, Dosovitskiy and Brox 2016).

Each frame after the first starts from the previous stylised frame warped onto it by the optical
flow, with disocclusions taken from the content frame (recoloured like the stylised frame), and
a temporal loss holds it to that warp wherever the flow is reliable:

    J_temporal = w · mean_{x, channel} c(x) · (G(x) − ω(x))²      (Ruder et al., Eq. 7)

with ω the warped previous result and c the consistency weight of flow.consistency. With
long-term terms (`long_term`, frames i−k further back) there is one such term per earlier frame,
each weighted so that a pixel is held to the most recent frame that saw it reliably (Eqs. 8–9).
The first frame gets the full coarse-to-fine schedule; the others `frame_iterations` steps at
full size.
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
from ..transfer.color import match_color_histogram
from ..transfer.config import StyleConfig
from ..transfer.stylize import ExtraTerms, learnt_gamma, stylize
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


def temporal_term(targets: Sequence[tuple[Tensor, Tensor]], weight: float) -> ExtraTerms:
    """J_temporal for `stylize`'s extra_terms: a sum over (ω, c) pairs, each an earlier result
    warped onto this frame (1, 3, H, W) and its weight map (1, 1, H, W)."""

    def terms(image: Tensor, box: Box) -> dict[str, Tensor]:
        total = image.new_zeros((), dtype=torch.float32)
        for warped, weight_map in targets:
            target, c = crop(warped, box).to(image.device), crop(weight_map, box).to(image.device)
            assert target.shape[-2:] == image.shape[-2:], "the temporal loss runs at full size only"
            total = total + (c * (image.float() - target).pow(2)).mean()
        return {"temporal": weight * total}

    return terms


def long_term_weights(maps: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Ruder et al.'s Eq. 9: the weights of the terms to frames i−j for j ∈ J in increasing order,
    from each one's consistency c^(i−j,i): c_long = max(c^(i−j,i) − Σ_{k∈J, k<j} c^(i−k,i), 0).
    The nearest frame keeps its own map; a pixel falls to a frame further back only where every
    nearer frame failed to see it."""
    out, seen = [], np.zeros_like(maps[0])
    for c in maps:
        out.append(np.maximum(c - seen, 0))
        seen = seen + c
    return out


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


def _warm_start(
    clip: _Clip,
    j: int,
    sources: list[int],
    done: dict[int, Image.Image],
    earlier: Image.Image | None,
) -> tuple[Tensor, ExtraTerms]:
    """The start image and temporal term of frame j, from finished frames `sources`: the previous
    frame of the sweep, then any long-term ones, nearest first."""
    warps, maps = [], []
    for k in sources:
        back = flow_.flow(clip.arrays[j], clip.arrays[k], clip.video.flow)  # j -> k
        fwd = flow_.flow(clip.arrays[k], clip.arrays[j], clip.video.flow)
        warps.append(flow_.warp(to_array(done[k]), back))  # (H, W, 3)
        maps.append(
            flow_.consistency(back, fwd, frames=(clip.arrays[j], clip.arrays[k]))[..., None]
        )  # (H, W, 1)
        if k == sources[0]:
            # Where the start may come from: only disocclusions (the round trip) and pixels
            # entering the view start from the content (first pass) or this frame's last pass.
            # Where only the motion-boundary or photometric check fails (a flow that is roughly
            # right on a moving, deforming object) the warp is a better start than the photo: it
            # carries the style's texture, and with c = 0 there the content loss corrects it.
            from_warp = flow_.consistency(back, fwd, boundaries=False)[..., None]
    if earlier is not None:  # a later pass: this frame's own result from the last one
        fill = to_array(earlier)
    else:
        # Departure from Ruder et al., who start from the warp everywhere (disocclusions get
        # whatever the warp drags in: smears on a moving arm here): disocclusions start from the
        # content frame, recoloured to the colour mean and covariance of the stylised previous
        # frame. From the plain photo, 8 steps left a deforming object (the bunny) grey and
        # flat, frame after frame; recoloured, it keeps the painting's palette, without smears.
        fill = (
            match_color_histogram(_to_tensor(clip.arrays[j]), _to_tensor(warps[0]))[0]
            .numpy()
            .transpose(1, 2, 0)
        )
    init = from_warp * warps[0] + (1 - from_warp) * fill
    weights = long_term_weights(maps)
    for warped, c_long in zip(
        warps[1:], weights[1:], strict=True
    ):  # seen reliably only further back: start from there
        init = c_long * warped + (1 - c_long) * init
    term = temporal_term(
        [(_to_tensor(w), _to_tensor(c)) for w, c in zip(warps, weights, strict=True)],
        clip.video.temporal_weight,
    )
    return _to_tensor(init), term


def _one_frame(
    clip: _Clip,
    j: int,
    sources: list[int],
    done: dict[int, Image.Image],
    earlier: Image.Image | None,
    gamma: float | None,
) -> tuple[Image.Image, float | None]:
    """Frame j, and the L-BFGS curvature scale γ its run ended with.

    A frame that starts from a finished one starts with `gamma`, the γ of the frame before it
    in the sweep, as a scale starts with the last scale's (transfer/lbfgs.py): torch's first step
    of length 1/‖∇J‖₁ moved no pixel by more than about 10⁻⁴, one of 8 steps spent. With it, J
    after the 8 steps was 1.5–2.5 % lower on each of 5 frames of Big Buck Bunny at 256 px.
    """
    if clip.video.temporal_weight == 0 or (not sources and earlier is None):
        return _stylize(clip, j, clip.first, None)
    if not sources:  # the first frame of a later pass: from its own last pass, no temporal term
        assert earlier is not None
        return _stylize(clip, j, clip.later, gamma, init=_to_tensor(to_array(earlier)))
    init, term = _warm_start(clip, j, sources, done, earlier)
    return _stylize(clip, j, clip.later, gamma, init=init, extra_terms=term)


def _stylize(
    clip: _Clip, j: int, config: StyleConfig, gamma: float | None, **kwargs
) -> tuple[Image.Image, float | None]:
    learnt = [gamma]

    def keep(event) -> None:
        learnt[0] = learnt_gamma(event.optimizer) or learnt[0]

    image = stylize(
        clip.contents[j],
        clip.styles,
        config,
        model=clip.model,
        callback=keep,
        gamma=gamma,
        **kwargs,
    )
    return image, learnt[0]


def stylize_frames(
    frames: Sequence[Image.Image],
    styles: Sequence[ImageLike],
    style: StyleConfig,
    video: VideoConfig,
    work: WorkFolder,
    *,
    model: VGG,
    callback: FrameCallback | None = None,
) -> list[Image.Image]:
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
    offsets = (1, *(video.long_term or ()))  # VideoConfig keeps long_term sorted, each at least 2
    last: dict[int, Image.Image] = {}
    gamma: float | None = None  # the last finished frame's L-BFGS curvature scale
    for p in range(passes):
        step = 1 if p % 2 == 0 else -1
        order = range(len(frames)) if step == 1 else range(len(frames) - 1, -1, -1)
        done: dict[int, Image.Image] = {}
        for j in order:
            found = work.load(p, j)
            resumed, started = found is not None, time.perf_counter()
            if found is None:
                # The frames this one is held to: the previous one of the sweep, then those
                # further back, as far as the sweep has gone.
                sources = [j - step * k for k in offsets if j - step * k in done]
                found, gamma = _one_frame(clip, j, sources, done, last.get(j), gamma)
                work.save(p, j, found, gamma)
            else:
                gamma = work.gamma(
                    p, j
                )  # as the run that made it ended: a resumed job goes on exactly
            done[j] = found
            if callback is not None:
                callback(FrameDone(j, p, passes, time.perf_counter() - started, resumed, found))
        last = done
    return [last[j] for j in range(len(frames))]
