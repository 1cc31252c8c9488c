"""Progress reads well in a log file: plain lines, few of them, with step, size and losses."""

from __future__ import annotations

import io

from stylegram.cli import progress as progress_module
from stylegram.cli.progress import Progress


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_log_gets_a_line_per_scale_and_every_few_seconds(monkeypatch):
    clock = _Clock()
    monkeypatch.setattr(progress_module.time, "perf_counter", clock)
    stream = io.StringIO()  # not a terminal
    p = Progress(300, unit="step", stream=stream)
    for step in range(1, 301):
        clock.now = step * 0.1  # 30 s in all
        p.update(step, label="128×96" if step <= 100 else "256×192", values={"total": 1.0 / step})
    p.close()
    text = stream.getvalue()
    lines = text.splitlines()
    assert "\r" not in text
    # Two scale starts, one line per 5 s of 30 s, and the end: about eight lines, not 300.
    assert 5 <= len(lines) <= 10, lines
    assert lines[0].startswith("128×96: step 1/300") and any(
        line.startswith("256×192: step 101/300") for line in lines
    )
    assert lines[-1].startswith("256×192: step 300/300 (30 s)") and "total 0.00333" in lines[-1]


def test_quiet_prints_nothing():
    stream = io.StringIO()
    p = Progress(10, unit="step", quiet=True, stream=stream)
    for step in range(1, 11):
        p.update(step)
    p.close()
    assert stream.getvalue() == ""


def test_time_left_weighs_each_step_by_its_scales_pixels():
    from stylegram.transfer.plan import ScalePlan, work_done

    plans = [ScalePlan((128, 96), 80, None, 50, 0), ScalePlan((512, 384), 30, None, 50, 0)]
    # 80 cheap steps are 80·1 of 80·1 + 30·16 units of work: a seventh, not 73%.
    assert work_done(plans, 80) == 80 / (80 + 30 * 16)
    assert work_done(plans, 95) == (80 + 15 * 16) / (80 + 30 * 16)
    assert work_done(plans, 110) == 1.0


def test_a_tiled_step_costs_its_tiles_and_one_more_forward_pass():
    from stylegram.transfer.plan import ScalePlan

    whole = ScalePlan((2048, 1536), 8, None, 8, 0)
    tiled = ScalePlan((2048, 1536), 8, 784, 8, 0, halo=80)  # 3 × 2 cores, a halo on each inner side
    assert whole.step_cost() == 2048 * 1536
    assert tiled.step_cost() == 4 / 3 * (2048 + 2 * 80 * 2) * (1536 + 2 * 80)


def test_time_left_after_a_resume_comes_from_this_runs_pace(monkeypatch):
    clock = _Clock()
    monkeypatch.setattr(progress_module.time, "perf_counter", clock)
    stream = io.StringIO()
    p = Progress(
        100, unit="step", stream=stream, done_before=0.9
    )  # 90 steps done by an earlier run
    clock.now = 10.0
    p.update(95, fraction=0.95)  # 5 steps in 10 s here: 5 more take 10 s
    assert "about 10 s left" in stream.getvalue(), stream.getvalue()
