"""Progress in Jupyter: a bar, and the picture as it forms, while `stylize` runs.

    >>> image = stylegram.stylize(photo, painting, config, callback=stylegram.live(every=10))

`live()` makes a callback for the events `stylize` reports (`stylegram.Iterate`). It shows a
tqdm.auto bar (a widget in a notebook, text in a terminal) with the loss terms, and redraws the
current image in one place of the notebook every `every` steps, at each new scale and at the
end. Like the CLI's progress, it only reads the events: the loop never prints.

Nothing heavy is imported with this module: tqdm and IPython load on the first event, so the
base package needs neither. Outside IPython (a script, a test) there is no picture, only the bar.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from torch import Tensor


class Event(Protocol):
    """What `Live` reads of an event; `stylegram.Iterate` has all of it."""

    @property
    def step(self) -> int: ...  # 1-based, over all scales
    @property
    def total_steps(self) -> int: ...
    @property
    def scale(self) -> int: ...
    @property
    def size(self) -> tuple[int, int]: ...  # (W, H)
    @property
    def losses(self) -> Mapping[str, float]: ...
    @property
    def image(self) -> Tensor: ...  # (1, 3, H, W) in [0, 1]


class Live:
    """The callback `live` returns. It closes its bar after the last step; `close()` ends it
    early (after an interrupted run, say). Used again, it starts a new bar and a new picture."""

    def __init__(self, *, every: int, desc: str, show: bool) -> None:
        self.every, self.desc, self.show = every, desc, show
        self._bar: Any = None  # tqdm's bar of the current run
        self._handle: Any = None  # IPython's DisplayHandle of the current picture
        self._scale = -1

    def __call__(self, event: Event) -> None:
        if self._bar is None:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=event.total_steps, desc=self.desc, unit="step")
        bar = self._bar
        new_scale = event.scale != self._scale
        if new_scale:
            self._scale = event.scale
            bar.set_description(f"{self.desc} {event.size[0]}×{event.size[1]}", refresh=False)
        bar.set_postfix({k: f"{v:.3g}" for k, v in event.losses.items()}, refresh=False)
        bar.update(event.step - bar.n)
        last = event.step >= event.total_steps
        if self.show and (new_scale or last or event.step % self.every == 0):
            self._draw(event.image)
        if last:
            self.close()

    def _draw(self, image: Tensor) -> None:
        from .image import to_pil

        picture = to_pil(image)
        if self._handle is not None:
            self._handle.update(picture)
            return
        try:
            from IPython import get_ipython
            from IPython.display import display
        except ImportError:
            get_ipython = None
        if get_ipython is None or get_ipython() is None:
            self.show = False  # not in IPython: display() would print the image's repr
            return
        self._handle = display(picture, display_id=True)

    def close(self) -> None:
        """Close the bar; the next event starts a new bar and a new picture."""
        if self._bar is not None:
            self._bar.close()
        self._bar, self._handle, self._scale = None, None, -1


def live(*, every: int = 10, desc: str = "stylize", show: bool = True) -> Live:
    """A `stylize` callback that shows progress and the current image in a notebook.

    Args:
        every: redraw the image every this many steps (and at each new scale and at the end).
        desc: the bar's label; the scale's size (W×H) is added to it.
        show: False for the bar only.
    """
    if not isinstance(every, int) or every < 1:
        raise ValueError(f"every must be a whole number of steps, at least 1, not {every!r}")
    return Live(every=every, desc=desc, show=show)
