"""The one optimisation loop: steps on the pixels of an image, each reported to a callback.

Every scale of every job runs through `optimize`, whole or tiled. They differ only in their
`Objective`, the function that evaluates J at the image: it leaves ∇J in ``image.grad`` and
returns the weighted loss terms. The loop never prints and never writes a file.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import torch
from torch import Tensor

from .lbfgs import LBFGS

Optimizer = Literal["lbfgs", "adam"]
# J's weighted terms (content, style, tv, ..., total), detached; ∇J has been added to image.grad.
Objective = Callable[[Tensor], dict[str, Tensor]]
# After each step: the terms, the image, and the optimiser's state (see `optimize`).
Report = Callable[[dict[str, float], Tensor, dict], None]

# The optimiser sees J scaled so that its first gradient's largest pixel is this (see below).
GRADIENT_SCALE = 0.01
# The curvature scale γ of a run's first L-BFGS step, −γ·∇J, at most; and γ itself where the
# run is given none (a job's first scale). With the gradient scaled as above, that step moves no
# pixel by more than 0.1 of [0, 1].
# Departure from torch, whose first step moves pixels by under 1e-4 (a step spent learning γ),
# and from carrying a γ over unbounded: γ is sᵀy / yᵀy of one pair and swings with it (0.15
# to 276 over one 128-px scale of lion + the_scream), and a phase's first step took whatever
# the last phase ended with. Texture steps started from a full phase's 224 at 256 px, their
# style cost went 0.26 → 36.6 → 0.22; full steps started from a texture phase's 124 at 512 px
# (tubingen + starry_night). On the 36-pair grid (bf16, seed 0, the schedule of 2026-12-05) the
# medians went from 0.7556 / 0.0652 to 0.7451 / 0.0642, the means from 0.7951 / 0.0702 to
# 0.7805 / 0.0649 (docs/benchmarks.md, "each phase's first step bounded").
FIRST_GAMMA = 10.0


def optimize(
    image: Tensor,
    steps: int,
    objective: Objective,
    *,
    optimizer: Optimizer = "lbfgs",
    learning_rate: float = 0.02,
    history: int = 50,
    history_dtype: torch.dtype | None = None,
    gamma: float | None = None,
    max_move: float | None = None,
    state: dict | None = None,
    report: Report,
) -> Tensor:
    """Run `steps` optimiser steps on the pixels of `image` and return the result.

    `history` is L-BFGS's number of remembered steps: each costs two image-sized vectors, kept
    in `history_dtype` (default: the image's). `gamma`, an earlier run's L-BFGS curvature scale
    (lbfgs.learnt_gamma of its state), sets the length of the first step, up to FIRST_GAMMA,
    which a run without one takes (transfer/lbfgs.py).
    `max_move` clips each pixel's move in an L-BFGS step to ±max_move.

    After each step `report` gets the optimiser's state: L-BFGS's pairs and the gradient's scale,
    as references that stay valid (nothing in them is changed in place). Passing such a state
    back as `state`, with the image of that step, continues exactly as the run would have.
    Adam's moments are not part of it: resumed, Adam starts them anew.

    Raises ValueError if J stops being finite.
    """
    image = image.detach().contiguous().requires_grad_(True)  # L-BFGS views the gradient flat
    adam = torch.optim.Adam([image], lr=learning_rate) if optimizer == "adam" else None
    first = FIRST_GAMMA if gamma is None else min(gamma, FIRST_GAMMA)
    lbfgs = LBFGS(history, history_dtype, first, max_move)
    scale: float | None = None
    if state is not None:
        scale = state["grad_scale"]
        if state.get("lbfgs") is not None and adam is None:
            lbfgs.restore(state["lbfgs"], image.device)
    for step in range(steps):
        image.grad = None
        terms = objective(image)
        assert image.grad is not None, "the objective must leave ∇J in image.grad"
        if scale is None:
            # The optimiser sees J scaled so that the first gradient's largest pixel is
            # GRADIENT_SCALE.
            # Until L-BFGS holds a pair (it skips those with yᵀs ≤ 0: J is not convex), its
            # step is -∇J itself: unscaled, that moved pixels by 1e4 at 128 px here. The
            # picture is unchanged: the scale is fixed for the whole run of this size.
            scale = GRADIENT_SCALE / max(float(image.grad.abs().max()), 1e-12)
        values = {k: float(v) for k, v in terms.items()}
        if not math.isfinite(values["total"]):
            advice = "a smaller learning rate" if optimizer == "adam" else "the Adam optimizer"
            raise ValueError(
                f"the optimisation diverged at step {step + 1} (loss {values['total']});"
                f" try smaller weights or {advice}"
            )
        with torch.no_grad():
            image.grad.mul_(scale)
            if adam is not None:
                adam.step()
                image.clamp_(
                    0, 1
                )  # Adam's small steps tolerate projection; L-BFGS's model does not
            else:
                image.view(-1).add_(lbfgs.step(image.grad.view(-1)))
        report(
            values, image, {"grad_scale": scale, "lbfgs": lbfgs.state() if adam is None else None}
        )
    return image.detach()
