"""explain-style: Gram energy and channel correlations, checked against direct computations."""

from __future__ import annotations

import torch
from torch.nn import functional as F

from stylegram.image import load_image
from stylegram.units.explain import style_components


def test_components_are_the_grams_strongest_channels_and_most_correlated_pairs(vgg, style_path):
    style = load_image(style_path, long_side=96)
    found = style_components(vgg, style, ["relu2_1", "relu4_1"], top=4, pairs=3, candidates=16)
    with torch.no_grad():
        feats = vgg(style, ["relu2_1", "relu4_1"])
    for layer in found:
        f = feats[layer.layer][0].flatten(1)  # (C, h·w)
        energy = (f * f).sum(1)
        assert [c.unit for c in layer.channels] == energy.topk(4).indices.tolist()
        # Each share is the channel's part of the Gram trace, computed here from the maps alone.
        for channel in layer.channels:
            assert abs(channel.energy - float(energy[channel.unit] / energy.sum())) < 1e-5
        strong = energy.topk(16).indices
        cos = F.cosine_similarity(f[strong][:, None], f[strong][None, :], dim=-1).triu(1)
        assert layer.pairs[0].correlation == max(p.correlation for p in layer.pairs)
        assert abs(layer.pairs[0].correlation - float(cos.max())) < 1e-4
        assert set(layer.units()) >= {layer.pairs[0].a, layer.pairs[0].b}
