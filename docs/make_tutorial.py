"""Write docs/tutorial.ipynb, the lecture, from the cells below, without outputs.

    .venv/bin/python docs/make_tutorial.py

Edit the cells here, not in Jupyter: the notebook is generated, and tests/test_tutorial.py
checks that the committed file is what this script writes. Cell ids are fixed, so that the
file changes only where a cell does.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

NOTEBOOK = Path(__file__).resolve().parent / "tutorial.ipynb"

# (kind, source) in order: "md" for prose, "code" for a cell to run, "pic" for one that must
# show a picture (tagged "picture": tests/test_tutorial.py fails if one shows none).
CELLS: list[tuple[str, str]] = [
    (
        "md",
        r"""# Neural style transfer, step by step

This is the lecture stylegram started from, made runnable. It takes five steps:

1. **What the units of VGG19 learn**: the image patches that excite each unit most, as in
   Zeiler & Fergus, *Visualizing and Understanding Convolutional Networks* (2014).
2. **The content cost** $J_{content}$, computed on real activations.
3. **The Gram matrix and the style cost** $J_{style}$, on real activations.
4. **The optimisation**: gradient descent on the pixels of the generated image $G$, as in Gatys,
   Ecker & Bethge, *A Neural Algorithm of Artistic Style* (2015), with a live picture.
5. **The effect of $\alpha/\beta$ and of the style layers.**

Notation: $a^{[l]}(X)$ is the activation of layer $l$ for image $X$, an
$n_H \times n_W \times n_C$ volume ($n_C$ channels, or *units*, at $n_H \cdot n_W$ positions);
$C$ is the content photo, $S$ the style painting and $G$ the picture being made.

Every number below is checked against the library's own functions, and each place where
stylegram departs from the paper is named. The notebook runs on a CPU in a few minutes. With
`STYLEGRAM_TUTORIAL_SMALL=1` in the environment, it uses tiny images and few steps (CI runs it
that way), so the pictures are small and only lightly stylised.""",
    ),
    (
        "code",
        r"""import os
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFilter, ImageFont

import stylegram
from stylegram.image import load_image, to_pil, to_tensor

SMALL = os.environ.get("STYLEGRAM_TUTORIAL_SMALL") == "1"
SIZE = 96 if SMALL else 384  # long side of the pictures in sections 2 to 4
GRID_SIZE = 64 if SMALL else 256  # long side of each picture in section 5's grid
SCAN_SIZE = 96 if SMALL else 224  # the units' scan: images cropped to SCAN_SIZE × SCAN_SIZE
FAST = {"iterations": 6, "scales": 1} if SMALL else {}  # fewer steps for CI
DEVICE = "cpu"  # "cuda" runs sections 4 and 5 on a GPU

# The demo images that `stylegram stylize` uses when it is given none.
DATA = Path(stylegram.__file__).parent / "data"
CONTENT, STYLE = DATA / "chelsea.jpg", DATA / "starry_night.jpg"

torch.manual_seed(0)
vgg = stylegram.load_vgg(device="cpu")  # VGG19 with the original ImageNet weights, frozen
print(f"VGG19 loaded; sizes: {SIZE} px, grid {GRID_SIZE} px, scan {SCAN_SIZE} px")""",
    ),
    (
        "md",
        r"""Three small helpers for the figures: `heatmap` draws a 2-D tensor with a colour ramp (dark
is small, bright is large), `row` puts pictures side by side with a label under each, and
`table` lays them out in rows and columns.""",
    ),
    (
        "pic",
        r"""RAMP = np.array(
    [[0, 0, 4], [59, 15, 112], [140, 41, 129], [222, 73, 104], [254, 159, 109], [252, 253, 191]],
    dtype=float,
)  # dark purple to pale yellow, like matplotlib's "magma"
FONT = ImageFont.load_default(size=13)  # Pillow's own font: Latin letters only, so "alpha", not α


def heatmap(values, *, side=None, vmax=None, power=1.0):
    # A 2-D tensor as a picture. `power` < 1 brightens small values; `side` enlarges it, pixels sharp.
    v = values.detach().float().cpu().clamp_min(0).numpy() ** power
    top = (vmax**power if vmax is not None else v.max()) or 1.0
    v = np.clip(v / top, 0, 1)
    stops = np.linspace(0, 1, len(RAMP))
    rgb = np.stack([np.interp(v, stops, RAMP[:, c]) for c in range(3)], axis=-1)
    im = Image.fromarray(rgb.round().astype(np.uint8), "RGB")
    if side is not None:
        scale = side / max(im.size)
        im = im.resize((round(im.width * scale), round(im.height * scale)), Image.NEAREST)
    return im


def scaled(picture, height):
    width = round(picture.width * height / picture.height)
    return picture if picture.height == height else picture.resize((width, height))


def row(pictures, labels, height=160, gap=6):
    # PIL images side by side at one height, each with its label under it.
    pictures = [scaled(p, height) for p in pictures]
    widths = [
        max(p.width, round(FONT.getlength(t)) + 4) for p, t in zip(pictures, labels, strict=True)
    ]
    out = Image.new("RGB", (sum(widths) + gap * (len(widths) - 1), height + 20), "white")
    draw = ImageDraw.Draw(out)
    for i, (p, text) in enumerate(zip(pictures, labels, strict=True)):
        x = sum(widths[:i]) + gap * i
        out.paste(p, (x, 0))
        draw.text((x + 2, height + 3), text, fill=(20, 20, 20), font=FONT)
    return out


def table(pictures, row_labels, column_labels, height=160, gap=6):
    # pictures[r][c] at one height, a label left of each row and above each column.
    cells = [[scaled(p, height) for p in line] for line in pictures]
    widths = [max(line[c].width for line in cells) for c in range(len(column_labels))]
    left, top = max(round(FONT.getlength(t)) for t in row_labels) + 12, 20
    out = Image.new(
        "RGB", (left + sum(widths) + gap * len(widths), top + len(cells) * (height + gap)), "white"
    )
    draw = ImageDraw.Draw(out)
    for c, text in enumerate(column_labels):
        draw.text((left + sum(widths[:c]) + gap * c + 2, 2), text, fill=(20, 20, 20), font=FONT)
    for r, line in enumerate(cells):
        y = top + r * (height + gap)
        draw.text((4, y + height // 2 - 8), row_labels[r], fill=(20, 20, 20), font=FONT)
        for c, p in enumerate(line):
            out.paste(p, (left + sum(widths[:c]) + gap * c, y))
    return out


row([Image.open(CONTENT), Image.open(STYLE)], ["content C", "style S"], height=160)""",
    ),
    (
        "md",
        r"""## 1. What the units learn

A *unit* of a convolutional layer is one channel $k$: the same filter applied at every position.
Its activation $a^{[l]}_{ijk}$ at position $(i, j)$ depends only on the input pixels in its
*receptive field*, a square that grows with depth. Zeiler & Fergus asked what a unit responds
to by searching many images for the positions where it fires most and showing those patches.

`vgg.info` gives every layer's channels, stride and receptive field, so a position maps back
to its patch with no special cases:""",
    ),
    (
        "code",
        r"""# The last ReLU of each block, the layers of Zeiler & Fergus's figure.
from stylegram.units.scan import DEFAULT_LAYERS

print(f"{'layer':8} {'n_C':>4} {'stride':>6} {'receptive field':>16}")
for name in DEFAULT_LAYERS:
    info = vgg.info[name]
    print(f"{name:8} {info.channels:4} {info.stride:6} {info.receptive_field:13} px")""",
    ),
    (
        "md",
        r"""The images searched are the ones that come with stylegram: the two demo images, and in a
checkout of the repository the small public-domain and CC0 images of `tests/data` (photos,
paintings and crops of textures). That is about fifty images, not the 50,000 of ImageNet's
validation set, so the same few photos recur in the grids; the README's figure searched 200
ImageNet photos.

`stylegram units --images DIR -o OUTDIR` runs exactly this and writes the figures to files;
here we call the same functions and look at the figures. `scan` runs every image through the
network once and keeps, per unit and image, the peak activation and where it was (in a cache
folder, so that asking again for other units costs no forward pass). `Scan.top` ranks the
images per unit, at most one patch per image. Images are resized so their short side is
`SCAN_SIZE`, then centre-cropped.""",
    ),
    (
        "code",
        r"""import tempfile

from stylegram.units import list_images, scan
from stylegram.units.grids import combined_figure, display_cell, unit_grid
from stylegram.units.report import PatchCutter

folders = [DATA, Path(stylegram.__file__).resolve().parents[1] / "tests" / "data"]
images = [path for folder in folders if folder.is_dir() for path in list_images(folder)]
images = images[::3] if SMALL else images
cache = tempfile.TemporaryDirectory()  # the scan's activation cache, removed with the kernel

start = time.perf_counter()
result = scan(vgg, images, layers=DEFAULT_LAYERS, size=SCAN_SIZE, cache_dir=cache.name)
print(f"scanned {result.n_read} images in {time.perf_counter() - start:.1f} s")
cut = PatchCutter(SCAN_SIZE)  # cuts a hit's receptive field out of its scan image""",
    ),
    (
        "md",
        r"""Units 0 to 8 of each layer, each a block of its top 9 patches (the layout of Zeiler &
Fergus's figure). Patches are the exact receptive fields, so they grow with depth; grey is
padding where a field runs past the image border.""",
    ),
    (
        "pic",
        r"""units = range(9)
panels = [(layer, [cut(hits) for hits in result.top(layer, units, 9)]) for layer in DEFAULT_LAYERS]
to_pil(combined_figure(panels))""",
    ),
    (
        "md",
        r"""Read it from shallow to deep. The units of `relu1_2` (a 5-px field) respond to one colour
or a short edge at one orientation. Those of `relu2_2` (14 px) respond to corners, bars and
colour contrasts. Those of `relu3_4` (48 px) respond to textures and small patterns: in these
images, the strokes of the Starry Night, the badge and folds of a spacesuit, highlights on a
helmet. Those of `relu4_4` and `relu5_4` (116 and 252 px) respond to parts of objects and to
objects: eyes, faces, cups. Deep units see most of a scan image, so their patches are large and
often padded. (With `STYLEGRAM_TUTORIAL_SMALL=1` the scan is too small to show much of this.)

One layer in detail, a row per unit, best patch first:""",
    ),
    (
        "pic",
        r"""layer = "relu3_4"
info = vgg.info[layer]
rows = [(f"#{hits[0].unit}", cut(hits)) for hits in result.top(layer, range(6), 6)]
title = f"{layer}: receptive field {info.receptive_field} px, stride {info.stride}"
to_pil(unit_grid(rows, cell=display_cell(info.receptive_field), title=title))""",
    ),
    (
        "md",
        r"""Style transfer uses these same channels: the content cost compares them position by
position, and the style cost compares which of them fire *together*.

## 2. The content cost

The network takes RGB in $[0, 1]$ and does the preprocessing of the original Caffe release
itself: BGR channel order, values in $0 \ldots 255$, the ImageNet mean pixel subtracted. Here it
is written out and compared with `vgg.preprocess`:""",
    ),
    (
        "code",
        r"""from stylegram.vgg import CAFFE_MEAN_BGR

C = load_image(CONTENT, long_side=SIZE)  # (1, 3, H, W), RGB in [0, 1]
H, W = C.shape[-2:]
# RGB -> BGR, times 255, minus the mean pixel
caffe = C.flip(1) * 255 - torch.tensor(CAFFE_MEAN_BGR).view(1, 3, 1, 1)
assert torch.allclose(vgg.preprocess(C), caffe, atol=1e-3)
print(f"C is {W}×{H} px; the network's input ranges over [{caffe.min():.1f}, {caffe.max():.1f}]")""",
    ),
    (
        "md",
        r"""The content cost at a layer $l$ (Gatys et al. use `relu4_2`) compares the activations of
$C$ and $G$ position by position:

$$J_{content}(C, G) = \frac{1}{2} \big\lVert a^{[l]}(C) - a^{[l]}(G) \big\rVert^2
= \frac{1}{2} \sum_{i,j,k} \big(a^{[l]}_{ijk}(C) - a^{[l]}_{ijk}(G)\big)^2$$

We compute it for a few candidate pictures $G$: the photo itself, a blurred copy, a noisy copy,
the painting, and white noise.""",
    ),
    (
        "code",
        r"""def blurred(image, radius):
    return to_tensor(to_pil(image).filter(ImageFilter.GaussianBlur(radius)))


# The painting at C's size, as the paper's style cost needs.
S = to_tensor(Image.open(STYLE).convert("RGB").resize((W, H), Image.LANCZOS))
noise = torch.Generator().manual_seed(0)
candidates = {
    "the photo": C,
    "blurred": blurred(C, SIZE / 128),
    "noisy": (C + 0.1 * torch.randn(C.shape, generator=noise)).clamp(0, 1),
    "the painting": S,
    "white noise": torch.rand(C.shape, generator=noise),
}
layer = "relu4_2"
with torch.no_grad():
    a_C = vgg(C, [layer])[layer]  # (1, n_C, n_H, n_W)
    a_G = {name: vgg(G, [layer])[layer] for name, G in candidates.items()}
print("a[relu4_2](C) is n_C × n_H × n_W =", " × ".join(map(str, a_C.shape[1:])))
J_content = {name: 0.5 * (a_C - a).pow(2).sum() for name, a in a_G.items()}
for name, J in J_content.items():
    print(f"J_content(C, {name:12}) = {J:10.4g}")""",
    ),
    (
        "md",
        r"""The cost is zero for the photo, small for a blurred or noisy copy (the same scene), and
largest for the painting and for noise. Where does it come from? Per position,
$\frac{1}{2}\sum_k (a_{ijk}(C) - a_{ijk}(G))^2$, on one colour scale for the three maps:""",
    ),
    (
        "pic",
        r"""maps = {
    name: 0.5 * (a_C - a_G[name]).pow(2).sum(1)[0] for name in ("noisy", "blurred", "the painting")
}
top = max(float(m.max()) for m in maps.values())
row(
    [to_pil(C)] + [heatmap(m, side=max(W, H), vmax=top, power=0.5) for m in maps.values()],
    ["C"] + [f"error map: {name}" for name in maps],
    height=160,
)""",
    ),
    (
        "md",
        r"""**Where stylegram departs.** The library's `content_loss` is a *relative* error: the same
sum, divided by the photo's own feature energy $\lVert a^{[l]}(C) \rVert^2$ (its code writes
this as a mean over the $n_H n_W n_C$ entries divided by the mean square of $a^{[l]}(C)$, which
is the same number):

$$J^{\text{stylegram}}_{content} = \frac{\frac{1}{2}\lVert a^{[l]}(C) - a^{[l]}(G)\rVert^2}{\lVert a^{[l]}(C)\rVert^2}$$

The paper's sum grows with the number of pixels while the style cost does not, so the same
$\alpha$ would give a different picture at 256 px and at 1024 px; and the photos' feature
energies differ (1.7-fold across four photos, says the code). Divided, $\alpha$ keeps its
meaning for every photo and size. A check:""",
    ),
    (
        "code",
        r"""energy = a_C.pow(2).sum()
for name, a in a_G.items():
    library = stylegram.content_loss(a, a_C)  # (generated, target)
    assert torch.isclose(library, J_content[name] / energy, rtol=1e-4), name
    print(f"{name:12}  paper {J_content[name]:10.4g}   stylegram {library:.4f}")""",
    ),
    (
        "md",
        r"""## 3. The Gram matrix and the style cost

Style, for Gatys et al., is which features occur *together*, wherever they are. At layer $l$
the Gram matrix sums the products of every pair of channels over all positions:

$$G^{[l]}_{kk'} = \sum_{i=1}^{n_H} \sum_{j=1}^{n_W} a^{[l]}_{ijk}\, a^{[l]}_{ijk'}$$

With the activations unrolled into a matrix $A$ of $n_C$ rows and $n_H n_W$ columns, this is
$G = A A^\top$, an $n_C \times n_C$ matrix. The diagonal $G_{kk}$ is how strongly channel $k$
fires overall; $G_{kk'}$ is large when channels $k$ and $k'$ fire at the same places.""",
    ),
    (
        "code",
        r"""STYLE_LAYERS = stylegram.vgg.STYLE_LAYERS  # relu1_1 ... relu5_1, the paper's
with torch.no_grad():
    a_S = vgg(S, STYLE_LAYERS)
    a_Cs = vgg(C, STYLE_LAYERS)

a = a_S["relu1_1"][0]  # (n_C, n_H, n_W)
n_C, n_H, n_W = a.shape
A = a.reshape(n_C, n_H * n_W)  # one row per channel, one column per position
gram = A @ A.T  # (n_C, n_C)
# The library's function takes a batch: (B, C, H, W) -> (B, C, C).
library = stylegram.gram_matrix(a_S["relu1_1"])[0]
assert (gram - library).norm() / gram.norm() < 1e-5
print(f"G[relu1_1](S) is {n_C}×{n_C}; it matches stylegram.gram_matrix")""",
    ),
    (
        "md",
        r"""The Gram matrices of the painting and of the photo at `relu1_1` (64 channels) and
`relu2_1` (128), each divided by its number of positions $n_H n_W$ so that the two are
comparable. Each pair is drawn on one colour scale, square-root compressed, because a few
channels carry most of the energy.""",
    ),
    (
        "pic",
        r"""def mean_gram(features):
    return stylegram.mean_gram(features)[0]  # G / (n_H · n_W), (n_C, n_C)


pictures, labels = [], []
for layer in ("relu1_1", "relu2_1"):
    g_S, g_C = mean_gram(a_S[layer]), mean_gram(a_Cs[layer])
    top = float(max(g_S.max(), g_C.max()))
    pictures += [
        heatmap(g_S, side=256, vmax=top, power=0.5),
        heatmap(g_C, side=256, vmax=top, power=0.5),
    ]
    labels += [f"{layer}: painting", f"{layer}: photo"]
row(pictures, labels, height=256)""",
    ),
    (
        "md",
        r"""The matrices are symmetric, and bright lines cross where a channel fires strongly with
many others. The painting's matrices are brighter (its high-contrast strokes excite these
early channels more than the soft photo does), and their patterns differ: other channels are
strong and other pairs fire together. That difference is what the style cost measures.

The Gram sums over positions, so it forgets *where* things are. Cut the painting into blocks,
shuffle them, and the Gram at the shallow layers hardly changes, while the photo's Gram is far
from the painting's. At deeper layers the receptive fields straddle the cuts, and the shuffled
Gram changes more:""",
    ),
    (
        "pic",
        r"""def shuffle_blocks(image, block, seed=0):
    _, c, h, w = image.shape
    h, w = h // block * block, w // block * block
    tiles = (
        image[..., :h, :w].reshape(c, h // block, block, w // block, block).permute(1, 3, 0, 2, 4)
    )
    tiles = tiles.reshape(-1, c, block, block)
    tiles = tiles[torch.randperm(len(tiles), generator=torch.Generator().manual_seed(seed))]
    grid = tiles.reshape(h // block, w // block, c, block, block).permute(2, 0, 3, 1, 4)
    return grid.reshape(1, c, h, w)


block = SIZE // 8
S_shuffled = shuffle_blocks(S, block)
h, w = S_shuffled.shape[-2:]
with torch.no_grad():
    a_shuffled = vgg(S_shuffled, STYLE_LAYERS)
    a_S_crop = vgg(S[..., :h, :w], STYLE_LAYERS)  # the same pixels, in order
print(f"relative change of the Gram: ‖G(X) − G(S)‖_F / ‖G(S)‖_F, blocks of {block} px")
print(f"{'layer':8} {'field':>6} {'X = S shuffled':>15} {'X = the photo':>14}")
for layer in STYLE_LAYERS:
    g = mean_gram(a_S_crop[layer])
    moved = (mean_gram(a_shuffled[layer]) - g).norm() / g.norm()
    other = (mean_gram(a_Cs[layer]) - mean_gram(a_S[layer])).norm() / mean_gram(a_S[layer]).norm()
    print(f"{layer:8} {vgg.info[layer].receptive_field:4} px {moved:15.3f} {other:14.3f}")
row([to_pil(S), to_pil(S_shuffled)], ["S", "S shuffled"], height=160)""",
    ),
    (
        "md",
        r"""The style cost of one layer compares the Gram matrices of $S$ and $G$ (of the same size):

$$J^{[l]}_{style}(S, G) = \frac{1}{(2\, n_H n_W n_C)^2}
\sum_{k,k'} \big(G^{[l]}_{kk'}(S) - G^{[l]}_{kk'}(G)\big)^2
= \frac{\lVert G^{[l]}(S) - G^{[l]}(G) \rVert_F^2}{(2\, n_H n_W n_C)^2}$$

and the style cost is a weighted sum over layers, $J_{style} = \sum_l \lambda_l J^{[l]}_{style}$
(Gatys et al. take $\lambda_l = 1/5$ for each of the five layers).

**Where stylegram departs.** Its `style_loss` is again a *relative* error. `mean_gram` divides
each Gram by its own number of positions, $\hat G = G / (n_H n_W)$, so a style image of any size
(or a blend of several) supplies the target; and the squared difference is divided by the
style's Gram energy $\lVert \hat G(S) \rVert_F^2$ instead of $(2 n_C)^2$:

$$J^{[l],\,\text{stylegram}}_{style} = \frac{\lVert \hat G^{[l]}(S) - \hat G^{[l]}(G) \rVert_F^2}{\lVert \hat G^{[l]}(S) \rVert_F^2}$$

For $S$ and $G$ of the same size the $n_H n_W$ cancel, and the two differ by the factor
$(2 n_H n_W n_C)^2 / \lVert G(S) \rVert_F^2$. The table is at $G = C$, where the optimisation
starts:""",
    ),
    (
        "code",
        r"""print(f"{'layer':8} {'n_C':>4} {'n_H·n_W':>8} {'paper':>11} {'stylegram':>10}")
for layer in STYLE_LAYERS:
    _, n_C, n_H, n_W = a_S[layer].shape
    G_S, G_G = stylegram.gram_matrix(a_S[layer])[0], stylegram.gram_matrix(a_Cs[layer])[0]
    paper = (G_S - G_G).pow(2).sum() / (2 * n_H * n_W * n_C) ** 2
    # style_loss(generated features, the style's mean Gram)
    library = stylegram.style_loss(a_Cs[layer], stylegram.mean_gram(a_S[layer]))
    assert torch.isclose(library, paper * (2 * n_H * n_W * n_C) ** 2 / G_S.pow(2).sum(), rtol=1e-3)
    print(f"{layer:8} {n_C:4} {n_H * n_W:8} {paper:11.4g} {library:10.3f}")""",
    ),
    (
        "md",
        r"""The paper's per-layer costs span orders of magnitude from layer to layer, and (the code's
comments say, measured on nine paintings) 14-fold from painting to painting, so no single
$\beta$ or set of $\lambda_l$ suits them all. The relative costs are all of order one, so stylegram takes
$\lambda_l = 1$ for every layer and $\alpha = \beta = 1$ by default.

The whole objective adds a smoothness term that the 2015 paper does not have, the total
variation $TV(G)$ (the mean squared difference of neighbouring pixels, weight 2.5):

$$J(G) = \alpha\, J_{content}(C, G) + \beta \sum_l \lambda_l\, J^{[l]}_{style}(S, G) + TV(G)$$

This is exactly what `stylize` minimises. Computed here for a blurred photo as $G$, and
compared with the first step that `stylize` reports when it starts from that picture (one scale,
one step, in fp32: on CPUs and GPUs with fast bf16 the network runs in bf16 by default):""",
    ),
    (
        "code",
        r"""G = blurred(C, SIZE / 64)
S_own = load_image(STYLE, long_side=SIZE)  # stylize reads the painting at the output's long side
with torch.no_grad():
    targets = {n: stylegram.mean_gram(f) for n, f in vgg(S_own, STYLE_LAYERS).items()}
    f_G = vgg(G, [*STYLE_LAYERS, "relu4_2"])
mine = {
    "content": stylegram.content_loss(f_G["relu4_2"], a_C),
    "style": sum(stylegram.style_loss(f_G[n], targets[n]) for n in STYLE_LAYERS),
    "tv": 2.5 * stylegram.tv_loss(G),
}
mine["total"] = sum(mine.values())

reported = []
config = stylegram.StyleConfig(size=SIZE, scales=1, iterations=1, precision="fp32", device=DEVICE)
stylegram.stylize(
    CONTENT, STYLE, config, init=G, model=vgg, callback=lambda e: reported.append(e.losses)
)
for term, value in mine.items():
    assert abs(reported[0][term] - float(value)) <= 1e-3 * abs(float(value)) + 1e-6, term
    print(f"{term:8} here {float(value):.5f}   stylize {reported[0][term]:.5f}")""",
    ),
    (
        "md",
        r"""## 4. The optimisation

Gatys et al. start $G$ from white noise and minimise $J(G)$ over its pixels with L-BFGS, the
network's weights fixed; each step needs one forward and one backward pass. stylegram keeps
L-BFGS, and departs in three ways that make it fast on a CPU (the README has the details):

- it starts from the photo (`init="content"`; `init="random"` is the paper's way);
- it works **coarse to fine**: most steps at a quarter and a half of the final size, each
  scale starting from the last one upsampled;
- L-BFGS sees $J$ scaled so that its first gradient's largest pixel is 0.01, and keeps its
  curvature estimate from one scale to the next.

`stylize` never prints: it hands an event to a callback after every step (the step, the scale
and its size, the loss terms and the current image). `stylegram.live()` makes such a callback
for notebooks: a progress bar with the loss terms, and the current picture redrawn in place
every few steps. The callback below also keeps the losses.""",
    ),
    (
        "pic",
        r"""config = stylegram.StyleConfig(size=SIZE, seed=0, device=DEVICE, **FAST)
view = stylegram.live(every=5)
history = []


def callback(event):
    view(event)
    history.append((event.step, event.size, event.losses))


start = time.perf_counter()
result = stylegram.stylize(CONTENT, STYLE, config, model=vgg, callback=callback)
print(f"{len(history)} steps in {time.perf_counter() - start:.1f} s")""",
    ),
    (
        "md",
        r"""The loss terms as the optimisation went. The style cost falls most; the content cost
rises from zero, since the picture starts as the photo; and each new scale starts higher, as
the network sees, at the finer size, detail that the coarser scale could not shape:""",
    ),
    (
        "pic",
        r"""shown = sorted({0, len(history) - 1, *range(0, len(history), max(1, len(history) // 8))})
print(f"{'step':>4} {'size':>9} {'content':>8} {'style':>8} {'tv':>8} {'total':>8}")
for i in shown:
    step, (w, h), losses = history[i]
    print(
        f"{step:4} {f'{w}×{h}':>9}",
        *(f"{losses[k]:8.4f}" for k in ("content", "style", "tv", "total")),
    )
row(
    [Image.open(CONTENT), Image.open(STYLE), result],
    ["content", "style", "result"],
    height=result.height,
)""",
    ),
    (
        "md",
        r"""## 5. The effect of $\alpha/\beta$ and of the style layers

Gatys et al.'s figure 3 varies two things: the ratio $\alpha/\beta$ of content to style, and
which layers carry the style. Their ratios, $10^{-5}$ to $10^{-2}$, weigh the unnormalised costs
and do not carry over. Here $\alpha = 1$ and $\beta$ goes from $0.1$ to $10$ across the
columns; down the rows, the style is matched at `relu1_1` only, at `relu1_1` to `relu3_1`, and
at all five layers.

A caveat that follows from the relative costs: every style layer counts the same
($\lambda_l = 1$), so the style cost of five layers weighs several times that of one, and the
same $\beta$ pulls harder down the rows. stylegram's $\beta = 1$ is meant for the five layers.""",
    ),
    (
        "code",
        r"""betas = (0.1, 1.0, 10.0)
layer_sets = (STYLE_LAYERS[:1], STYLE_LAYERS[:3], STYLE_LAYERS)
quality = FAST or {"quality": "draft"}
start = time.perf_counter()
results = {}
for layers in layer_sets:
    for beta in betas:
        grid_config = stylegram.StyleConfig(
            size=GRID_SIZE, style_weight=beta, style_layers=layers, seed=0, device=DEVICE, **quality
        )
        results[layers, beta] = stylegram.stylize(CONTENT, STYLE, grid_config, model=vgg)
print(f"{len(results)} pictures in {time.perf_counter() - start:.1f} s")""",
    ),
    (
        "pic",
        r"""table(
    [[results[layers, beta] for beta in betas] for layers in layer_sets],
    [layers[0] if len(layers) == 1 else f"{layers[0]} to {layers[-1]}" for layers in layer_sets],
    [f"alpha/beta = {1 / beta:g}" for beta in betas],
    height=max(128, max(im.height for im in results.values())),
)""",
    ),
    (
        "md",
        r"""Across a row, a smaller $\alpha/\beta$ gives more of the painting and less of the photo.
Down a column, matching deeper layers brings larger structures of the painting: `relu1_1`
alone transfers colours and the finest grain (its receptive field is 3 px); with layers up to
`relu3_1` strokes appear; with all five, the swirls and larger forms of the sky, as in the
paper's figure.

The same experiments from the command line:

```sh
stylegram stylize chelsea.jpg starry_night.jpg --style-weight 10 -o more_style.png
stylegram stylize chelsea.jpg starry_night.jpg --style-layers relu1_1 relu2_1 relu3_1 -o shallow.png
```

and `stylegram explain-style starry_night.jpg --images DIR -o OUT` shows, with the patches of
section 1, which channels carry a painting's Gram energy and which pairs fire together.""",
    ),
]


def build() -> nbformat.NotebookNode:
    """The notebook, without outputs, with fixed cell ids."""
    cells = []
    for i, (kind, source) in enumerate(CELLS):
        if kind == "md":
            cells.append(new_markdown_cell(source, id=f"cell-{i:02d}"))
        else:
            tags = {"metadata": {"tags": ["picture"]}} if kind == "pic" else {}
            cells.append(new_code_cell(source, id=f"cell-{i:02d}", **tags))
    notebook = new_notebook(cells=cells)
    notebook.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    return notebook


def main() -> int:
    notebook = build()
    nbformat.validate(notebook)
    nbformat.write(notebook, NOTEBOOK)
    print(f"wrote {NOTEBOOK}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
