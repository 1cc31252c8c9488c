"""VideoConfig: the settings of `stylegram video` beyond StyleConfig's, with defaults and limits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..settings import ConfigError, check_fields, option
from ..transfer.config import StyleConfig


@dataclass(frozen=True)
class VideoConfig:
    """How a clip is cut, tracked and kept consistent. The style settings are a `StyleConfig`."""

    temporal_weight: float = option(
        50.0,
        "weight of the temporal loss toward the warped previous frame (0 = independent frames)",
        min=0,
        metavar="W",
    )
    frame_iterations: int = option(
        8,
        "L-BFGS steps for each frame after the first, at full size from the warped previous frame",
        min=1,
        metavar="N",
    )
    passes: int = option(
        1,
        "sweeps over the clip, alternately forward and backward (Ruder et al.'s multi-pass)",
        min=1,
        max=20,
        metavar="N",
    )
    long_term: tuple[int, ...] | None = option(
        None,
        "also hold each frame to the frames this many back where the previous one did not see it,"
        " e.g. 2 4 (Ruder et al.'s long-term consistency)",
        min=2,
        max=100,
        metavar="K",
    )
    flow: Literal["fast", "medium", "fine"] = option("medium", "DIS optical flow preset")
    start: float = option(0.0, "first second of the input to take", min=0, metavar="S")
    duration: float | None = option(
        None, "seconds of the input to take (default: to the end)", positive=True, metavar="S"
    )
    fps: float | None = option(
        None,
        "frame rate of a folder of frames (default: 25; files keep their own)",
        positive=True,
        max=1000,
        metavar="FPS",
    )
    work_dir: str | None = option(
        None,
        "folder for finished frames, to resume (default: OUT.frames beside OUT)",
        metavar="DIR",
    )

    def __post_init__(self) -> None:
        check_fields(self)
        if self.long_term is not None:  # one order, one term per frame: `4 2 2` is `2 4`
            object.__setattr__(self, "long_term", tuple(sorted(set(self.long_term))))


def check_style_for_video(style: StyleConfig, video: VideoConfig) -> None:
    """Settings of StyleConfig that the frame loop cannot honour."""
    if style.content_seg is not None:
        raise ConfigError(
            "content_seg", "is drawn for one photo; the frames of a video cannot use it yet"
        )
    if style.preserve_colors == "luminance" and video.temporal_weight > 0:
        # The optimised image is grey while the warped previous frame has colour.
        raise ConfigError(
            "preserve_colors",
            "luminance cannot be combined with a temporal loss yet; use histogram, or a temporal"
            " weight of 0",
        )
