"""The VGG feature extractor: named layers, preprocessing, layer geometry (its weights are read
by `stylegram.weights`).

`weights.load_vgg()` returns a frozen `VGG` whose forward pass takes RGB floats in [0, 1] and
returns a ``dict[str, Tensor]`` keyed by layer names such as ``relu4_2``. It stops after the
deepest requested layer. `VGG.info[name]` describes every layer: channels, stride and
receptive field, enough to map an activation position back to a box of input pixels.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, cast

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .device import precision_on
from .geometry import Box, Precision, Resolved
from .packed import available as packed_available
from .packed import conv3x3 as packed_conv3x3
from .packed import pack
from .packed import suits as packed_suits
from .winograd import Kernels, NnpackUse, conv3x3, nnpack_use, transposed
from .winograd import available as winograd_available
from .winograd import suits as winograd_suits

Arch = Literal["vgg16", "vgg19"]
Pooling = Literal["max", "avg"]
Preprocessing = Literal["caffe", "torchvision"]

# Convolutions per block; the channel count doubles per block up to 512.
_BLOCKS: dict[str, tuple[int, ...]] = {"vgg16": (2, 2, 3, 3, 3), "vgg19": (2, 2, 4, 4, 4)}
_CHANNELS = (64, 128, 256, 512, 512)

# Caffe preprocessing of the original VGG release: BGR order, 0-255, mean pixel subtracted.
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
# torchvision's retrained weights expect RGB in [0, 1], normalised by ImageNet mean and std.
TORCHVISION_MEAN = (0.485, 0.456, 0.406)
TORCHVISION_STD = (0.229, 0.224, 0.225)

# The layers of Gatys et al. 2015: content at relu4_2, style at the first ReLU of each block.
# Style transfer, its quality measure and explain-style all start from these.
CONTENT_LAYERS = ("relu4_2",)
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")


@dataclass(frozen=True)
class LayerInfo:
    """Geometry of one layer's output, in input pixels.

    The unit at feature position ``i`` sees input pixels whose centre is
    ``offset + i * stride``, over a window of ``receptive_field`` pixels.
    """

    name: str
    kind: Literal["conv", "relu", "pool"]
    channels: int
    stride: int
    receptive_field: int
    offset: float

    def check_unit(self, unit: int) -> None:
        """ValueError unless `unit` is one of this layer's channels: the one range rule for units."""
        if not 0 <= unit < self.channels:
            raise ValueError(
                f"unit {unit} is out of range for {self.name}, which has {self.channels} channels"
                f" (0-{self.channels - 1})"
            )

    def box(self, x: int, y: int) -> Box:
        """The receptive field of feature position (x, y) (column, row) as a `Box` of input pixels.

        It may extend past the image border; callers pad or clip as they need.
        """
        half = (self.receptive_field - 1) / 2
        x0 = round(self.offset + x * self.stride - half)
        y0 = round(self.offset + y * self.stride - half)
        return x0, y0, x0 + self.receptive_field, y0 + self.receptive_field


def layer_infos(arch: Arch = "vgg19") -> dict[str, LayerInfo]:
    """Every layer of `arch` in forward order, with its geometry."""
    infos: dict[str, LayerInfo] = {}
    stride, rf, offset = 1, 1, 0.0
    for block, (n_convs, channels) in enumerate(
        zip(_BLOCKS[arch], _CHANNELS, strict=True), start=1
    ):
        for i in range(1, n_convs + 1):
            rf += 2 * stride  # 3×3 kernel, padding 1: the centre does not move
            infos[f"conv{block}_{i}"] = LayerInfo(
                f"conv{block}_{i}", "conv", channels, stride, rf, offset
            )
            infos[f"relu{block}_{i}"] = LayerInfo(
                f"relu{block}_{i}", "relu", channels, stride, rf, offset
            )
        rf += stride  # 2×2 window, stride 2, no padding
        offset += stride / 2
        stride *= 2
        infos[f"pool{block}"] = LayerInfo(f"pool{block}", "pool", channels, stride, rf, offset)
    return infos


def check_layers(names: Iterable[str], arch: Arch = "vgg19") -> None:
    """Raise ValueError naming the first unknown layer in `names`."""
    known = layer_infos(arch)
    for name in names:
        if name not in known:
            raise ValueError(
                f"unknown layer '{name}' for {arch}; layers are named like conv1_1, relu4_2, pool5"
                f" (valid: {', '.join(known)})"
            )


def last_relus(arch: Arch = "vgg19") -> tuple[str, ...]:
    """The last ReLU of each block: relu1_2, relu2_2, relu3_4, ... (relu3_3, ... in VGG16)."""
    return tuple(f"relu{block}_{n}" for block, n in enumerate(_BLOCKS[arch], start=1))


def deepest_stride(infos: dict[str, LayerInfo], layers: Iterable[str]) -> int:
    """The total stride of the deepest of `layers`: the side of one of its positions in pixels."""
    return max((infos[name].stride for name in layers), default=1)


def min_size(layers: Iterable[str], arch: Arch = "vgg19") -> int:
    """The smallest image side for which every layer in `layers` is at least 1×1."""
    return deepest_stride(layer_infos(arch), layers)


class VGG(nn.Module):
    """A frozen VGG feature extractor with named layers.

    Args:
        convs: ``{"conv1_1": (weight, bias), ...}`` in forward order, 13 or 16 layers.
        pooling: ``"max"`` as trained, or ``"avg"`` as Gatys et al. suggest for synthesis.
        preprocessing: ``"caffe"`` (BGR, 0-255, mean subtracted) or ``"torchvision"``.
    """

    def __init__(
        self,
        convs: dict[str, tuple[Tensor, Tensor]],
        *,
        pooling: Pooling = "max",
        preprocessing: Preprocessing = "caffe",
    ) -> None:
        super().__init__()
        if pooling not in ("max", "avg"):
            raise ValueError(f"pooling must be 'max' or 'avg', not {pooling!r}")
        self.arch: Arch = "vgg19" if len(convs) == 16 else "vgg16"
        self.info = layer_infos(self.arch)
        self.pooling = pooling
        self.preprocessing = preprocessing
        self.convs = nn.ModuleDict()
        for name, (weight, bias) in convs.items():
            # Made on the meta device, then given the file's weights: a Conv2d made on the CPU
            # draws random weights first, 0.13 s of a load thrown away.
            conv = nn.Conv2d(
                weight.shape[1], weight.shape[0], kernel_size=3, padding=1, device="meta"
            )
            conv.weight = nn.Parameter(weight.float().clone())
            conv.bias = nn.Parameter(bias.float().clone())
            self.convs[name] = conv
        self.requires_grad_(False)  # frozen: gradients flow to the image only
        # Whether fp32 convolves by `winograd.conv3x3` (if not, by torch's own convolution), and
        # which maps NNPACK's convolutions take among its ways (`winograd_copy`).
        self._winograd = False
        self._nnpack: NnpackUse = "none"
        # Per conv, its kernels for `winograd.conv3x3`, shared by every Winograd copy of this
        # network: their forms are made once per process, not per job (the transformed ones
        # took 0.32-0.40 s on 2 cores).
        self._kernels: dict[str, Kernels] = {}
        # Per conv, the kernels and transposed kernels of `packed.conv3x3` (`fast_copy`).
        self._packed: dict[str, tuple[Tensor, Tensor]] = {}
        if preprocessing == "caffe":
            # x·255 in BGR order minus the mean pixel, as (x - mean) / std with std = 1/255.
            self._mean, self._std = tuple(m / 255 for m in CAFFE_MEAN_BGR[::-1]), (1 / 255,) * 3
        else:
            self._mean, self._std = TORCHVISION_MEAN, TORCHVISION_STD

    def conv(self, name: str) -> nn.Conv2d:
        """The convolution `name` (``conv1_1``...), typed: a ModuleDict holds plain Modules."""
        return cast(nn.Conv2d, self.convs[name])

    def preprocess(self, rgb: Tensor) -> Tensor:
        """RGB in [0, 1], (B, 3, H, W) -> the network's input space, in fp32."""
        mean = torch.tensor(self._mean, device=rgb.device).view(1, 3, 1, 1)
        std = torch.tensor(self._std, device=rgb.device).view(1, 3, 1, 1)
        x = (rgb.float() - mean) / std
        return x.flip(1) if self.preprocessing == "caffe" else x

    def preprocess_transpose(self, signal: Tensor) -> Tensor:
        """A signal at the network's input carried back to RGB: the transpose of `preprocess`'s
        linear part (the per-channel 1/std and, for Caffe, the BGR flip), as a gradient is."""
        std = torch.tensor(self._std, device=signal.device).view(1, 3, 1, 1)
        return (signal.flip(1) if self.preprocessing == "caffe" else signal) / std

    def forward(self, rgb: Tensor, layers: Iterable[str]) -> dict[str, Tensor]:
        """Activations of `layers` for RGB images in [0, 1], shape (B, 3, H, W).

        Stops after the deepest requested layer.
        """
        wanted = set(layers)
        check_layers(wanted, self.arch)
        names = list(self.info)
        stop = max((names.index(n) + 1 for n in wanted), default=0)  # no layers: none run
        return self.run(rgb, 0, stop, wanted)[1]

    def run(
        self, x: Tensor, start: int, stop: int, wanted: Iterable[str]
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """Layers `start` to `stop` − 1 (indices into `info`) on `x`: RGB images in [0, 1] when
        `start` is 0, else the map the layer before `start` gives (as this network computes it:
        its dtype and memory layout). Returns the last layer's output and the `wanted` layers'."""
        wanted = set(wanted)
        out: dict[str, Tensor] = {}
        if start == 0:
            # The input follows the network's dtype and memory layout (see `fast_copy`).
            weight = self.conv("conv1_1").weight
            x = self.preprocess(x).to(weight.dtype).contiguous(memory_format=memory_layout(weight))
        names = list(self.info)

        def deferred(index: int) -> bool:
            # A block's last ReLU, unless asked for, runs after its max-pool: max and ReLU
            # commute, so the value and its gradient are the same, and the ReLU and its
            # backward pass touch a quarter of the pixels (relu1_2 is a 25-MB map at 512 px).
            name = names[index]
            return (
                self.pooling == "max"
                and name not in wanted
                and name.replace("relu", "conv") not in wanted
                and index + 1 < stop
                and self.info[names[index + 1]].kind == "pool"
            )

        deferred_relu = fused_relu = False
        for index in range(start, stop):
            name = names[index]
            info = self.info[name]
            if info.kind == "conv":
                conv = self.conv(name)
                if self._winograd and winograd_suits(x):
                    x = conv3x3(x, self._kernels[name], nnpack=self._nnpack)
                elif name in self._packed and packed_suits(x):
                    # The ReLU in the convolution's own pass, where its input is not asked for
                    # and it is not deferred: one pass over the map fewer.
                    fused_relu = name not in wanted and index + 1 < stop and not deferred(index + 1)
                    kernels, back = self._packed[name]
                    x = packed_conv3x3(x, kernels, conv.bias, back, relu=fused_relu)
                else:
                    x = conv(x)
            elif info.kind == "relu":
                if fused_relu:
                    fused_relu = False
                elif deferred(index):
                    deferred_relu = True
                    continue
                else:
                    # In place unless the convolution's output was asked for: one tensor fewer
                    # to allocate and write (the backward pass needs only the ReLU's output).
                    x = F.relu(x, inplace=name.replace("relu", "conv") not in wanted)
            elif self.pooling == "max":
                x = _max_pool(x)
                if deferred_relu:
                    x, deferred_relu = F.relu(x, inplace=True), False
            else:
                x = F.avg_pool2d(x, 2)
            if name in wanted:
                out[name] = x
        return x, out

    def fast_copy(self, dtype: torch.dtype = torch.bfloat16) -> VGG:
        """A copy with weights in `dtype` and channels-last layout: the fast path where bf16 is
        fast (`device.bf16_supported`). Casting once here, rather than under autocast, saves
        re-casting the frozen weights on every forward pass. In bf16 on the CPU its kernels are
        also laid out once in oneDNN's own layout (`stylegram.packed`)."""
        # Module.to takes memory_format at run time (torch._C._nn._parse_to); its stub omits it.
        fast = copy.deepcopy(self).to(dtype=dtype, memory_format=torch.channels_last)  # type: ignore[call-overload]
        fast._pack()
        return fast

    def _pack(self) -> None:
        """Lay out the kernels for `packed.conv3x3` where this network's weights are bf16 on the
        CPU and this torch has it; otherwise hold none (torch's own convolution runs)."""
        weight = self.conv("conv1_1").weight
        packs = (
            weight.device.type == "cpu" and weight.dtype == torch.bfloat16 and packed_available()
        )
        self._packed = {
            name: (pack(self.conv(name).weight), pack(transposed(self.conv(name).weight)))
            for name in (self.convs if packs else ())
        }

    def __getstate__(self) -> dict:
        # oneDNN's packed kernels have no storage to copy or pickle: a copy packs its own.
        return {**super().__getstate__(), "_packed": {}, "_repack": bool(self._packed)}

    def __setstate__(self, state: dict) -> None:
        repack = state.pop("_repack", False)
        super().__setstate__({"_packed": {}, **state})
        if repack:
            self._pack()

    def winograd_copy(self, nnpack: NnpackUse = "all") -> VGG:
        """A copy whose fp32 convolutions on the CPU are Winograd's where they pay
        (`stylegram.winograd`): the fast path for fp32 on a CPU. `nnpack`: which maps NNPACK's
        take, by how OpenMP's threads wait (`winograd.nnpack_use`); RuntimeError for any where
        NNPACK does not run.

        The copy shares this network's modules and weights (a shallow copy: 80 MB less than a
        deep one), and with every other such copy the kernels in the forms Winograd's
        convolutions take, each made at its first use (`winograd.Kernels`; 0.2 GB for blocks
        3-5 without NNPACK, up to 1 GB with it): the weights must not change or move after
        that."""
        if nnpack != "none" and not winograd_available():
            raise RuntimeError("NNPACK's convolutions do not run here")
        if not self._kernels:
            self._kernels = {
                name: Kernels(self.conv(name).weight, self.conv(name).bias) for name in self.convs
            }
        fast = copy.copy(self)
        fast._winograd, fast._nnpack = True, nnpack
        return fast

    def own_layers(self, layers: Iterable[str], option: str) -> tuple[str, ...]:
        """`layers` as this network has them: VGG19's last ReLU of each block (the units'
        default) becomes this network's own; a layer it lacks is a ValueError naming `option`
        and the layers there are."""
        layers = tuple(layers)
        if set(layers) <= set(self.info):
            return layers
        if layers == last_relus("vgg19"):
            return last_relus(self.arch)
        missing = next(name for name in layers if name not in self.info)
        relus = ", ".join(name for name, info in self.info.items() if info.kind == "relu")
        raise ValueError(
            f"{option} {missing}: this network is {self.arch.upper()}, which has no such layer;"
            f" its ReLU layers are {relus}"
        )

    def min_size(self, layers: Iterable[str]) -> int:
        """The smallest image side for which every layer in `layers` is at least 1×1."""
        return min_size(layers, self.arch)


def memory_layout(x: Tensor) -> torch.memory_format:
    """A 4-d tensor's memory layout: channels-last, as the fast copy's weights and maps are
    (`VGG.fast_copy`), or the default."""
    last = x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()
    return torch.channels_last if last else torch.contiguous_format


def _max_pool(x: Tensor) -> Tensor:
    """`F.max_pool2d(x, 2)`; for an fp32 NCHW map no gradient will be taken of, the maxima of its
    four 2×2 phases: the same values, 6 against 33 ms for 64 channels at 512×384 (torch's NCHW
    kernel is scalar; 2 cores, 2026-12-05). A gradient needs torch's indices: the phases' own
    comparisons and a backward from them cost more (docs/benchmarks.md)."""
    if x.requires_grad or x.dtype != torch.float32 or not x.is_contiguous():
        return F.max_pool2d(x, 2)
    v = x[..., : x.shape[-2] // 2 * 2, : x.shape[-1] // 2 * 2]
    top = torch.maximum(v[..., 0::2, 0::2], v[..., 0::2, 1::2])
    return torch.maximum(top, torch.maximum(v[..., 1::2, 0::2], v[..., 1::2, 1::2]))


def network_for(
    model: VGG, precision: Precision, *, fast_fp32: bool = True
) -> tuple[VGG, Resolved]:
    """The network to compute with, and its precision's name: a bf16 channels-last copy of
    `model` where `precision` asks for it or is "auto" and the device is fast in bf16; in fp32
    on a CPU, a copy with Winograd's convolutions where they pay, NNPACK's among them on the
    maps `winograd.nnpack_use` gives; unless not `fast_fp32`, for benchmarks that
    compare them with oneDNN's direct convolutions.

    Departure for speed: Gatys et al. compute in fp32. The network runs in bf16, and so do the
    Gram products of its bf16 features (accumulated in fp32, rounded to bf16: gram.gram_matrix);
    the losses are summed in fp32, and tests hold the bf16 losses within a few per cent.
    """
    device = model.conv("conv1_1").weight.device
    name = precision_on(device, precision)
    if name == "bf16":
        return model.fast_copy(torch.bfloat16), name
    if fast_fp32 and device.type == "cpu":
        return model.winograd_copy(nnpack=nnpack_use(name, device.type)), name
    return model, name


# ---------------------------------------------------------------- weight files
