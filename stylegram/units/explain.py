"""What a style is made of: the Gram matrix of a style image read as channels and pairs.

Gatys et al. describe style as "which high-level texture components (channels) tend to occur
or not occur together". For each style layer, `style_components` finds the channels with the
most energy on the Gram diagonal (G_kk, how much of the painting a texture covers) and the
most correlated pairs (G_kk' / √(G_kk·G_k'k'), the cosine of two channel maps: textures that
appear in the same places). `write_style_report` shows each such channel beside its
top-activating patches from a folder of photos, so the abstract channel gets a face.
"""

from __future__ import annotations

import contextlib
import fnmatch
import html
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..gram import mean_gram
from ..image import save_image, text_image, write_text_atomic
from ..vgg import VGG, check_layers
from .grids import display_cell, resize_cell, stack, unit_grid
from .report import PatchCutter, hit_record, listed_figures, remove_figures
from .scan import Hit, crop_patch


@dataclass(frozen=True)
class Channel:
    """A channel of a style layer, its share of the painting's Gram trace and, when there is a
    reference set, its mean share in the reference's images."""

    unit: int
    energy: float  # G_kk / trace(G)
    reference: float | None = None  # the same share, averaged over the reference images

    @property
    def ratio(self) -> float | None:
        """How many times the reference's share the painting gives this channel."""
        return None if self.reference is None else self.energy / max(self.reference, FLOOR)

    @property
    def particular(self) -> float:
        """What ranks the channels: with a reference, the channel's term s·log(s/r) in the
        Kullback-Leibler divergence of the painting's shares s from the reference's r (large for
        a channel that carries much of the painting and little of the photos); else its share."""
        if self.reference is None:
            return self.energy
        return self.energy * math.log(max(self.energy, FLOOR) / max(self.reference, FLOOR))


FLOOR = (
    1e-6  # shares below this count as this: a channel silent in every photo is not infinitely rare
)


@dataclass(frozen=True)
class Pair:
    """Two channels that fire in the same places of the style image."""

    a: int
    b: int
    correlation: float  # cosine of the two channel maps, in [0, 1] after ReLU


@dataclass(frozen=True)
class StyleLayer:
    layer: str
    channels: list[Channel]  # most energy first
    pairs: list[Pair]  # most correlated first
    boxes: dict[
        int, tuple[int, int, int, int]
    ]  # per channel shown, its peak's receptive field in the style image

    def units(self) -> list[int]:
        """Every channel shown: the strong ones, then the others in pairs."""
        return list(self.boxes)


def energy_shares(diagonal: Tensor) -> Tensor:
    """Each channel's share of the Gram trace, G_kk / Σ G_jj, from the diagonal (C,)."""
    return diagonal / diagonal.sum().clamp(min=1e-12)


def feature_shares(features: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Per layer of `features` (one image's, as VGG returns them), each channel's share of its
    Gram energy (the atlas's painting lists)."""
    return {
        layer: energy_shares(f[0].float().flatten(1).square().sum(1))
        for layer, f in features.items()
    }


@torch.inference_mode()
def style_components(
    vgg: VGG,
    style: Tensor,
    layers: Sequence[str],
    *,
    top: int = 6,
    pairs: int = 6,
    candidates: int = 32,
    reference: Mapping[str, np.ndarray] | None = None,
    features: Mapping[str, Tensor] | None = None,
) -> list[StyleLayer]:
    """The most particular channels and most correlated pairs of `style`'s Gram matrix per layer.

    Args:
        vgg: the extractor.
        style: the style image, (1, 3, H, W) in [0, 1].
        layers: style layers, e.g. relu1_1 ... relu5_1.
        top: channels to report per layer, by energy.
        pairs: pairs to report per layer, by correlation.
        candidates: pairs are sought among this many highest-energy channels, so that two
            nearly silent channels cannot top the list with a chance alignment.
        reference: per layer, each channel's mean share of the Gram trace over a reference set
            (`Scan.shares(layer).mean`): channels are then ranked by `Channel.particular`, what
            the painting has and the reference lacks; without one, by their share alone.
        features: `style`'s activations at `layers`, if the caller has them already.
    """
    check_layers(layers, vgg.arch)
    if features is None:
        features = vgg(style, layers)
    out = []
    for layer in layers:
        f = features[layer].float()  # (1, C, h, w)
        gram = mean_gram(f)[0]  # (C, C)
        energy = gram.diagonal()
        share = energy_shares(energy)
        order = share.argsort(descending=True).tolist()
        ref = reference.get(layer) if reference else None
        every = [
            Channel(u, float(share[u]), None if ref is None else float(ref[u]))
            for u in range(len(share))
        ]
        channels = sorted(every, key=lambda c: (-c.particular, c.unit))[:top]
        pool = torch.tensor(order[:candidates])
        norm = energy[pool].sqrt().clamp(min=1e-12)
        corr = gram[pool][:, pool] / norm[:, None] / norm[None, :]  # (K, K) cosine of channel maps
        corr = corr.triu(diagonal=1)
        best = corr.flatten().topk(min(pairs, corr.numel())).indices.tolist()
        k = len(pool)
        found = [Pair(int(pool[i // k]), int(pool[i % k]), float(corr.flatten()[i])) for i in best]
        found = [p for p in found if p.correlation > 0]
        shown = list(
            dict.fromkeys([c.unit for c in channels] + [u for p in found for u in (p.a, p.b)])
        )
        peaks = f[0].flatten(1).argmax(dim=1)  # (C,) flat position of each channel's peak
        width = f.shape[-1]
        boxes = {
            u: vgg.info[layer].box(int(peaks[u]) % width, int(peaks[u]) // width) for u in shown
        }
        out.append(StyleLayer(layer, channels, found, boxes))
    return out


def channel_label(c: Channel) -> str:
    """``#12 3.1%``, and with a reference ``#12 3.1% x8.2``: its share, times the photos'
    (an ASCII x: the figures' font has no ×)."""
    label = f"#{c.unit} {100 * c.energy:.1f}%"
    return label if c.ratio is None else f"{label} x{c.ratio:.1f}"


def _pair_row(
    style_a: Tensor, style_b: Tensor, hits_a: Sequence[Tensor], hits_b: Sequence[Tensor], cell: int
) -> Tensor:
    """[style patch a | a's photos]  [style patch b | b's photos] in one row."""
    half = [
        stack(
            [
                resize_cell(s, cell),
                stack([resize_cell(p, cell) for p in hits] or [s], dim=-1, gap=1),
            ],
            dim=-1,
            gap=6,
        )
        for s, hits in ((style_a, hits_a), (style_b, hits_b))
    ]
    return stack(half, dim=-1, gap=24)


def layer_figure(
    found: StyleLayer,
    style: Tensor,
    hits: Mapping[int, Sequence[Hit]],
    cut: PatchCutter,
    receptive_field: int,
) -> Tensor:
    """The strong channels (style patch, then photo patches) and the correlated pairs."""
    cell = display_cell(receptive_field, smallest=48, largest=96)
    style_patch = {u: crop_patch(style, box) for u, box in found.boxes.items()}
    rows = [(channel_label(c), [style_patch[c.unit]] + cut(hits[c.unit])) for c in found.channels]
    particular = any(c.reference is not None for c in found.channels)
    strong = unit_grid(
        rows,
        cell=cell,
        title=f"{found.layer}: "
        + (
            "channels particular to the painting (share of its Gram energy, x times the photos' share)"
            if particular
            else "strongest channels (share of Gram energy)"
        )
        + "; first patch from the painting, then photos",
    )
    parts = [strong]
    if found.pairs:
        parts.append(
            text_image(
                f"{found.layer}: channels that fire together (cosine); each: painting, then photos",
                height=24,
                font_size=15,
            )
        )
        for p in found.pairs:
            label = text_image(
                f"#{p.a}+#{p.b} {p.correlation:.2f}", height=cell, width=120, font_size=13
            )
            row = _pair_row(
                style_patch[p.a], style_patch[p.b], cut(hits[p.a][:4]), cut(hits[p.b][:4]), cell
            )
            parts.append(stack([label, row], dim=-1))
    return stack(parts, dim=-2, gap=4)


# Every name the report writes in its folder (cli/files.py declares them).
REPORT_NAMES = ("explain_*.png", "style.jpg", "explain.json", "index.html")


def write_style_report(
    outdir: str | os.PathLike,
    style_path: str,
    style: Tensor,
    found: Sequence[StyleLayer],
    hits: Mapping[str, Mapping[int, Sequence[Hit]]],
    cut: PatchCutter,
    vgg: VGG,
) -> list[Path]:
    """Write ``explain_<layer>.png`` per layer, ``explain.json`` and ``index.html``.

    Args:
        outdir: an existing directory.
        style_path: the style image's file name, for the page.
        style: the style image as analysed, (1, 3, H, W).
        found: from `style_components`.
        hits: per layer, per channel, the top hits from the photo folder.
        cut: cuts patches out of the scanned photos.
        vgg: the extractor, for the layer geometry.
    """
    outdir = Path(outdir)
    before = listed_figures(
        outdir / "explain.json", lambda data: [f"explain_{e['layer']}.png" for e in data["layers"]]
    )
    written = []
    for layer in found:
        figure = layer_figure(
            layer, style, hits[layer.layer], cut, vgg.info[layer.layer].receptive_field
        )
        written.append(save_image(figure, outdir / f"explain_{layer.layer}.png"))
    save_image(style, outdir / "style.jpg")
    data = {
        "style": str(style_path),
        "size": list(style.shape[-2:][::-1]),
        "layers": [
            {
                **asdict(layer),
                "boxes": {str(u): b for u, b in layer.boxes.items()},
                "hits": {
                    str(u): [hit_record(h) for h in hs] for u, hs in hits[layer.layer].items()
                },
            }
            for layer in found
        ],
    }
    written.append(write_text_atomic(json.dumps(data, indent=1), outdir / "explain.json"))
    written.append(write_text_atomic(_page(style_path, found), outdir / "index.html"))
    remove_figures(outdir, before - {f"explain_{layer.layer}.png" for layer in found}, REPORT_NAMES)
    return written


def _page(style_path: str, found: Sequence[StyleLayer]) -> str:
    parts = [
        "<!doctype html><meta charset='utf-8'><title>stylegram explain-style</title>",
        "<style>body{font-family:sans-serif;margin:2em;max-width:1400px} img{max-width:100%}</style>",
        f"<h1>What makes the style of {html.escape(Path(style_path).name)}</h1>",
        "<img src='style.jpg' style='max-height:300px' alt='style image'>",
        "<p>Style, in Gatys et al.'s words, is \"which high-level texture components (channels) tend to "
        'occur or not occur together". Per style layer: the channels particular to the painting, those '
        "that carry much more of its Gram energy than of the photos' (ranked by each one's term "
        "s·log(s/r) of the divergence between the painting's shares s and the photos' r), each shown "
        "by its patch in the painting and its top patches among the photos; then the pairs of "
        "channels whose maps overlap most. Numbers: <a href='explain.json'>explain.json</a>.</p>",
    ]
    for layer in found:
        parts.append(
            f"<h2 id='{layer.layer}'>{layer.layer}</h2>"
            f"<img src='explain_{layer.layer}.png' alt='{layer.layer}'>"
        )
    return "\n".join(parts) + "\n"


def prune_views(root: Path, keep: set[str]) -> None:
    """In `root`, a folder of explain-style views (units --styles: OUTDIR/styles/NAME/), remove
    the views not in `keep` (paintings gone from --styles): only the files `write_style_report`
    writes, then each folder if that empties it."""
    if not root.is_dir() or root.is_symlink():
        return
    for folder in root.iterdir():
        if folder.name in keep or not folder.is_dir() or folder.is_symlink():
            continue
        for path in folder.iterdir():
            if path.is_file() and any(fnmatch.fnmatchcase(path.name, p) for p in REPORT_NAMES):
                with contextlib.suppress(OSError):
                    path.unlink()
        with contextlib.suppress(OSError):
            folder.rmdir()
