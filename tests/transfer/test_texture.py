"""Texture steps (config.Preset): a finer scale's first steps minimise the style of VGG's first
two blocks only, and a job resumed in or after them ends where the whole run ends."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

import stylegram
from stylegram import StyleConfig, stylize
from stylegram.transfer import objective, tiling
from stylegram.transfer.objective import AFTER_TEXTURE_CONTENT, TEXTURE_STRIDE
from stylegram.transfer.plan import plan, work_done
from stylegram.transfer.schedule import schedule
from stylegram.transfer.stylize import Resume
from stylegram.vgg import VGG

# Two scales, 64 and 128 px; the 128-px one starts with the preset's texture steps.
JOB = dict(size=128, scales=2, iterations=16, seed=0)


def test_the_schedule_gives_texture_steps_to_the_scales_upsampled_from_another():
    normal = schedule(StyleConfig(size=512), (400, 300), min_side=32)
    assert normal[0].texture == 0 and normal[-1].texture > 0
    assert all(scale.texture < scale.iterations for scale in normal)  # full steps end each scale
    prints = schedule(StyleConfig(size=2048), (400, 300), min_side=32)
    assert [s.texture for s in prints[2:]] == [normal[-1].texture] * 3  # 512, 1024, 2048 px
    assert schedule(StyleConfig(size=512, scales=1), (400, 300), min_side=32)[0].texture == 0
    given = schedule(
        StyleConfig(size=512, iterations=2 * sum(s.iterations for s in normal)), (400, 300), 32
    )
    assert [s.texture for s in given] == [2 * s.texture for s in normal]  # in proportion
    assert all(s.texture == 0 for s in schedule(StyleConfig(photorealistic=True), (400, 300), 32))


@pytest.mark.parametrize("precision, share", [("bf16", 0.25), ("fp32", 0.32)])
def test_texture_steps_cost_their_precisions_share_in_the_estimate_of_work_done(
    content_path, precision, share
):
    """What a texture step saves depends on the precision (plan.TEXTURE_COST, measured): in
    fp32 the first blocks' memory-bound work weighs more, and bf16's share made the time left
    err short there."""
    plans = plan(content_path, StyleConfig(**JOB, precision=precision))
    first, last = plans
    assert last.texture > 0
    one_texture = work_done(plans, first.steps + 1) - work_done(plans, first.steps)
    one_full = work_done(plans, first.steps + last.steps) - work_done(
        plans, first.steps + last.steps - 1
    )
    assert one_texture == pytest.approx(one_full * share)


def test_texture_steps_run_the_first_two_blocks_without_the_content(
    vgg, small_content, small_style, monkeypatch
):
    asked: list[set[str]] = []
    forward = VGG.forward

    def spy(self, rgb, layers):
        asked.append(set(layers))
        return forward(self, rgb, layers)

    monkeypatch.setattr(VGG, "forward", spy)
    alphas: list[float] = []  # α of each run of the loop: the 64-px scale's, then the 128-px one's
    whole_j = objective.objective

    def spy_objective(network, targets, weights, tiles, extra_terms=None):
        alphas.append(weights.content)
        return whole_j(network, targets, weights, tiles, extra_terms)

    monkeypatch.setattr(objective, "objective", spy_objective)
    events = []
    stylize(small_content, [small_style], StyleConfig(**JOB), callback=events.append, model=vgg)
    texture = plan(small_content, StyleConfig(**JOB))[1].texture
    finer = [e for e in events if e.scale == 1]
    assert [e.losses["content"] == 0 for e in finer] == [True] * texture + [False] * (
        len(finer) - texture
    )
    shallow = [a for a in asked if all(vgg.info[n].stride <= TEXTURE_STRIDE for n in a)]
    assert len(shallow) == texture and all(a == {"relu1_1", "relu2_1"} for a in shallow)
    assert alphas == [1.0, 0.0, AFTER_TEXTURE_CONTENT]  # the full steps after them weigh it more
    # They draw the shallow layers' style: its cost falls over them (to 0.45 of the first in
    # bf16 and 0.54 in fp32 at the 4th of 4 here, though without a line search a step may
    # overshoot: the 3rd one's cost is 5-10 times the first's).
    assert min(e.losses["style"] for e in finer[1:texture]) < 0.75 * finer[0].losses["style"]


@pytest.mark.parametrize("into", [2, 0, -1], ids=["in them", "after the last", "after a full one"])
def test_a_job_resumed_in_or_after_its_texture_steps_ends_as_the_whole_run(
    vgg, small_content, small_style, into
):
    config = StyleConfig(**JOB)
    first, last = plan(small_content, config)
    events = []
    whole = stylize(small_content, [small_style], config, callback=events.append, model=vgg)
    step = first.steps + (last.texture + 1 if into == -1 else into or last.texture)
    at = events[step - 1]
    assert at.scale == 1
    resumed = stylize(
        small_content,
        [small_style],
        config,
        model=vgg,
        resume=Resume(1, step, at.image, at.optimizer),
    )
    np.testing.assert_array_equal(np.asarray(resumed), np.asarray(whole))


def test_texture_steps_move_no_pixel_by_more_than_their_cap(vgg, content_path):
    """A short job whose last texture step overshot: uncapped, it moved pixels by 4.1 and
    handed the full steps an image in −4.5…4.5 (J 3000 times the texture steps' last)."""
    config = StyleConfig(size=128, scales=2, iterations=12, seed=0)
    texture = plan(content_path, config)[1].texture
    events = []
    starry = Path(stylegram.__file__).parent / "data" / "starry_night.jpg"
    stylize(content_path, [starry], config, callback=events.append, model=vgg)
    steps = [e.image for e in events if e.scale == 1][:texture]
    moves = [float((b - a).abs().max()) for a, b in itertools.pairwise(steps)]
    assert max(moves) <= objective.TEXTURE_MAX_MOVE + 1e-6
    assert float(steps[-1].abs().max()) < 2


def test_a_tiled_scales_texture_steps_read_only_their_layers_halo(
    vgg, small_content, small_style, monkeypatch
):
    """At 4096 px a texture step's tiles carried relu5_1's halo (80 px) around 624-px cores,
    twice the cores' pixels, for layers that see 4 px beyond them."""
    runs: list[list] = []  # [α, the widest halo of its tiles] of each loop's run
    real_objective, real_grown = objective.objective, objective.grown

    def spy(network, targets, weights, cores, extra_terms=None):
        run = [weights.content, 0]
        runs.append(run)
        evaluate = real_objective(network, targets, weights, cores, extra_terms)

        def spied(image):
            def grown(core, halo, w, h):
                run[1] = max(run[1], halo)
                return real_grown(core, halo, w, h)

            with monkeypatch.context() as m:
                m.setattr(objective, "grown", grown)
                return evaluate(image)

        return spied

    monkeypatch.setattr(objective, "objective", spy)
    config = StyleConfig(**JOB, tile_size=64)
    assert [p.core for p in plan(small_content, config)] == [None, 64]
    stylize(small_content, [small_style], config, model=vgg)
    texture_halo = tiling.halo(vgg.info, ["relu1_1", "relu2_1"])
    assert texture_halo == 4
    (_, whole), (_, shallow), (_, deep) = runs
    assert (whole, shallow) == (0, texture_halo) and deep > 16


def test_a_job_without_shallow_style_layers_plans_no_texture_steps(content_path):
    """Texture steps need a style layer at stride 2 or less; without one every step is a full
    one, and the plan (its line, its time left) says so."""
    deep = plan(content_path, StyleConfig(**JOB, style_layers=("relu3_1", "relu4_1")))
    assert [p.texture for p in deep] == [0, 0]
    assert plan(content_path, StyleConfig(**JOB))[1].texture > 0
