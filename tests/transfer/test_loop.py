"""The optimisation loop's first L-BFGS step: its length is bounded, given a γ or not."""

from __future__ import annotations

import pytest
import torch

from stylegram.transfer import loop


def _first_move(gamma: float | None) -> float:
    """The largest pixel move of one step on J = Σ d·x²/2 (a pixel's gradient d·x, d from 1 to
    3), from x = 0.5, with `gamma` handed to the loop."""
    d = torch.linspace(1, 3, 3 * 16 * 16).view(1, 3, 16, 16)
    start = torch.full_like(d, 0.5)

    def objective(image: torch.Tensor) -> dict[str, torch.Tensor]:
        total = (d * image * image).sum() / 2
        total.backward()
        return {"total": total.detach()}

    moved = loop.optimize(start.clone(), 1, objective, gamma=gamma, report=lambda *_: None)
    return float((moved - start).abs().max())


def test_the_first_step_moves_a_pixel_by_the_given_gamma_up_to_the_bound():
    bound = loop.FIRST_GAMMA * loop.GRADIENT_SCALE  # 0.1 of [0, 1]
    # The largest gradient is scaled to GRADIENT_SCALE, so −γ·∇J moves that pixel by γ times it.
    assert _first_move(2.0) == pytest.approx(2.0 * loop.GRADIENT_SCALE)
    # A γ swung high by one pair (224 at 256 px, lion + the_scream) moves no pixel past the bound.
    assert _first_move(224.0) == pytest.approx(bound)
    # Without a γ, the bound's own length: not torch's first step, which barely moves a pixel.
    assert _first_move(None) == pytest.approx(bound)
