"""Outputs of any size: exact tiles (the same J and ∇J as one pass), and the memory plan."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from stylegram import StyleConfig, stylize, winograd
from stylegram.image import to_tensor
from stylegram.transfer import losses, masks, objective, plan, tiling
from stylegram.transfer.stylize import default_style_layer_weights
from stylegram.vgg import CONTENT_LAYERS, STYLE_LAYERS, network_for

LAYERS = set(CONTENT_LAYERS) | set(STYLE_LAYERS)


def test_cores_partition_the_image_on_the_stride_and_halos_stay_inside():
    w, h = 410, 300
    covered = torch.zeros(h, w, dtype=torch.int32)
    for core in tiling.cores(w, h, 128, 16):
        x0, y0, x1, y1 = core
        covered[y0:y1, x0:x1] += 1
        assert x0 % 16 == 0 and y0 % 16 == 0
        tile = tiling.grown(core, 32, w, h)
        assert tile.core == core and tile.box == (
            max(0, x0 - 32),
            max(0, y0 - 32),
            min(w, x1 + 32),
            min(h, y1 + 32),
        )
    assert bool((covered == 1).all())
    with pytest.raises(ValueError, match="not a multiple of the network's stride 16"):
        tiling.cores(w, h, 100, 16)


def test_segments_cut_after_pools_2_to_4_with_their_own_layers_halos(vgg):
    """Each segment's halo is its 3×3 convolutions' reach (s px each at stride s), rounded up to
    its output's stride: together far less than relu5_1's 70 px each side (80 rounded)."""
    parts = tiling.segments(vgg.info, LAYERS)
    names = list(vgg.info)
    assert [names[p.stop - 1] for p in parts] == ["pool2", "pool3", "pool4", "relu5_1"]
    assert [(p.stride, p.halo) for p in parts] == [(1, 8), (4, 16), (8, 32), (16, 16)]
    assert tiling.halo(vgg.info, LAYERS) == 32  # the widest, block 4's
    (texture,) = tiling.segments(vgg.info, ["relu1_1", "relu2_1"])
    assert names[texture.stop - 1] == "relu2_1" and texture.halo == 4  # 1 + 1 + 2 px, stride 2
    # Whole maps, in values per pixel: after pass 1, the inputs of blocks 3, 4 and 5 (128/16 +
    # 256/64 + 512/256); most while pass 2 is back in block 3: its input and the gradients at
    # its input and output.
    assert tiling.kept_values(vgg.info, LAYERS) == 8 + 8 + 4 > 8 + 4 + 2
    assert tiling.kept_values(vgg.info, ["relu2_1"]) == 0


def _short_halo(monkeypatch, k: int) -> None:
    """Segment k's halo one step of its output's stride short (objective's segments only)."""
    real = tiling.segments

    def short(infos, layers):
        parts = real(infos, layers)
        parts[k] = dataclasses.replace(parts[k], halo=parts[k].halo - parts[k].out_stride)
        return parts

    monkeypatch.setattr(objective, "segments", short)


def _evaluate(network, image, targets, weights, tiles, reached: list | None = None):
    """J and ∇J at `image`; `reached` collects the gradients autograd itself brings the image."""
    x = image.clone().requires_grad_(True)
    if reached is not None:
        x.register_hook(lambda g: reached.append(tuple(g.shape)))
    terms = objective.objective(network, targets, weights, tiles)(x)
    return float(terms["total"]), x.grad


@pytest.fixture(scope="module")
def problem(vgg, small_content, small_style):
    """A 256-px scale: the content, its targets and weights, and an image half way to the style."""
    content = to_tensor(small_content.resize((256, 170)))
    style = to_tensor(small_style.resize((256, 203)))
    image = 0.6 * content + 0.4 * torch.rand(
        content.shape, generator=torch.Generator().manual_seed(0)
    )
    weights = objective.Weights(1.0, 1.0, 2.5, default_style_layer_weights(STYLE_LAYERS))
    return content, style, image, weights


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_tiled_j_and_gradient_equal_one_pass(vgg, problem, precision, monkeypatch):
    content, style, image, weights = problem
    network, _ = network_for(vgg, precision)
    whole = tiling.whole(256, 170)
    targets = objective.Targets(
        objective.tiled_features(network, content, CONTENT_LAYERS, whole),
        None,
        [
            objective.Region(
                objective.mean_grams(network, style, STYLE_LAYERS, tiling.whole(256, 203)), None
            )
        ],
    )
    j, grad = _evaluate(network, image, targets, weights, whole)
    # bf16 is emulated, slowly, on CPUs without it, where this test was the suite's longest
    # (121 s): there, two tiles and one seam; in fp32, four tiles and the halo's check.
    core, count = (128, 4) if precision == "fp32" else (192, 2)
    tiles = tiling.cores(256, 170, core, 16)
    assert len(tiles) == count
    reached: list = []
    j_tiled, grad_tiled = _evaluate(network, image, targets, weights, tiles, reached)
    assert j_tiled == pytest.approx(j, rel=0.005)
    assert float((grad_tiled - grad).norm() / grad.norm()) < 0.01
    # Each tile's gradient is added to the image's, not back-propagated through a slice of it,
    # where autograd builds an image-sized gradient per tile (objective._backward_tile).
    assert reached == []
    if precision == "bf16":  # the halo's check below is geometry, the same in either precision
        return
    # Every segment's halo is needed: one a step short lets its tiles' own borders in.
    for k in range(4):
        _short_halo(monkeypatch, k)
        _, grad_bad = _evaluate(network, image, targets, weights, tiles)
        assert float((grad_bad - grad).norm() / grad.norm()) > 0.01, k


def test_texture_steps_tiled_with_their_own_halo_equal_one_pass(vgg, problem, monkeypatch):
    """Texture steps (objective.texture) on a tiled scale read only 4 px around each core."""
    _, style, image, weights = problem
    shallow = ["relu1_1", "relu2_1"]
    targets = objective.Targets(
        {},
        None,
        [objective.Region(objective.mean_grams(vgg, style, shallow, tiling.whole(256, 203)), None)],
    )
    weights = dataclasses.replace(
        weights, content=0.0, layers={n: weights.layers[n] for n in shallow}
    )
    j, grad = _evaluate(vgg, image, targets, weights, tiling.whole(256, 170))
    j_tiled, grad_tiled = _evaluate(vgg, image, targets, weights, tiling.cores(256, 170, 64, 2))
    assert j_tiled == pytest.approx(j, rel=1e-4)
    assert float((grad_tiled - grad).norm() / grad.norm()) < 1e-3
    _short_halo(monkeypatch, 0)  # one segment, to relu2_1: 4 px, here 2
    _, grad_bad = _evaluate(vgg, image, targets, weights, tiling.cores(256, 170, 64, 2))
    assert float((grad_bad - grad).norm() / grad.norm()) > 1e-3


def test_tiled_equals_one_pass_with_style_and_content_masks(vgg, problem):
    """Issue 27: the tiled path's masked weighting (the guided Gram's normaliser, the mask's
    share) was written by hand beside the losses' and only the unmasked case was tested. With
    the photorealism term too (issue 26), which both paths take from the whole image in bands."""
    content, style, image, weights = problem
    weights = dataclasses.replace(weights, photo=1000.0)
    w, h = 256, 170
    ramp = (
        torch.linspace(0, 1, w).expand(1, 1, h, w).contiguous()
    )  # style 0 on the right, style 1 on the left
    strides = {n: vgg.info[n].stride for n in LAYERS}

    def layer_masks(m, layers):
        return {n: v for n, v in masks.at_layers(m, (0, 0, w, h), strides).items() if n in layers}

    painting = objective.mean_grams(vgg, style, STYLE_LAYERS, tiling.whole(256, 203))
    flipped = objective.mean_grams(
        vgg, style.flip(-1).roll(40, -2), STYLE_LAYERS, tiling.whole(256, 203)
    )
    targets = objective.Targets(
        objective.tiled_features(vgg, content, CONTENT_LAYERS, tiling.whole(w, h)),
        layer_masks(0.2 + 0.8 * ramp, CONTENT_LAYERS),
        [
            objective.Region(painting, layer_masks(ramp, STYLE_LAYERS)),
            # relative to another Gram energy than its target's, as a segmented region's is
            objective.Region(
                flipped,
                layer_masks((1 - ramp) ** 2, STYLE_LAYERS),
                {n: 3 * losses.style_norm(painting[n]) for n in STYLE_LAYERS},
            ),
        ],
        photo=content,
    )
    j, grad = _evaluate(vgg, image, targets, weights, tiling.whole(w, h))
    without = dataclasses.replace(weights, photo=0.0)
    assert j > _evaluate(vgg, image, targets, without, tiling.whole(w, h))[0]
    tiles = tiling.cores(w, h, 128, 16)
    j_tiled, grad_tiled = _evaluate(vgg, image, targets, weights, tiles)
    assert len(tiles) == 4 and j_tiled == pytest.approx(j, rel=1e-4)
    assert float((grad_tiled - grad).norm() / grad.norm()) < 1e-3


@pytest.mark.parametrize("rows", [1, 7, 170])
def test_the_smoothness_term_in_bands_equals_one_pass(problem, rows):
    image = problem[2]
    x = image.clone().requires_grad_(True)
    (2.5 * losses.tv_loss(x)).backward()
    y = image.clone().requires_grad_(True)
    value = objective._tv_in_bands(y, 2.5, rows)
    assert float(value) == pytest.approx(float(2.5 * losses.tv_loss(image)), rel=1e-5)
    torch.testing.assert_close(y.grad, x.grad, rtol=1e-5, atol=1e-9)


def test_tiled_content_targets_and_style_grams_equal_one_pass(vgg, problem):
    content, style, _, _ = problem
    tiles = tiling.cores(256, 170, 64, 16)
    one = objective.tiled_features(vgg, content, ["relu4_2"], tiling.whole(256, 170))["relu4_2"]
    many = objective.tiled_features(vgg, content, ["relu4_2"], tiles)["relu4_2"]
    torch.testing.assert_close(many, one, rtol=1e-4, atol=1e-3)
    g1 = objective.mean_grams(vgg, style, STYLE_LAYERS, tiling.whole(256, 203))
    gt = objective.mean_grams(vgg, style, STYLE_LAYERS, tiling.cores(256, 203, 64, 16))
    for n in STYLE_LAYERS:
        torch.testing.assert_close(gt[n], g1[n], rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_segments_hand_on_maps_in_the_networks_own_memory_layout(vgg, problem, precision):
    """The whole maps between segments and their tiles' crops are laid out as the network lays
    out its maps (channels-last in the bf16 copy), so no convolution has to convert them."""
    content, _, _, _ = problem
    network, _ = network_for(vgg, precision)
    channels_last = []
    run = network.run

    def spy(x, start, stop, wanted):
        if start > 0:
            channels_last.append(
                x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()
            )
        return run(x, start, stop, wanted)

    network.run = spy  # type: ignore[method-assign]
    objective.tiled_features(network, content, STYLE_LAYERS, tiling.cores(256, 170, 64, 16))
    assert len(channels_last) > 3 and set(channels_last) == {precision == "bf16"}


def test_a_tiled_run_gives_the_picture_of_a_whole_run(vgg, small_content, small_style):
    events = []
    config = StyleConfig(size=192, scales=1, iterations=12, seed=0, precision="fp32")
    whole = stylize(small_content, [small_style], config, model=vgg)
    tiled = stylize(
        small_content,
        [small_style],
        StyleConfig(**{**config.__dict__, "tile_size": 64}),
        model=vgg,
        callback=events.append,
    )
    assert tiled.size == (192, 128)
    assert (
        events[-1].losses["total"] < 0.6 * events[0].losses["total"]
    )  # L-BFGS, as on whole scales
    # The same J and ∇J give the same L-BFGS path: no seams, no over-stylised tiles.
    assert float((to_tensor(tiled) - to_tensor(whole)).abs().mean()) < 0.01


def test_the_plan_tiles_only_what_does_not_fit_and_refuses_what_never_fits(vgg):
    sizes = [((1024, 768), 60, 0), ((2048, 1536), 30, 0), ((4096, 3072), 10, 0)]
    plans = plan.plan_job(sizes, vgg.info, LAYERS, precision="bf16", max_memory=6 * 2**30)
    assert plans[0].core is None and plans[0].history == 50
    assert plans[-1].core is not None and plans[-1].core % 16 == 0
    assert all(p.peak <= 6 * 2**30 for p in plans)
    with pytest.raises(
        ValueError,
        match=r"needs at least .* GB even in the smallest tiles, and the budget is 1.0 GB",
    ):
        plan.plan_job([((8192, 6144), 10, 0)], vgg.info, LAYERS, precision="bf16", max_memory=2**30)


def _nnpack_takes(use: str, monkeypatch) -> None:
    """NNPACK runs here or not, and OpenMP's threads sleep ("all") or spin ("large"), as
    winograd.nnpack_use reads them."""
    monkeypatch.setattr(winograd, "available", lambda: use != "none")
    if use == "all":
        monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")
    else:
        monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)


@pytest.mark.parametrize("nnpack", ["all", "large", "none"])
def test_nnpacks_kernels_count_against_an_fp32_cpu_jobs_memory(vgg, nnpack, monkeypatch):
    """fp32 on a CPU by NNPACK keeps the transformed kernels of every layer it has run: a budget
    that holds a scale whole without them tiles it with them. bf16 and GPUs keep none."""
    scale = [((1024, 768), 20, 0)]
    _nnpack_takes("none", monkeypatch)
    (whole,) = plan.plan_job(scale, vgg.info, LAYERS, precision="fp32", max_memory=None)
    _nnpack_takes(nnpack, monkeypatch)
    held = plan.Held("fp32", None, vgg.info, LAYERS)
    big = held.bytes((1024, 1024)) - plan.BASELINE
    assert (big > 0) == (nnpack != "none")
    for elsewhere in (
        plan.Held("bf16", None, vgg.info, LAYERS),
        plan.Held("fp32", torch.device("cuda"), vgg.info, LAYERS),
    ):
        assert elsewhere.bytes((1024, 1024)) == plan.BASELINE
    budget = whole.peak + big // 2
    (fitted,) = plan.plan_job(scale, vgg.info, LAYERS, precision="fp32", max_memory=budget)
    assert (fitted.core is not None) == (nnpack != "none") and fitted.peak <= budget


def test_the_plan_counts_the_kernels_of_the_layers_nnpack_runs_at_the_largest_input(
    vgg, monkeypatch
):
    """Where OpenMP's threads spin NNPACK takes maps of 128×96 and more (winograd): a 512-px
    input brings blocks 1 to 3 to it (a 128-px one conv1_2 alone), a 1024-px tile conv4 too; and
    the kernels stay held at the smaller inputs after."""
    _nnpack_takes("large", monkeypatch)
    held = plan.Held("fp32", None, vgg.info, LAYERS)
    blocks_1_to_3 = 64 * 64 + 64 * 128 + 128 * 128 + 128 * 256 + 3 * 256 * 256  # conv1_1: RGB
    conv4 = 256 * 512 + 3 * 512 * 512
    assert held.bytes((128, 128)) == plan.BASELINE + plan.NNPACK_PAIR_BYTES * 64 * 64
    assert held.bytes((512, 512)) == plan.BASELINE + plan.NNPACK_PAIR_BYTES * blocks_1_to_3
    held.keep((1024, 1024))
    assert held.bytes((128, 128)) == plan.BASELINE + plan.NNPACK_PAIR_BYTES * (
        blocks_1_to_3 + conv4
    )
    # A whole 1024-px scale runs conv4 by NNPACK; its kernels stay held in the 2048-px scale's
    # tiles after it, which alone would not (816-px cores, 880-px tiles: conv4 at 110×110), and
    # leave its tiles less.
    scales = [((1024, 768), 11, 6), ((2048, 1536), 11, 6)]
    kwargs = dict(precision="fp32", max_memory=6 * 2**30, texture_layers=["relu1_1", "relu2_1"])
    whole, after = plan.plan_job(scales, vgg.info, LAYERS, **kwargs)
    (alone,) = plan.plan_job(scales[1:], vgg.info, LAYERS, **kwargs)
    assert whole.core is None and alone.tile == 880 and after.core < alone.core
    # the window: the long side, square (a portrait style image), or a tile of it
    assert held.window((512, 341), None) == (512, 512)
    assert held.window((4096, 3072), 688) == (688, 688)
    assert plan.Held("fp32", None, vgg.info, LAYERS, 2.0).window((512, 341), None) == (1024, 1024)


def test_the_history_is_capped_by_a_scales_longest_run_not_its_steps(vgg):
    """A scale's texture steps and full steps are two runs of L-BFGS: 13 steps, 8 of them
    texture steps, never hold more than 8 pairs; the memory a longer history was given is
    the tiles' instead (a 4096-px print at 6G in bf16: 720-px cores, not 496)."""
    halo, texture_halo = tiling.halo(vgg.info, LAYERS), tiling.halo(vgg.info, ["relu2_1"])
    kwargs = dict(budget=6 * 2**30, precision="bf16", halo=halo, align=16)
    two_runs = plan.plan_scale((4096, 3072), 13, texture=8, texture_halo=texture_halo, **kwargs)
    one_run = plan.plan_scale((4096, 3072), 13, **kwargs)
    assert two_runs is not None and one_run is not None
    assert (two_runs.history, one_run.history) == (8, 13)
    assert two_runs.core > one_run.core and two_runs.peak <= 6 * 2**30
    assert two_runs.step_cost() < one_run.step_cost()  # fewer halo pixels
    # A texture step's tiles carry their own halo: it costs TEXTURE_COST of a step through its
    # cores alone (and pass 1), not of one through relu5_1's halos (2.0 times the pixels here).
    assert (two_runs.halo, two_runs.texture_halo) == (halo, 4)
    pixels = 4096 * 3072
    assert two_runs.step_cost(texture=True) == pytest.approx(
        plan.TEXTURE_COST["bf16"] * 4 / 3 * pixels, rel=0.05
    )


@pytest.mark.parametrize(
    "text, expected",
    [
        ("6G", 6 * 2**30),
        ("512M", 512 * 2**20),
        ("1.5GB", int(1.5 * 2**30)),
        ("4GiB", 4 * 2**30),
        ("1000", 1000),
    ],
)
def test_memory_sizes_parse(text, expected):
    assert plan.parse_memory(text) == expected


@pytest.mark.parametrize("text", ["", "six", "6X", "-1G", "0"])
def test_bad_memory_sizes_are_refused(text):
    with pytest.raises(ValueError):
        StyleConfig(max_memory=text)


def test_a_job_that_cannot_fit_is_refused_before_any_work(small_content, small_style, monkeypatch):
    import importlib

    module = importlib.import_module("stylegram.transfer.stylize")

    monkeypatch.setattr(module, "load_vgg", lambda *a, **k: pytest.fail("the model was loaded"))
    with pytest.raises(ValueError, match="choose a smaller --size or a larger --max-memory"):
        stylize(small_content, [small_style], StyleConfig(size=20000, max_memory="1G"))
