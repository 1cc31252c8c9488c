"""J(G) and ∇J(G) at one scale: in one pass for an image that fits, or exactly, tile by tile.

J(G) = α·Σ J_content,l + β·Σ_r Σ_l λ_l·J_style,rl + TV (+ any extra terms, such as the video's
temporal loss), with a region r per style mask (one region without masks).

Departure from a single pass, for images that do not fit in memory: the cores partition the
image, on the network's total stride, and the network runs in segments of a few blocks
(tiling.segments), each over the whole map the segment before gave, tile by tile, a tile being
a core plus the halo of its segment's own layers. Every feature of a core is then the feature
the whole image would give there, and the cores' features partition each layer's feature map. J
is a sum over feature positions except for the style term, a function of each layer's Gram,
which is itself a sum over positions. So:
  pass 1 (no gradients): segment by segment, each tile's core adds its part to every Gram,
    Ĝ_rl = Σ_cores N_rl / Z_rl, and its output to the next segment's input, which is kept;
  pass 2 (from the deepest segment): per tile, back-propagate ⟨∂J/∂Ĝ_rl, N_rl(core)/Z_rl⟩,
    the core's content term and the gradient at the segment's output over the core, and add
    the gradient at the tile's input to the whole input's, the gradient of the segment before.
By the chain rule the tiles' gradients add up to ∇J exactly; halo positions get the gradient that
flows to them through the core's features. A tiled step costs one more forward pass, and a halo
of 8-32 pixels a segment rather than the deepest layer's 80 (VGG19 to relu5_1): three steps of a
2048-px scale in 720-px cores took 0.82 of the time they took with one segment, of a 1024-px
scale in 256-px cores 0.62 (fp32, docs/benchmarks.md). Gradients gathered over a bf16 map are
summed in bf16 where tiles overlap, as autograd sums a bf16 network's where a map branches.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import cast

import torch
from torch import Tensor
from torch.nn import functional as F

from ..geometry import Box
from ..gram import gram_count, gram_matrix, guided_gram
from ..vgg import VGG, LayerInfo, memory_layout
from . import losses, photoreal
from .loop import Objective
from .tiling import Tile, grown, segments

# Extra weighted terms of J for the part `box` of the image (the video's temporal loss, say).
ExtraTerms = Callable[[Tensor, Box], dict[str, Tensor]]


@dataclass
class Region:
    """A part of the output with one style target: the whole image, or a style's mask."""

    grams: dict[str, Tensor]  # layer -> target mean Gram (C, C)
    masks: dict[str, Tensor] | None  # layer -> mask at that layer's full size (1, 1, h, w)
    # layer -> the Gram energy the region's cost is relative to (losses.gram_loss's `norm`);
    # None: each target's own
    norms: dict[str, Tensor] | None = None


@dataclass
class Targets:
    content: dict[str, Tensor]  # layer -> features of the content image over the whole scale
    content_masks: dict[str, Tensor] | None  # layer -> (1, 1, h, w)
    regions: list[Region]
    photo: Tensor | None = None  # the photo of the matting Laplacian, (1, 3, H, W), if weighted
    held: Tensor | None = None  # (1, 1, H, W): where no region paints, held to the photo


@dataclass(frozen=True)
class Weights:
    content: float  # α
    style: float  # β
    tv: float
    layers: dict[str, float]  # λ_l
    photo: float = 0.0  # the photorealism term's weight (transfer/photoreal.py)


def map_span(p0: int, p1: int, full: int, stride: int) -> slice:
    """Where pixels [p0, p1) of an image `full` pixels long lie in a map at `stride`: a span
    that reaches the image's end reaches the map's, which pooling floors."""
    return slice(p0 // stride, full // stride if p1 >= full else p1 // stride)


def core_slice(
    tile: Tile, stride: int, image: tuple[int, int]
) -> tuple[slice, slice, slice, slice]:
    """Where the core's features sit at a layer of this stride: (rows, cols) in the tile's
    feature map, then (rows, cols) in the whole image's; `image` is the image's (w, h) in pixels."""
    (tx0, ty0, _, _), (cx0, cy0, cx1, cy1) = tile.box, tile.core

    def span(c0: int, c1: int, t0: int, full: int) -> tuple[slice, slice]:
        whole = map_span(c0, c1, full, stride)
        return slice(whole.start - t0 // stride, whole.stop - t0 // stride), whole

    rows_tile, rows_whole = span(cy0, cy1, ty0, image[1])
    cols_tile, cols_whole = span(cx0, cx1, tx0, image[0])
    return rows_tile, cols_tile, rows_whole, cols_whole


def crop_core(features: Tensor, rows: slice, cols: slice) -> Tensor:
    """features[:, :, rows, cols] as a copy in the features' own memory layout.

    Not the slice view: the Gram of a channels-last view cut on both sides copied it twice,
    once through a transpose, and the slice's backward pass returns its gradient in the default
    layout, which the convolutions' backward passes then convert. F.pad with negative widths
    crops into a tensor of the input's layout and pads the gradient back in it: pass 2 of a
    944-px tile took 1.9–3.5 s this way against 2.9–4.7 s through the view (six runs each,
    interleaved, 2026-11-27), and a tiled 2048-px step about 17.6 s against 25 s.
    """
    h, w = features.shape[-2:]
    return F.pad(features, (-cols.start, cols.stop - w, -rows.start, rows.stop - h))


def _cores(
    network: VGG, image: Tensor, layers, cores: list[Box], inputs: list[Tensor] | None = None
):
    """(layer, the core's features, where they sit in the whole map) for every tile and layer,
    segment by segment (tiling.segments): each segment runs tile by tile on the whole map the
    one before it gave, its tiles the cores with the segment's own halo. `inputs`, if given,
    receives every segment's input (the image first), for a backward pass after this one."""
    h, w = image.shape[-2:]
    wanted = set(layers)
    if len(cores) == 1 and inputs is None:  # one pass: no whole maps between segments to keep
        for name, f in network(image, wanted).items():
            yield name, f, (slice(None), slice(None))
        return
    parts = segments(network.info, wanted)
    x: Tensor | None = image
    for k, part in enumerate(parts):
        assert x is not None  # the image, then each segment's output but the last's
        if inputs is not None:
            inputs.append(x)
        below, last = None, k == len(parts) - 1
        for core in cores:
            piece = grown(core, part.halo, w, h)
            y, feats = network.run(
                _crop_map(x, piece.box, part.stride, (w, h)), part.start, part.stop, wanted
            )
            for name, f in feats.items():
                rows_tile, cols_tile, rows_whole, cols_whole = core_slice(
                    piece, network.info[name].stride, (w, h)
                )
                yield name, crop_core(f, rows_tile, cols_tile), (rows_whole, cols_whole)
            if not last:
                stride = part.out_stride
                rows_tile, cols_tile, rows_whole, cols_whole = core_slice(piece, stride, (w, h))
                if below is None:
                    below = _whole_map(y, h // stride, w // stride)
                below[:, :, rows_whole, cols_whole] = crop_core(y, rows_tile, cols_tile)
        x = below


def _crop_map(x: Tensor, box: Box, stride: int, image: tuple[int, int]) -> Tensor:
    """A copy of the part of a whole map at `stride` under the box `box` of the image, whose
    (w, h) is `image`, in the map's memory layout: never a view, which would keep the whole map
    alive as long as the tile."""
    return _crop_view(x, box, stride, image).clone(memory_format=memory_layout(x))


def _whole_map(like: Tensor, h: int, w: int) -> Tensor:
    """Zeros of `like`'s batch, channels, dtype and memory layout, h×w."""
    shape = (like.shape[0], like.shape[1], h, w)
    return torch.empty(
        shape, dtype=like.dtype, device=like.device, memory_format=memory_layout(like)
    ).zero_()


@torch.no_grad()
def tiled_features(network: VGG, image: Tensor, layers, cores: list[Box]) -> dict[str, Tensor]:
    """The features of `image` at `layers`, assembled core by core: equal to one whole pass."""
    h, w = image.shape[-2:]
    out: dict[str, Tensor] = {}
    for name, core, where in _cores(network, image, layers, cores):
        s = network.info[name].stride
        if name not in out:
            out[name] = core.new_zeros((1, core.shape[1], h // s, w // s))
        # Built apart: mypy takes x[(a, *b)] for x[a, *b], syntax that Python 3.10 lacks.
        index = (slice(None), slice(None), *where)
        out[name][index] = core
    return out


@torch.no_grad()
def mean_grams(network: VGG, image: Tensor, layers, cores: list[Box]) -> dict[str, Tensor]:
    """Ĝ = Σ_positions a·aᵀ / (n_H·n_W) per layer, summed core by core."""
    h, w = image.shape[-2:]
    sums: dict[str, Tensor] = {}
    for name, core, _ in _cores(network, image, layers, cores):
        sums[name] = sums.get(name, 0) + gram_matrix(core)[0]
    return {
        name: g / ((h // network.info[name].stride) * (w // network.info[name].stride))
        for name, g in sums.items()
    }


def objective(
    network: VGG,
    targets: Targets,
    weights: Weights,
    cores: list[Box],
    extra_terms: ExtraTerms | None = None,
) -> Objective:
    """J at one scale as an `Objective` for the loop: one pass if there is one tile, else exact tiles."""
    if len(cores) == 1:
        return _whole(network, targets, weights, cores[0], extra_terms)
    return _tiled(network, targets, weights, cores, extra_terms)


# A texture step's style layers (config.Preset): those at strides up to this, VGG's first two
# blocks (relu1_1 and relu2_1 by default).
TEXTURE_STRIDE = 2
# The content's weight in the full steps after a scale's texture steps, times α. The texture
# steps have no content term and draw the style's fine strokes over the photo's; the full steps
# after them, fewer than a scale without them takes, pull the content back. With α as it is,
# four pairs' mean content gap rose 32 % (1.189 against 0.898); with α ×2 in every step of the
# job the coarse scales' pictures changed too, and eight pairs' mean style gap rose 16 %
# (0.0789 against 0.0682; docs/benchmarks.md).
AFTER_TEXTURE_CONTENT = 2.0
# The most a texture step moves a pixel (in [0, 1] units; each pixel's move is clipped):
# L-BFGS without a line search can overshoot, and a texture phase's last step is seen by no
# evaluation of its own. A 128-px job of 12 iterations (chelsea + starry_night) moved pixels by
# 4.1 in its last texture step, and handed its full steps an image in −4.5…4.5 with J 3000 times
# the texture steps' last; clipped, its full steps start at J 8.2 (10.4 with the whole step
# shortened instead). On the default's 512-px scale, eight pairs' texture steps moved pixels by
# at most 0.10–0.45 but one (lion + wave_crop: gaps 1.010 / 0.0519 clipped, 1.010 / 0.0521
# uncapped). Shortening the whole step, as first done, bound at print sizes: a 1024-px scale's
# first texture steps move a few pixels by 1.3–1.4, and tubingen + starry_night at 2048 px under
# 4G ended at 1.010 / 0.0871 shortened, 0.983 / 0.0645 clipped, 0.980 / 0.0653 uncapped; its
# 1024-px picture at 0.932 / 0.0640, 0.802 / 0.0730 and 0.803 / 0.0771 (docs/benchmarks.md).
TEXTURE_MAX_MOVE = 0.5


def texture(network: VGG, targets: Targets, weights: Weights) -> tuple[Targets, Weights] | None:
    """The targets and weights of a texture step: the style layers at strides up to
    TEXTURE_STRIDE and the pixel terms, without the content or any deeper layer, so that the
    network stops after its second block; None when no style layer is that shallow.

    Departure from Gatys et al., who minimise one J throughout: a scale's first steps minimise
    this part of it (plan.TEXTURE_COST of a full step's time), the steps after them the whole
    J with the content weighed AFTER_TEXTURE_CONTENT times (`after_texture`).
    """
    layers = {n: weights.layers[n] for n in texture_layers(network.info, weights.layers)}
    if not layers:
        return None
    return (
        dataclasses.replace(targets, content={}, content_masks=None),
        dataclasses.replace(weights, content=0.0, layers=layers),
    )


def texture_layers(info: dict[str, LayerInfo], style_layers: Iterable[str]) -> list[str]:
    """Of a job's style layers, those its texture steps minimise: strides up to TEXTURE_STRIDE."""
    return [n for n in style_layers if info[n].stride <= TEXTURE_STRIDE]


def after_texture(weights: Weights) -> Weights:
    """The weights of the full steps that follow a scale's texture steps."""
    return dataclasses.replace(weights, content=AFTER_TEXTURE_CONTENT * weights.content)


def _layers(targets: Targets, weights: Weights) -> set[str]:
    return set(targets.content) | set(weights.layers)


def _pixel_terms(
    image: Tensor, weights: Weights, box: Box, extra_terms: ExtraTerms | None
) -> dict[str, Tensor]:
    """The terms that need no network: smoothness, and the caller's extra terms."""
    terms = {"tv": weights.tv * losses.tv_loss(image)}
    terms.update(extra_terms(image, box) if extra_terms else {})
    return terms


def _photo_term(image: Tensor, targets: Targets, weights: Weights) -> dict[str, Tensor]:
    """The photorealism term, its gradient already in image.grad (photoreal.photo_term, in
    bands of about 2^18 pixels); nothing when it is not weighted."""
    if not weights.photo or targets.photo is None:
        return {}
    return {"photo": photoreal.photo_term(image, targets.photo, weights.photo, held=targets.held)}


def _whole(network, targets: Targets, weights: Weights, box: Box, extra_terms) -> Objective:
    def evaluate(image: Tensor) -> dict[str, Tensor]:
        feats = network(image, _layers(targets, weights))
        cmask = targets.content_masks or {}
        zero = image.new_zeros((), dtype=torch.float32)
        style = sum(
            (
                weights.layers[n]
                * losses.style_loss(
                    feats[n],
                    region.grams[n],
                    region.masks[n] if region.masks else None,
                    region.norms[n] if region.norms else None,
                )
                for region in targets.regions
                for n in weights.layers
            ),
            zero,
        )
        content = sum(
            (
                losses.content_loss(feats[n], targets.content[n], cmask.get(n))
                for n in targets.content
            ),
            zero,
        )
        terms = {
            "content": weights.content * content,
            "style": weights.style * style,
            **_pixel_terms(image, weights, box, extra_terms),
            **_photo_term(image, targets, weights),
        }
        terms["total"] = sum(terms.values(), zero)
        terms["total"].backward()
        return {k: v.detach() for k, v in terms.items()}

    return evaluate


def _tiled(network, targets: Targets, weights: Weights, cores: list[Box], extra_terms) -> Objective:
    layers = _layers(targets, weights)
    norms = {
        n: float(losses.content_norm(t)) for n, t in targets.content.items()
    }  # fixed: once, not per tile

    def evaluate(image: Tensor) -> dict[str, Tensor]:
        h, w = image.shape[-2:]
        maps = {
            n: (w // network.info[n].stride, h // network.info[n].stride) for n in layers
        }  # (w_l, h_l)
        # Pass 1: every region's Gram at every style layer, from the cores.
        inputs: list[Tensor] = []
        sums = _gram_sums(network, image.detach(), targets, weights, cores, inputs)
        style, slopes = image.new_zeros(()), {}
        for (r, n), total in sums.items():
            # The whole image's style cost from the summed Gram, by losses.gram_loss itself; its
            # gradient with respect to the unnormalised Gram N_rl is what pass 2 propagates.
            region = targets.regions[r]
            mask = region.masks[n] if region.masks else None
            count = gram_count(mask, maps[n][0] * maps[n][1])
            gram = (total / count).requires_grad_()
            norm = region.norms[n] if region.norms else None
            cost = (
                weights.style
                * weights.layers[n]
                * losses.gram_loss(gram, region.grams[n], mask, norm)
            )
            cost.backward()
            style = style + cost.detach()
            assert gram.grad is not None  # set by cost.backward(): cost is a function of gram
            slopes[r, n] = gram.grad / count  # ∂J/∂N_rl
        # Pass 2: per segment, deepest first, per tile, the core's share of ∇J.
        core_terms = _core_terms(network, targets, weights, maps, slopes, norms, image)
        content = _backward_segments(network, image, inputs, layers, cores, core_terms)
        pixel = {"tv": _tv_in_bands(image, weights.tv, TV_BAND_ROWS)}
        extra = extra_terms(image, (0, 0, w, h)) if extra_terms else {}
        if extra:
            sum(extra.values()).backward()
            pixel.update({k: v.detach() for k, v in extra.items()})
        terms = {
            "content": content,
            "style": style,
            **pixel,
            **_photo_term(image, targets, weights),
        }
        terms["total"] = cast(Tensor, sum(terms.values()))  # not the int 0: terms is not empty
        return terms

    return evaluate


# Rows of the image per band of the smoothness term on tiled scales (see `_tv_in_bands`).
TV_BAND_ROWS = 256


@torch.no_grad()
def _tv_in_bands(image: Tensor, weight: float, rows: int) -> Tensor:
    """weight·losses.tv_loss(image), its gradient added to image.grad, a band of rows at a time.

    Departure from one pass, for memory: autograd's pass over the whole image held six
    image-sized temporaries at once (0.9 GB at 4096×3072) on top of a scale planned to its
    budget, and through slices of the image its backward pass builds image-sized gradients for
    every band. So the gradient is written out: d(Σ dy²)/dx is 2·dy on the lower pixel and
    −2·dy on the upper one, and the same along rows. A band's differences reach one row into
    the next band, so the bands' sums are the whole sums: the same value and gradient.
    """
    h, w = image.shape[-2:]
    n_dy, n_dx = max(image.numel() // h * (h - 1), 1), max(image.numel() // w * (w - 1), 1)
    grad, total = _image_grad(image), image.new_zeros((), dtype=torch.float32)
    for r0 in range(0, h, rows):
        r1, r2 = min(h, r0 + rows), min(h, r0 + rows + 1)
        dy = (image[..., r0 + 1 : r2, :] - image[..., r0 : r2 - 1, :]).float()
        dx = (image[..., r0:r1, 1:] - image[..., r0:r1, :-1]).float()
        total += weight * (dy.pow(2).sum() / n_dy + dx.pow(2).sum() / n_dx)
        dy.mul_(2 * weight / n_dy)
        dx.mul_(2 * weight / n_dx)
        grad[..., r0 + 1 : r2, :] += dy
        grad[..., r0 : r2 - 1, :] -= dy
        grad[..., r0:r1, 1:] += dx
        grad[..., r0:r1, :-1] -= dx
    return total


def _region_gram(core: Tensor, mask: Tensor | None, rows: slice, cols: slice) -> Tensor:
    """A core's share of a region's unnormalised Gram: `mask` is the region's over the whole
    map, and rows, cols where the core lies in it."""
    return guided_gram(core, None if mask is None else mask[:, :, rows, cols])[0]


@torch.no_grad()
def _gram_sums(
    network, image, targets: Targets, weights: Weights, cores, inputs: list[Tensor]
) -> dict[tuple[int, str], Tensor]:
    """Pass 1: every region's unnormalised Gram at every style layer, and in `inputs` every
    segment's input for pass 2 (`_cores`)."""
    sums: dict[tuple[int, str], Tensor] = {}
    for n, core, (rows, cols) in _cores(network, image, _layers(targets, weights), cores, inputs):
        for r, region in enumerate(targets.regions if n in weights.layers else []):
            part = _region_gram(core, region.masks[n] if region.masks else None, rows, cols)
            sums[r, n] = sums.get((r, n), 0) + part
    return sums


# A core's share of J's network terms, from its tile's features: (what to back-propagate, the
# content term's value, detached).
CoreTerms = Callable[[dict[str, Tensor], Tile], tuple[Tensor, Tensor]]


def _backward_segments(
    network, image: Tensor, inputs: list[Tensor], layers: set[str], cores: list[Box], terms
) -> Tensor:
    """Pass 2: back-propagate each core's share of J into image.grad, segment by segment from
    the deepest, the gradient at each segment's input gathered over its whole map for the
    segment before; return the content term (detached). `inputs` is emptied as it goes."""
    h, w = image.shape[-2:]
    content = image.new_zeros(())
    above: Tensor | None = None  # ∂J/∂(the segment's output), over its whole map
    for part in reversed(segments(network.info, layers)):
        x = inputs.pop()
        below = _image_grad(image) if part.start == 0 else torch.zeros_like(x)
        for core in cores:
            tile = grown(core, part.halo, w, h)
            # The tile is a leaf of its own, its gradient added to the whole map's: back-
            # propagated through a slice of the map, autograd builds a map-sized gradient for
            # every tile (zeros, the tile's part, then added): 4.0 s a step against 0.1 for the
            # 70 tiles of a 4096×3072 image in 448-px cores, and a map-sized tensor more.
            pixels = _crop_map(x, tile.box, part.stride, (w, h)).requires_grad_()
            y, feats = network.run(pixels, part.start, part.stop, layers)
            surrogate, value = terms(feats, tile)
            if above is not None:  # the segments after this one, through its output's core
                rt, ct, rw, cw = core_slice(tile, part.out_stride, (w, h))
                surrogate = surrogate + (crop_core(y, rt, ct) * above[:, :, rw, cw]).sum()
            surrogate.backward()
            assert pixels.grad is not None  # set by surrogate.backward(): the tile feeds it
            _crop_view(below, tile.box, part.stride, (w, h)).add_(pixels.grad)
            content = content + value
            del pixels, y, feats, surrogate  # before the next tile's, or the next segment's map
        above = below
        del x
    return content


def _core_terms(
    network, targets: Targets, weights: Weights, maps, slopes, norms, image: Tensor
) -> CoreTerms:
    """A core's share of J's network terms from its tile's features: its content term, and
    ⟨∂J/∂N_rl, N_rl(core)⟩ for each region's Gram."""
    cmasks = targets.content_masks or {}
    size = (image.shape[-1], image.shape[-2])

    def terms(feats: dict[str, Tensor], tile: Tile) -> tuple[Tensor, Tensor]:
        surrogate = content = image.new_zeros((), dtype=torch.float32)
        for n, f in feats.items():
            rt, ct, rw, cw = core_slice(tile, network.info[n].stride, size)
            core = crop_core(f, rt, ct)
            if n in targets.content:
                mask = cmasks.get(n)
                error = losses.squared_error(
                    core,
                    targets.content[n][:, :, rw, cw],
                    None if mask is None else mask[:, :, rw, cw],
                )
                # losses.content_loss's means over the whole map: this core's share of it.
                part = weights.content * 0.5 * error / (f.shape[1] * maps[n][0] * maps[n][1])
                part = part / norms[n]
                surrogate = surrogate + part
                content = content + part.detach()
            for r, region in enumerate(targets.regions if n in weights.layers else []):
                gram = _region_gram(core, region.masks[n] if region.masks else None, rw, cw)
                surrogate = surrogate + (slopes[r, n] * gram).sum()
        return surrogate, content

    return terms


def _crop_view(x: Tensor, box: Box, stride: int, image: tuple[int, int]) -> Tensor:
    """`_crop_map`'s part of `x` as a view, to write into."""
    x0, y0, x1, y1 = box
    return x[:, :, map_span(y0, y1, image[1], stride), map_span(x0, x1, image[0], stride)]


def _image_grad(image: Tensor) -> Tensor:
    """image.grad, made zeros if nothing has written it yet: where a tiled scale's terms add the
    gradients they compute in pieces (tiles, bands) without autograd's image-sized ones."""
    if image.grad is None:
        image.grad = torch.zeros_like(image)
    return image.grad
