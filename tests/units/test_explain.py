"""explain-style: Gram energy and channel correlations, checked against direct computations."""

from __future__ import annotations

import pytest
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


def test_with_a_reference_the_channels_the_photos_lack_come_first(vgg, style_path):
    """Ranked by s·log(s/r), each channel's term in the divergence of the painting's shares s
    from the reference's r: a channel the reference lacks rises above stronger common ones."""
    style = load_image(style_path, long_side=96)
    with torch.no_grad():
        f = vgg(style, ["relu3_1"])["relu3_1"][0].flatten(1).double()
    share = (f * f).sum(1) / (f * f).sum()
    plain = style_components(vgg, style, ["relu3_1"], top=6, pairs=0)[0]
    rare = plain.channels[3].unit  # fourth by share: rare in the reference, it comes first
    reference = share.clone()
    reference[rare] = share[rare] / 50
    reference /= reference.sum()
    found = style_components(
        vgg, style, ["relu3_1"], top=6, pairs=0, reference={"relu3_1": reference.numpy()}
    )[0]
    assert found.channels[0].unit == rare
    expected_ratio = float(share[rare] / reference[rare])
    assert found.channels[0].ratio == pytest.approx(expected_ratio, rel=1e-4)
    term = share * torch.log(share.clamp_min(1e-6) / reference.clamp_min(1e-6))
    assert [c.unit for c in found.channels] == term.topk(6).indices.tolist()
    assert [c.energy for c in found.channels] == pytest.approx(share[term.topk(6).indices].tolist())
