"""Style transfer for clips without flicker (Ruder et al. 2016), on the transfer engine.

    io.py        PyAV input (file, animated GIF, folder of frames) and output (MP4 with the
                 input's audio, PNG folder, GIF/WebP)
    flow.py      DIS optical flow, warping, the consistency weight
    temporal.py  the frame loop: warm starts, the temporal loss, multi-pass
    work.py      the resumable work folder
    quality.py   the warping error
    config.py    VideoConfig

Needs the `video` extra (av, opencv-python-headless); imported lazily, so the base install
does not.
"""

from .config import VideoConfig

__all__ = ["VideoConfig"]
