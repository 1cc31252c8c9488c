"""Neural style transfer (Gatys et al. 2015): the progress event, the targets, and `stylize()`.

Gradient descent on the pixels of G, coarse to fine, each scale through the one loop in
loop.py. Nothing here prints or writes files: progress goes to a callback as `Iterate` events.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import cast

import torch
from PIL import Image
from torch import Tensor
from torch.nn import functional as F

from ..device import resolve_device
from ..geometry import Box, Size
from ..gram import mean_gram
from ..image import ImageLike, image_size, open_image, resize_long_side, to_pil, to_tensor
from ..vgg import VGG, network_for
from ..weights import load_vgg
from . import color, masks, objective, photoreal, segmentation, tiling
from .config import (
    StyleConfig,
    check_size,
    check_styles,
    layers_used,
    min_side,
    style_layers,
    weight,
)
from .lbfgs import learnt_gamma as lbfgs_gamma
from .lbfgs import without_history
from .loop import optimize
from .losses import style_norm
from .objective import ExtraTerms
from .plan import ScalePlan, plan, release_freed_memory
from .schedule import check_style_scale, style_long_side


@dataclass(frozen=True)
class Iterate:
    """One optimisation step, reported to the callback."""

    step: int  # 1-based, over all scales
    total_steps: int
    scale: int  # 0-based, coarsest first
    n_scales: int
    size: Size  # (W, H) of this scale
    losses: dict[str, float]  # the weighted terms (content, style, tv, ...) and their total
    image: Tensor  # the current image, (1, 3, H, W) RGB in [0, 1], detached on the CPU
    # The optimiser's state after this step (loop.optimize), to resume exactly: keep it, with the
    # image, in a `Resume`. References into the running optimiser: read, never change. A kept
    # event keeps L-BFGS's history alive; keep `dataclasses.replace(event, optimizer=None)` instead.
    optimizer: dict | None = None


Callback = Callable[[Iterate], None]


# ---------------------------------------------------------------- targets


def default_style_layer_weights(layers: Sequence[str]) -> dict[str, float]:
    """λ_l = 1: with each layer's cost relative to the style's own Gram energy (losses.style_loss),
    every layer's relative error counts the same. (jcjohnson/neural-style's λ_l = (64/n_C)²
    balanced the unnormalised costs instead, and only for some paintings.)"""
    return {name: 1.0 for name in layers}


@dataclass
class _Inputs:
    """What the user gave, opened, checked and recoloured, at full resolution."""

    content: Image.Image  # what the optimisation keeps: the photo, or its luminance
    photo: Image.Image  # the content as given, for its chroma under preserve_colors=luminance
    styles: list[Image.Image]
    sources: list[ImageLike]  # where each of `styles` came from, for messages
    blend: list[float]  # sums to 1
    style_masks: list[Tensor] | None  # one (1, 1, H, W) per style, in content pixels
    content_mask: Tensor | None
    # Where in each style image its Grams are taken, (1, 1, H, W) in its pixels (segmentation.py):
    # one per entry of `styles`; None for the whole image.
    style_regions: list[Tensor] | None = None


def _style_grams(
    network: VGG, inputs: _Inputs, long_side: int, config: StyleConfig, core: int | None, device
) -> tuple[list[dict[str, Tensor]], list[dict[str, Tensor] | None]]:
    """Target mean Grams: one blended set, or one set per style when masks say where each goes;
    and with each set the Gram energies its costs are relative to (None: the targets' own).

    A style image too large for one pass is read in the same exact tiles as the output. A
    segmented style image (`inputs.style_regions`) is read once, in those tiles, for all its
    regions: each region's Grams are the guided Grams of its part of the features.
    """
    layers = style_layers(config)
    smallest = network.min_size(layers)  # a style image keeps every style layer at least 1×1
    grams = []
    norms: list[dict[str, Tensor] | None] = []
    ratios = _share_ratios(inputs)
    # id(image) -> (style, its features, their whole Grams' energies), once per segmented image
    features: dict[int, tuple[Tensor, dict[str, Tensor], dict[str, Tensor]]] = {}
    for i, im in enumerate(inputs.styles):
        side = style_long_side(long_side, config.style_scale, im.size, smallest)
        if inputs.style_regions is None:
            style = to_tensor(resize_long_side(im, side)).to(device)
            w, h = style.shape[-1], style.shape[-2]
            cores = _cores(network, layers_used(config), w, h, core)
            grams.append(objective.mean_grams(network, style, layers, cores))
            norms.append(None)
            continue
        if id(im) not in features:
            style = to_tensor(resize_long_side(im, side)).to(device)
            w, h = style.shape[-1], style.shape[-2]
            cores = _cores(network, layers_used(config), w, h, core)
            feats = objective.tiled_features(network, style, layers, cores)
            energy = {n: style_norm(mean_gram(feats[n])[0]) for n in layers}
            features[id(im)] = style, feats, energy
        style, feats, energy = features[id(im)]
        h, w = style.shape[-2:]
        region = F.interpolate(inputs.style_regions[i], size=(h, w), mode="area").to(device)
        at = masks.at_layers(region, (0, 0, w, h), {n: network.info[n].stride for n in layers})
        # Luan et al.'s augmented style loss takes each region's Gram over the whole layer
        # (Σ over the region / n_H·n_W), so a region's Gram scales with its share of the image:
        # the output's, with the share of the photo it covers; the target's, with the share of
        # the style image. The loss compares mean Grams (an average over the region), so the
        # target is scaled by the ratio of the two shares. Then the regions' Grams add up to
        # the whole image's on both sides, and the output matches the reference as a whole too
        # (on the paper's pairs 3, 4 and 6 the style gap went from 0.255, 0.086 and 0.272 to
        # 0.172, 0.043 and 0.125; docs/benchmarks.md).
        # Departure: the shares are taken within the paired part of each image (_share_ratios),
        # so a colour only one side has does not dim the others (pair 2's clouds, half of the
        # reference and none of the photo, left its sky grey: style gap 0.52, now 0.24); the
        # paired regions add up to the reference's paired part as a whole.
        grams.append({n: ratios[i] * mean_gram(feats[n], at[n])[0] for n in layers})
        # Each region's cost is relative to the whole style image's Gram energy, not to its own
        # target's: the regions' costs are then parts of one relative error per layer, weighed
        # by their Grams' energies as in Luan et al.'s sum of the regions' absolute costs. Each
        # region relative to itself made a dark region weigh as much as a bright one: on the
        # paper's pair 3 the night city's costs outweighed the sky's, the style gap 0.179
        # (DPST 0.118); relative to the whole, 0.148, and pair 4's 0.046 became 0.024.
        norms.append(energy)
    if inputs.style_masks is None:
        return [
            {  # cast: a Tensor, not sum()'s int 0, as there is at least one style
                n: cast(Tensor, sum(b * g[n] for b, g in zip(inputs.blend, grams, strict=True)))
                for n in layers
            }
        ], [None]
    return grams, norms


def _share_ratios(inputs: _Inputs) -> list[float]:
    """Per segmented region, its share of the style image's paired part over its share of the
    photo's (both as _share counts them); [] without segmentations."""
    if inputs.style_regions is None:
        return []
    assert inputs.style_masks is not None  # the photo's regions, set with style_regions
    style = [_share(r) for r in inputs.style_regions]
    photo = [_share(m) for m in inputs.style_masks]
    return [(s / sum(style)) / (p / sum(photo)) for s, p in zip(style, photo, strict=True)]


def _share(mask: Tensor) -> float:
    """The share of an image a region covers, as mean_gram counts it (Σ mask² / pixels)."""
    return float(mask.float().pow(2).mean().clamp_min(1e-8))


def _cores(network: VGG, layers: Iterable[str], w: int, h: int, core: int | None) -> list[Box]:
    """A w×h scale's cores for evaluating `layers`: of side `core`, or the whole image."""
    if core is None or max(w, h) <= core:
        return tiling.whole(w, h)
    return tiling.cores(w, h, core, tiling.alignment(network.info, layers))


def _targets(
    network: VGG,
    content: Tensor,
    grams: list[dict[str, Tensor]],
    norms: list[dict[str, Tensor] | None],
    scaled_masks,
    config: StyleConfig,
    cores: list[Box],
) -> objective.Targets:
    """The targets of this scale: the content's features, the style Grams with the energies
    their costs are relative to, masks at each layer."""
    w, h = content.shape[-1], content.shape[-2]
    feats = objective.tiled_features(network, content, config.content_layers, cores)
    style_masks, content_mask = scaled_masks

    def at_layers(mask: Tensor, layers) -> dict[str, Tensor]:
        return masks.at_layers(mask, (0, 0, w, h), {n: network.info[n].stride for n in layers})

    regions = [
        objective.Region(g, at_layers(m, style_layers(config)) if m is not None else None, e)
        for g, m, e in zip(grams, style_masks or [None] * len(grams), norms, strict=True)
    ]
    cmasks = at_layers(content_mask, config.content_layers) if content_mask is not None else None
    photo = content if weight(config, "photo_weight") else None  # the matting Laplacian's photo
    return objective.Targets(feats, cmasks, regions, photo, _held(style_masks, photo))


def _held(style_masks: list[Tensor] | None, photo: Tensor | None) -> Tensor | None:
    """Where the photorealism term holds the output to the photo: the part no style's mask or
    segmented region paints (masks.uncovered; photoreal.photo_term's D), when there are
    masks and the term is weighted; None where every pixel is painted."""
    if style_masks is None or photo is None:
        return None
    held = masks.uncovered(style_masks)
    return held if float(held.max()) > 1e-3 else None  # not the rounding of a partition's sum


def _scaled_masks(inputs: _Inputs, size: Size, device) -> tuple[list[Tensor] | None, Tensor | None]:
    """The style and content masks at this scale's size."""

    def scale(m: Tensor) -> Tensor:
        return F.interpolate(m, size=size[::-1], mode="area").to(device)

    style = [scale(m) for m in inputs.style_masks] if inputs.style_masks is not None else None
    return style, scale(inputs.content_mask) if inputs.content_mask is not None else None


# ---------------------------------------------------------------- optimisation


def _initial_image(config: StyleConfig, content: Tensor, generator: torch.Generator) -> Tensor:
    if config.init == "content":
        return content.clone()
    if config.init == "random":
        # The seed's white noise, uniform over the pixel range.
        noise = torch.rand(content.shape, generator=generator)
        return noise.to(content.device)
    h, w = content.shape[-2:]
    im = open_image(config.init).resize((w, h))
    return to_tensor(im).to(content.device)


def _recoloured_start(config: StyleConfig) -> bool:
    """Photo to photo starts from the recoloured photo (`_photo_start`) where the run would
    start from the photo and keeps no colours of its own."""
    return config.photorealistic and config.init == "content" and config.preserve_colors == "none"


def _photo_start(inputs: _Inputs, content: Tensor, style_masks: list[Tensor] | None) -> Tensor:
    """Where photo to photo starts, at the first scale: the photo recoloured to the style's colour
    mean and covariance, region by region where masks or segmentations pair them
    (color.match_regions), then made locally affine in the photo (photoreal.affine_smooth),
    since the regions' edges need not be the photo's.

    Departure from Luan et al., who start from the photo (or from a first painting stage) and
    take 1000 iterations: colour, brightness and contrast are the bulk of a photo's look, and
    this start has them from a closed form. On the paper's pair 1 the start alone has a style
    gap of 0.063 (the photo 1, DPST's result 0.030).
    """
    targets = {id(im): to_tensor(im).to(content.device) for im in inputs.styles}
    regions = [
        (
            targets[id(im)],
            style_masks[i] if style_masks is not None else None,
            inputs.style_regions[i] if inputs.style_regions is not None else None,
            1.0 if style_masks is not None else inputs.blend[i],
        )
        for i, im in enumerate(inputs.styles)
    ]
    return photoreal.affine_smooth(color.match_regions(content, regions), content)


def _open_inputs(
    content: ImageLike, styles: list[ImageLike], config: StyleConfig, need: int
) -> _Inputs:
    """Open and check every image and mask; recolour for preserve_colors."""
    photo = open_image(content)
    check_size("content image", content, photo.size, need)
    style_ims = []
    for source in styles:
        im = open_image(source)
        check_size("style image", source, im.size, need)
        style_ims.append(im)
    blend = torch.tensor(config.style_blend or [1.0] * len(styles), dtype=torch.float64)
    mask_paths = masks.parse_style_masks(config.style_masks or (), len(styles))
    style_masks = None
    if mask_paths:
        loaded = masks.load_style_masks(mask_paths, len(styles), photo.size)
        # A style whose mask is empty paints nowhere: it has no target at all (masks.py).
        painting = [i for i, m in enumerate(loaded) if not masks.is_empty(m)]
        style_ims = [style_ims[i] for i in painting]
        styles = [styles[i] for i in painting]
        style_masks = masks.normalise_overlaps([loaded[i] for i in painting])
        blend = blend[painting]
    style_regions = None
    if config.content_seg is not None and config.style_seg is not None:
        # One region per colour the segmentations share, each with the one style image.
        pairs = segmentation.read_pairs(
            config.content_seg, config.style_seg, photo.size, style_ims[0].size
        )
        style_ims, styles = [style_ims[0]] * len(pairs), [styles[0]] * len(pairs)
        style_masks = [p.photo for p in pairs]
        style_regions = [p.style for p in pairs]
        blend = torch.ones(len(pairs), dtype=torch.float64)
    content_mask = masks.load_mask(config.content_mask, photo.size) if config.content_mask else None
    kept, style_ims = _recolour(photo, style_ims, config.preserve_colors)
    return _Inputs(
        kept,
        photo,
        style_ims,
        styles,
        (blend / blend.sum()).tolist(),
        style_masks,
        content_mask,
        style_regions,
    )


def _recolour(
    photo: Image.Image, styles: list[Image.Image], mode: str
) -> tuple[Image.Image, list[Image.Image]]:
    """The content to keep and the styles to match, per preserve_colors (Gatys et al. 2017, §5)."""
    if mode == "none":
        return photo, styles
    c = to_tensor(photo)
    if mode == "histogram":
        return photo, [to_pil(color.match_color_histogram(to_tensor(s), c)) for s in styles]
    # luminance: optimise a grey image against grey styles; the chroma comes back at the end.
    return to_pil(color.luminance(c)), [
        to_pil(color.match_luminance(to_tensor(s), c)) for s in styles
    ]


@dataclass(frozen=True)
class Resume:
    """Where an interrupted job stands: continue `scale` after `step` steps (over all scales)."""

    scale: int
    step: int
    image: Tensor  # (1, 3, H, W) at that scale's size
    optimizer: dict | None = None  # Iterate.optimizer of that step; without it L-BFGS starts anew


def stylize(
    content: ImageLike,
    styles: ImageLike | Sequence[ImageLike],
    config: StyleConfig | None = None,
    *,
    callback: Callback | None = None,
    model: VGG | None = None,
    init: Tensor | None = None,
    extra_terms: ExtraTerms | None = None,
    resume: Resume | None = None,
    gamma: float | None = None,
) -> Image.Image:
    """Paint `content` in the style of `styles`.

    Args:
        content: a path or PIL image.
        styles: one or more paths or PIL images.
        config: every setting; `StyleConfig()` by default.
        callback: called with an `Iterate` after every step.
        model: a loaded `VGG` to reuse; loaded from `config.weights` otherwise.
        init: a starting image (1, 3, H, W) in [0, 1], resized to the first scale; it
            overrides `config.init` (the video's warped previous frame, say).
        extra_terms: more weighted terms of J, added to its total; see `ExtraTerms`.
        resume: continue an interrupted job from its last saved image (see `Resume`).
        gamma: L-BFGS's curvature scale from an earlier job on a similar image (`learnt_gamma`
            of its last `Iterate.optimizer`): the length of this job's first step, as between
            scales, up to loop.FIRST_GAMMA (transfer/lbfgs.py). The video hands it from one
            frame to the next.

    Returns:
        The stylised image as an RGB PIL image, `config.size` px on its long side.
    """
    if config is not None and not isinstance(config, StyleConfig):
        raise TypeError(
            f"config must be a StyleConfig, not {type(config).__name__}"
            + (" (for a dict: StyleConfig(**settings))" if isinstance(config, dict) else "")
        )
    config = config or StyleConfig()
    styles = (
        [styles]
        if isinstance(styles, (str, bytes)) or not isinstance(styles, Sequence)
        else list(styles)
    )
    check_styles(config, len(styles))
    for source in styles:
        image_size(source)  # unreadable styles fail now, before the model loads
    plans = plan(
        content, config, infos=model.info if model is not None else None
    )  # refuse what cannot fit, now
    device = resolve_device(config.device)
    model = (model or load_vgg(config.weights, pooling=config.pooling, device=device)).to(device)
    need = min_side(config, model.info)
    inputs = _open_inputs(content, styles, config, need)
    check_style_scale(
        config,
        [im.size for im in inputs.styles],
        model.min_size(style_layers(config)),
        inputs.sources,
    )
    job = _Job(model, inputs, config, device, callback, extra_terms, gamma)
    image = job.run(plans, init, resume)
    if config.photo_smooth:  # Luan et al.'s post-process, after the optimisation as theirs is
        photo = to_tensor(
            inputs.content.resize((image.shape[-1], image.shape[-2]), Image.Resampling.LANCZOS)
        )
        image = photoreal.closed_form_smooth(image, photo)
    if config.preserve_colors == "luminance":
        photo = to_tensor(
            inputs.photo.resize((image.shape[-1], image.shape[-2]), Image.Resampling.LANCZOS)
        )
        image = color.with_chroma_of(image.cpu(), photo)
    return to_pil(image)


def _upsample(image: Tensor, content: Tensor) -> Tensor:
    """A coarser result at the content's size, with the photo's detail that it was too small to hold.

    Departure from plain coarse to fine (a bicubic upsampling): the next scale would spend its
    first steps putting the photo's fine detail back, which the content cost asks for. Adding
    the detail band of the photo, content − up(down(content)), starts it there.
    """
    h, w = content.shape[-2:]

    def up(t: Tensor) -> Tensor:
        return F.interpolate(t, size=(h, w), mode="bicubic", align_corners=False)

    down = F.interpolate(
        content, size=image.shape[-2:], mode="bilinear", antialias=True, align_corners=False
    )
    return (up(image) + content - up(down)).clamp(0, 1)


class _Job:
    """One style transfer: coarse to fine, each scale starting from the last one, upsampled."""

    def __init__(
        self,
        model: VGG,
        inputs: _Inputs,
        config: StyleConfig,
        device,
        callback,
        extra_terms,
        gamma: float | None,
    ) -> None:
        self.model, self.inputs, self.config, self.device = model, inputs, config, device
        self.callback, self.extra_terms = callback, extra_terms
        self.network, _ = network_for(model, config.precision)
        weights = (
            dict(zip(style_layers(config), config.style_layer_weights, strict=True))
            if config.style_layer_weights is not None
            else default_style_layer_weights(style_layers(config))
        )
        self.weights = objective.Weights(
            weight(config, "content_weight"),
            weight(config, "style_weight"),
            config.tv_weight,
            weights,
            weight(config, "photo_weight"),
        )
        seed = config.seed if config.seed is not None else torch.seed()
        self.generator = torch.Generator().manual_seed(seed)
        # L-BFGS's curvature scale γ at the end of the last phase, for the first step of the
        # next (transfer/lbfgs.py), which takes it up to loop.FIRST_GAMMA. J is scaled alike at
        # every scale (its first gradient's largest pixel is loop.GRADIENT_SCALE), so γ carries
        # over from one scale to the next. The first scale starts with the caller's γ, if any
        # (the loop's own without one).
        self.gamma = gamma

    def run(self, plans: list[ScalePlan], init: Tensor | None, resume: Resume | None) -> Tensor:
        image, step = init, 0
        total = sum(p.steps for p in plans)
        for k, scale in enumerate(plans):
            steps = scale.steps
            if resume is not None and k < resume.scale:
                step += steps
                continue
            if k:
                release_freed_memory()  # the last scale's tensors are freed now
            state = None
            if resume is not None and k == resume.scale:
                image, steps, state = resume.image, steps - (resume.step - step), resume.optimizer
                step = resume.step
                self.gamma = learnt_gamma(state) or self.gamma
            image = self._scale(k, scale, image, steps, step, total, len(plans), state)
            step += steps
        assert image is not None
        return image

    def _scale(
        self,
        k: int,
        scale: ScalePlan,
        image: Tensor | None,
        steps: int,
        done: int,
        total: int,
        n_scales: int,
        state: dict | None,
    ) -> Tensor:
        config, network = self.config, self.network
        w, h = scale.size
        content = to_tensor(resize_long_side(self.inputs.content, max(w, h))).to(self.device)
        cores = _cores(network, layers_used(config), w, h, scale.core)
        grams, norms = _style_grams(
            network, self.inputs, max(w, h), config, scale.core, self.device
        )
        scaled_masks = _scaled_masks(self.inputs, (w, h), self.device)
        targets = _targets(network, content, grams, norms, scaled_masks, config, cores)
        if image is None and _recoloured_start(config):
            image = _photo_start(self.inputs, content, scaled_masks[0])
        elif image is None:
            image = _initial_image(config, content, self.generator)
        elif tuple(image.shape[-2:]) != (h, w) and config.photorealistic:
            image = photoreal.guided_upsample(image.to(self.device), content)
        elif tuple(image.shape[-2:]) != (h, w):
            # warm start from the coarser scale, or the caller's image
            image = _upsample(image.to(self.device), content)
        del content  # the targets hold what J needs of it: an image-sized tensor less at the peak
        step = done

        def report(values: dict[str, float], current: Tensor, optimizer: dict) -> None:
            nonlocal step
            step += 1
            self.gamma = learnt_gamma(optimizer) or self.gamma
            # The γ the next scale (or frame) starts with, beside the optimiser's own: after an
            # uphill reset L-BFGS has none, and the run carries the one it had before, so a
            # checkpoint must keep this one to resume as the run went on.
            optimizer = {**optimizer, "gamma": self.gamma}
            if self.callback is not None:
                self.callback(
                    Iterate(
                        step,
                        total,
                        k,
                        n_scales,
                        (w, h),
                        values,
                        current.detach().cpu().clone(),
                        optimizer,
                    )
                )

        def run(
            image: Tensor,
            steps: int,
            targets: objective.Targets,
            weights: objective.Weights,
            state: dict | None,
            max_move: float | None = None,
        ) -> Tensor:
            return optimize(
                image.to(self.device),
                steps,
                objective.objective(network, targets, weights, cores, self.extra_terms),
                optimizer=config.optimizer,
                learning_rate=config.learning_rate,
                history=scale.history,
                history_dtype=torch.bfloat16 if scale.core is not None else None,
                gamma=self.gamma,
                max_move=max_move,
                state=state,
                report=report,
            )

        # The scale's texture steps first (config.Preset), those a resumed job has not taken.
        # Their optimiser's state is theirs: the full steps start their own L-BFGS history,
        # from the γ the texture steps learnt, as the next scale would.
        texture_left = scale.texture - (scale.steps - steps)
        shallow = objective.texture(network, targets, self.weights) if scale.texture else None
        if shallow is None:
            return run(image, steps, targets, self.weights, state)
        if texture_left > 0:
            # On a tiled scale, the same cores: their tiles take the halo of the texture layers
            # alone (4 px; tiling.segments), smaller than the full steps', within the plan.
            image = run(image, texture_left, *shallow, state, objective.TEXTURE_MAX_MOVE)
            steps, state = steps - texture_left, None
        elif texture_left == 0:
            state = None  # resumed after the last texture step
        return run(image, steps, targets, objective.after_texture(self.weights), state)


def learnt_gamma(optimizer: dict | None) -> float | None:
    """The curvature scale γ a run carries on from an optimiser state (`Iterate.optimizer`):
    the first step of its next scale or frame, for `stylize(gamma=...)`; None if it has none
    (Adam, or L-BFGS before it learnt one)."""
    if not optimizer:
        return None
    if "gamma" in optimizer:
        return optimizer["gamma"]
    lbfgs = optimizer.get("lbfgs")  # a checkpoint before format 4 kept only L-BFGS's own
    return lbfgs_gamma(lbfgs) if lbfgs else None


def finished_scale(optimizer: dict | None) -> dict | None:
    """What a scale's last `Iterate.optimizer` leaves the next scale (its γ, not its history,
    hundreds of MB at 2048 px): a checkpoint taken there resumes as the run went on."""
    if not optimizer or not optimizer.get("lbfgs"):
        return None
    return {**optimizer, "lbfgs": without_history(optimizer["lbfgs"])}
