"""stylegram.live: the notebook callback, with IPython faked or absent (no Jupyter needed)."""

from __future__ import annotations

import sys
import types

import pytest
import torch

import stylegram
from stylegram.transfer import Iterate


def events(sizes: list[tuple[int, int]], steps: list[int]) -> list[Iterate]:
    """What stylize reports: `steps[k]` steps at scale k of size `sizes[k]` (W, H)."""
    total, out = sum(steps), []
    for k, ((w, h), n) in enumerate(zip(sizes, steps, strict=True)):
        for _ in range(n):
            image = torch.full((1, 3, h, w), len(out) / total)
            losses = {"content": 1.0, "style": 2.0, "total": 3.0}
            out.append(Iterate(len(out) + 1, total, k, len(sizes), (w, h), losses, image))
    return out


class FakeHandle:
    def __init__(self, shown: list) -> None:
        self.shown = shown

    def update(self, obj) -> None:
        self.shown.append(("update", obj))


@pytest.fixture
def fake_ipython(monkeypatch):
    """An IPython whose display() records what it was given and returns an updatable handle."""
    shown: list = []

    def display(obj, *, display_id=False):
        assert display_id is True, "the picture must be displayed with an id, to redraw in place"
        shown.append(("display", obj))
        return FakeHandle(shown)

    ipython = types.ModuleType("IPython")
    ipython.get_ipython = lambda: object()  # type: ignore[attr-defined]
    display_module = types.ModuleType("IPython.display")
    display_module.display = display  # type: ignore[attr-defined]
    ipython.display = display_module  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setitem(sys.modules, "IPython.display", display_module)
    return shown


def test_redraws_one_picture_every_n_steps_at_new_scales_and_at_the_end(fake_ipython, capsys):
    view = stylegram.live(every=3)
    for event in events([(16, 12), (32, 24)], [4, 5]):
        view(event)
    kinds = [kind for kind, _ in fake_ipython]
    # Steps 1 (first scale), 3, 5 (new scale), 6, 9 (every 3rd, and the last).
    assert kinds == ["display", "update", "update", "update", "update"]
    sizes = [picture.size for _, picture in fake_ipython]
    assert sizes == [(16, 12), (16, 12), (32, 24), (32, 24), (32, 24)]
    # The last picture is the last event's image: grey 8/9.
    assert fake_ipython[-1][1].getpixel((0, 0)) == (227, 227, 227)
    bar = capsys.readouterr().err
    assert "9/9" in bar and "32×24" in bar and "style=2" in bar
    # Used again, it starts a new picture rather than overwriting the last run's.
    view(events([(16, 12)], [1])[0])
    assert [kind for kind, _ in fake_ipython][-1] == "display"


def test_without_ipython_shows_the_bar_only(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "IPython", None)  # import IPython raises ImportError
    view = stylegram.live(every=1)
    for event in events([(16, 12)], [3]):
        view(event)
    assert "3/3" in capsys.readouterr().err
    assert view.show is False


def test_every_must_be_a_positive_number_of_steps():
    with pytest.raises(
        ValueError, match="every must be a whole number of steps, at least 1, not 0"
    ):
        stylegram.live(every=0)
