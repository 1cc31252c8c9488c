"""L-BFGS as style transfer uses it: one evaluation of J per step, step length 1, no line search.

This is torch.optim.LBFGS(max_iter=1, lr=1) (and jcjohnson/neural-style's setting), written out
because constructing any torch.optim optimiser imports torch._dynamo: 1.6 s in a fresh process,
about a tenth of the default job here. The step is Nocedal & Wright's two-loop recursion (Algorithm 7.4) over the last
`history` pairs s = x_{k+1} − x_k, y = ∇J_{k+1} − ∇J_k.
"""

from __future__ import annotations

import torch
from torch import Tensor


class LBFGS:
    """The step to take from each gradient, given the gradients and steps so far."""

    def __init__(
        self,
        history: int,
        dtype: torch.dtype | None = None,
        gamma: float | None = None,
        max_move: float | None = None,
    ) -> None:
        """`dtype` stores the pairs in a narrower type (bf16 halves their memory); sums run in the
        gradient's type. `gamma`, the curvature scale γ an earlier run on a similar problem learnt
        (`learnt_gamma` of its state), makes the first step −γ·∇J instead of torch's short one.
        `max_move` clips each value's move to ±max_move."""
        self.history, self.dtype, self.max_move = history, dtype, max_move
        self.pairs: list[tuple[Tensor, Tensor, float]] = []  # (s, y, 1 / yᵀs), oldest first
        # The initial inverse Hessian is γ·I, γ = sᵀy / yᵀy of the newest pair (torch's H_diag),
        # or the γ given; None when there is neither (at the start, after a reset): I.
        self.gamma = gamma
        self.last: tuple[Tensor, Tensor] | None = None  # (∇J, step) of the previous call

    def step(self, grad: Tensor) -> Tensor:
        """The step to add to x, for the flat gradient ∇J at x."""
        if self.last is not None:
            previous_grad, s = self.last
            y = grad - previous_grad
            ys = float(y.dot(s))
            if ys > 1e-10:  # J is not convex: skip pairs with no positive curvature, as torch does
                self.pairs.append((self._keep(s), self._keep(y), 1 / ys))
                del self.pairs[: -self.history]
                self.gamma = ys / float(y.dot(y))
        if self.last is None and self.gamma is not None:
            # Departure from torch: the first step is −γ·∇J with the γ it was given, as L-BFGS's
            # second step would be after a first one. Torch's short first step, of length
            # 1/‖∇J‖₁, moved no pixel by more than 1e-4 at 512 px, and less the larger the image:
            # a whole step spent learning γ (transfer/stylize.py says where γ comes from).
            step = grad * -self.gamma
        else:
            direction = self._direction(grad) if self.last is not None else None
            if direction is None or float(grad.dot(direction)) > -1e-9:
                # The first step, or an uphill one (torch would stop moving for good): forget the
                # pairs and γ, and take a short steepest-descent step, torch's first step.
                self.pairs, self.gamma = [], None
                step = grad * -min(1.0, 1.0 / max(float(grad.abs().sum()), 1e-12))
            else:
                step = direction
        if self.max_move is not None:
            # Each value's move clipped, not the whole step shortened: at large scales the few
            # pixels that move most would shorten every other pixel's move (transfer/objective.py's
            # TEXTURE_MAX_MOVE has the figures). The pair stored next is the step taken.
            step = step.clamp(-self.max_move, self.max_move)
        self.last = (grad.clone(), step)
        return step

    def state(self) -> dict:
        """What the next step depends on, to resume it exactly: references, not copies (the
        tensors held here are never changed in place, only replaced)."""
        return {"pairs": list(self.pairs), "gamma": self.gamma, "last": self.last}

    def restore(self, state: dict, device: torch.device | str) -> None:
        """Continue from a `state()` (loaded from a file, perhaps onto another device)."""
        self.pairs = [(s.to(device), y.to(device), float(rho)) for s, y, rho in state["pairs"]][
            -self.history :
        ]
        self.gamma = learnt_gamma(state)
        self.last = None if state["last"] is None else tuple(t.to(device) for t in state["last"])

    def _keep(self, t: Tensor) -> Tensor:
        return t if self.dtype is None else t.to(self.dtype)

    def _direction(self, grad: Tensor) -> Tensor:
        """−H·∇J by the two-loop recursion."""
        q = grad.neg()
        alphas = []
        for s, y, rho in reversed(self.pairs):
            alpha = rho * float(s.to(q.dtype).dot(q))
            q.add_(y.to(q.dtype), alpha=-alpha)
            alphas.append(alpha)
        r = q.mul_(self.gamma or 1.0)
        for (s, y, rho), alpha in zip(self.pairs, reversed(alphas), strict=True):
            beta = rho * float(y.to(r.dtype).dot(r))
            r.add_(s.to(r.dtype), alpha=alpha - beta)
        return r


def learnt_gamma(state: dict) -> float | None:
    """The γ of a `LBFGS.state()` (learnt, or the one it was given), or None. Checkpoints before
    format 4 hold it under torch's name, "h_diag", with 1.0 for none."""
    if "gamma" in state:
        return None if state["gamma"] is None else float(state["gamma"])
    return float(state["h_diag"]) if state["pairs"] else None


def without_history(state: dict) -> dict:
    """A `state()` without its pairs and last step: all a later run takes from a finished one
    is γ, and the pairs are two image-sized vectors each."""
    return {"pairs": [], "gamma": learnt_gamma(state), "last": None}
