"""Neural style transfer (Gatys et al. 2015): the progress event, the targets, and `stylize()`.

Gradient descent on the pixels of G, coarse to fine, each scale through the one loop in
loop.py. Nothing here prints or writes files: progress goes to a callback as `Iterate` events.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from PIL import Image
from torch import Tensor
from torch.nn import functional as F

from ..geometry import Box, Size, crop
from ..image import ImageLike, open_image, resize_long_side, to_pil, to_tensor
from ..vgg import VGG, load_vgg, network_for, resolve_device
from . import color, losses, masks, tiling
from .config import StyleConfig, check_size, check_styles, layers_used
from .loop import optimize, whole_image
from .schedule import check_style_scale, schedule, style_long_side


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


Callback = Callable[[Iterate], None]
# Extra weighted terms of J for the part `box` of the image (the video's temporal loss, say).
ExtraTerms = Callable[[Tensor, Box], dict[str, Tensor]]


# ---------------------------------------------------------------- targets


def default_style_layer_weights(model: VGG, layers: Sequence[str]) -> dict[str, float]:
    """λ_l = (64 / n_C)²: the balance of jcjohnson/neural-style, whose per-layer cost is the
    seed's divided by n_C²/4; without it the 512-channel layers would outweigh relu1_1 64-fold."""
    return {name: (64 / model.info[name].channels) ** 2 for name in layers}


@dataclass
class _Inputs:
    """What the user gave, opened, checked and recoloured, at full resolution."""

    content: Image.Image  # what the optimisation keeps: the photo, or its luminance
    photo: Image.Image  # the content as given, for its chroma under preserve_colors=luminance
    styles: list[Image.Image]
    blend: list[float]  # sums to 1
    style_masks: list[Tensor] | None  # one (1, 1, H, W) per style, in content pixels
    content_mask: Tensor | None


@dataclass
class _Region:
    """A part of the output with one style target: the whole image, or a style's mask."""

    grams: dict[str, Tensor]  # layer -> target mean Gram (C, C)
    masks: dict[str, Tensor] | None  # layer -> mask at that layer's size


@dataclass
class _Targets:
    content: dict[str, Tensor]  # layer -> features of the content image
    content_masks: dict[str, Tensor] | None
    regions: list[_Region]


@torch.no_grad()
def _style_grams(model, im: Image.Image, long_side: int, layers, device, tile: int | None) -> dict[str, Tensor]:
    """Mean Grams of a style image at `long_side`; averaged over tiles when it is larger than one."""
    style = to_tensor(resize_long_side(im, long_side)).to(device)
    h, w = style.shape[-2:]
    sums: dict[str, Tensor] = {}
    count = 0
    for box in tiling.iter_tiles(w, h, tile) if tile else [(0, 0, w, h)]:
        part = crop(style, box)
        area = part.shape[-2] * part.shape[-1]
        for name, f in model(part, layers).items():
            sums[name] = sums.get(name, 0) + losses.mean_gram(f)[0] * area
        count += area
    return {name: g / count for name, g in sums.items()}


def _style_regions(model, inputs: _Inputs, long_side: int, config, device, tile) -> list[dict[str, Tensor]]:
    """Target Grams: one blended set, or one set per style when masks say where each goes."""
    layers = config.style_layers
    min_side = model.min_size(layers)
    grams = [_style_grams(model, im, style_long_side(long_side, config.style_scale, im.size, min_side), layers, device,
                          tile) for im in inputs.styles]
    if inputs.style_masks is None:
        return [{n: sum(w * g[n] for w, g in zip(inputs.blend, grams)) for n in layers}]
    return grams


@torch.no_grad()
def _targets(model, content: Tensor, box: Box, grams: list[dict[str, Tensor]], scaled_masks, config) -> _Targets:
    """The targets for the part `box` of this scale: its own content, the global style Grams."""
    feats = model(crop(content, box), config.content_layers)
    style_masks, content_mask = scaled_masks

    def strides(layers) -> dict[str, int]:
        return {n: model.info[n].stride for n in layers}

    regions = [
        _Region(g, masks.at_layers(m, box, strides(config.style_layers)) if m is not None else None)
        for g, m in zip(grams, style_masks or [None] * len(grams))
    ]
    cmasks = masks.at_layers(content_mask, box, strides(config.content_layers)) if content_mask is not None else None
    return _Targets({n: f.float() for n, f in feats.items()}, cmasks, regions)


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


def _loss_terms(model, image, targets: _Targets, config, layer_weights) -> dict[str, Tensor]:
    """The weighted terms of J(G) = α·J_content + β·Σ_l λ_l·J_style,l + TV, and their total."""
    feats = model(image, layers_used(config))
    cmask = targets.content_masks or {}
    zero = image.new_zeros((), dtype=torch.float32)
    style = sum(
        (layer_weights[n] * losses.style_loss(feats[n], region.grams[n], region.masks[n] if region.masks else None)
         for region in targets.regions for n in config.style_layers),
        zero,
    )
    content = sum((losses.content_loss(feats[n], targets.content[n], cmask.get(n)) for n in config.content_layers),
                  zero)
    terms = {
        "content": config.content_weight * content,
        "style": config.style_weight * style,
        "tv": config.tv_weight * losses.tv_loss(image),
    }
    terms["total"] = terms["content"] + terms["style"] + terms["tv"]
    return terms


def _open_inputs(content: ImageLike, styles: list[ImageLike], config: StyleConfig, need: int) -> _Inputs:
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
        style_masks = masks.normalise_overlaps([masks.load_mask(mask_paths[i], photo.size) for i in range(len(styles))])
    content_mask = masks.load_mask(config.content_mask, photo.size) if config.content_mask else None
    kept, style_ims = _recolour(photo, style_ims, config.preserve_colors)
    return _Inputs(kept, photo, style_ims, (blend / blend.sum()).tolist(), style_masks, content_mask)


def _recolour(photo: Image.Image, styles: list[Image.Image], mode: str) -> tuple[Image.Image, list[Image.Image]]:
    """The content to keep and the styles to match, per preserve_colors (Gatys et al. 2017, §5)."""
    if mode == "none":
        return photo, styles
    c = to_tensor(photo)
    if mode == "histogram":
        return photo, [to_pil(color.match_color_histogram(to_tensor(s), c)) for s in styles]
    # luminance: optimise a grey image against grey styles; the chroma comes back at the end.
    return to_pil(color.luminance(c)), [to_pil(color.match_luminance(to_tensor(s), c)) for s in styles]


def stylize(
    content: ImageLike,
    styles: ImageLike | Sequence[ImageLike],
    config: StyleConfig | None = None,
    *,
    callback: Callback | None = None,
    model: VGG | None = None,
    init: Tensor | None = None,
    extra_terms: ExtraTerms | None = None,
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

    Returns:
        The stylised image as an RGB PIL image, `config.size` px on its long side.
    """
    config = config or StyleConfig()
    styles = [styles] if isinstance(styles, (str, bytes)) or not isinstance(styles, Sequence) else list(styles)
    check_styles(config, len(styles))
    device = resolve_device(config.device)
    model = (model or load_vgg(config.weights, pooling=config.pooling, device=device)).to(device)
    need = 2 * model.min_size(layers_used(config))
    inputs = _open_inputs(content, styles, config, need)
    check_style_scale(config, [im.size for im in inputs.styles], model.min_size(config.style_layers), styles)
    image = _run_schedule(model, inputs, config, device, need, callback, init, extra_terms)
    if config.preserve_colors == "luminance":
        photo = to_tensor(inputs.photo.resize((image.shape[-1], image.shape[-2]), Image.LANCZOS))
        image = color.with_chroma_of(image.cpu(), photo)
    return to_pil(image)


def _style_layer_weights(model: VGG, config: StyleConfig) -> dict[str, float]:
    if config.style_layer_weights is not None:
        return dict(zip(config.style_layers, config.style_layer_weights))
    return default_style_layer_weights(model, config.style_layers)


def _run_schedule(model, inputs: _Inputs, config: StyleConfig, device, need: int, callback,
                  init: Tensor | None, extra_terms: ExtraTerms | None) -> Tensor:
    """Optimise coarse to fine; each scale starts from the last one, upsampled."""
    layer_weights = _style_layer_weights(model, config)
    generator = torch.Generator().manual_seed(config.seed if config.seed is not None else torch.seed())
    network, precision = network_for(model, config.precision)
    plan = schedule(config, inputs.content.size, need)
    total_steps, step, image = sum(it for _, it in plan), 0, init
    for k, (long_side, iters) in enumerate(plan):
        content = to_tensor(resize_long_side(inputs.content, long_side)).to(device)
        h, w = content.shape[-2:]
        tile = tiling.choose_tile(w, h, precision, config.tile_size, need)
        grams = _style_regions(network, inputs, long_side, config, device, tile)
        masks_here = _scaled_masks(inputs, (w, h), device)
        if image is None:
            image = _initial_image(config, content, generator)
        else:  # warm start from the coarser scale, or from the caller's image
            image = F.interpolate(image.to(device), size=(h, w), mode="bicubic", align_corners=False).clamp(0, 1)

        whole = (0, 0, w, h)
        fixed = _targets(network, content, whole, grams, masks_here, config) if tile is None else None

        def terms_of(x: Tensor, box: Box, content=content, grams=grams, masks_here=masks_here,
                     fixed=fixed) -> dict[str, Tensor]:
            targets = fixed or _targets(network, content, box, grams, masks_here, config)
            terms = _loss_terms(network, x, targets, config, layer_weights)
            for name, value in (extra_terms(x, box) if extra_terms else {}).items():
                terms[name] = value
                terms["total"] = terms["total"] + value
            return terms

        def report(values: dict[str, float], current: Tensor, k=k, size=(w, h)) -> None:
            nonlocal step
            step += 1
            if callback is not None:
                callback(Iterate(step, total_steps, k, len(plan), size, values, current.detach().cpu().clone()))

        if tile is None:
            objective, optimizer = whole_image(lambda x: terms_of(x, whole)), config.optimizer
        else:
            # Departure: shifting tiles change J every evaluation, which L-BFGS's curvature
            # model does not tolerate; tiled scales take Adam steps.
            objective, optimizer = tiling.tiled(terms_of, tile, generator), "adam"
        image = optimize(image, iters, objective, optimizer=optimizer, learning_rate=config.learning_rate,
                         report=report)
    assert image is not None
    return image
