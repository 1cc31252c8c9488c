"""stylegram's L-BFGS against torch.optim.LBFGS(max_iter=1), the optimiser it replaces."""

from __future__ import annotations

import pytest
import torch

from stylegram.transfer.lbfgs import LBFGS, learnt_gamma


def _rosenbrock(x: torch.Tensor) -> torch.Tensor:
    return ((1 - x[:-1]) ** 2 + 100 * (x[1:] - x[:-1] ** 2) ** 2).sum()


def _grad(x: torch.Tensor) -> torch.Tensor:
    x = x.detach().requires_grad_(True)
    _rosenbrock(x).backward()
    return x.grad


def test_same_iterates_as_torch_lbfgs_with_one_evaluation_per_step():
    start = torch.tensor([-1.2, 1.0, -0.5, 0.8], dtype=torch.float64) * 0.3
    theirs = start.clone().requires_grad_(True)
    torch_opt = torch.optim.LBFGS([theirs], lr=1.0, max_iter=1, history_size=5)

    def closure():
        torch_opt.zero_grad()
        loss = _rosenbrock(theirs)
        loss.backward()
        return loss

    ours, lbfgs = start.clone(), LBFGS(history=5)
    for _ in range(25):
        torch_opt.step(closure)
        ours += lbfgs.step(_grad(ours))
        torch.testing.assert_close(
            ours, theirs.detach(), rtol=1e-6, atol=1e-9
        )  # rounding order only
    assert _rosenbrock(ours) < 0.5 * _rosenbrock(start)


def test_a_quadratic_is_solved_in_a_few_times_as_many_steps_as_dimensions():
    a = torch.diag(torch.tensor([1.0, 3.0, 10.0, 30.0], dtype=torch.float64))
    x, lbfgs = torch.ones(4, dtype=torch.float64), LBFGS(history=10)
    for _ in range(12):
        x += lbfgs.step(a @ x)
    assert float(x.norm()) < 1e-4  # from 2: no line search, so not exactly in 4 steps


def test_history_in_bf16_still_descends():
    a = torch.diag(torch.linspace(1, 20, 64))
    x, lbfgs = torch.ones(64), LBFGS(history=5, dtype=torch.bfloat16)
    start = float(x @ a @ x)
    for _ in range(30):
        x += lbfgs.step(a @ x)
    assert float(x @ a @ x) < 1e-3 * start
    assert all(s.dtype == torch.bfloat16 for s, _, _ in lbfgs.pairs)


def test_a_given_gamma_makes_the_first_step_a_full_one():
    # Many variables, as in an image: torch's first step, of length 1/‖∇J‖₁, then barely moves.
    d = torch.linspace(1, 3, 100_000, dtype=torch.float64)

    def cost(x):
        return float((d * x * x).sum() / 2)

    x = torch.ones_like(d)
    assert cost(x + LBFGS(history=10).step(d * x)) > 0.999 * cost(x)
    learnt, y = LBFGS(history=10), torch.full_like(d, -0.5)  # another run on the same problem
    for _ in range(5):
        y += learnt.step(d * y)
    gamma = learnt_gamma(learnt.state())
    first = LBFGS(history=10, gamma=gamma).step(d * x)
    torch.testing.assert_close(first, -gamma * d * x)
    assert cost(x + first) < 0.5 * cost(x)


def test_max_move_clips_each_value_and_remembers_the_step_taken():
    x = torch.linspace(-1, 1, 50) ** 3
    lbfgs = LBFGS(5, gamma=10.0, max_move=0.1)
    step = lbfgs.step(x)  # −γ·∇J would move the last value by 10
    assert float(step.abs().max()) == pytest.approx(0.1)
    small = (10 * x).abs() < 0.1  # values the cap does not reach move in full, not shortened
    assert 0 < int(small.sum()) < 50 and torch.equal(step[small], -10 * x[small])
    assert lbfgs.last is not None and torch.equal(lbfgs.last[1], step)
