"""The device a job runs on, and the precision the network runs in there.

`resolve_device` turns a `--device` into a torch.device ("auto": CUDA, then MPS, then the CPU);
`precision_on` says what `--precision` comes to on it: bf16 where it is fast (`bf16_supported`),
else fp32 (geometry.Precision and Resolved). On a CPU whether bf16 is fast is measured once per
process, since the instruction set alone does not say.
"""

from __future__ import annotations

import functools
import threading
import time

import torch
from torch.nn import functional as F

from .geometry import Precision, Resolved
from .packed import available as packed_available
from .packed import conv3x3 as packed_conv3x3
from .packed import pack


def precision_on(device: torch.device, precision: Precision) -> Resolved:
    """What `precision` means on `device`: "bf16" or "fp32" ("auto" is bf16 where it is fast)."""
    return (
        "bf16"
        if precision == "bf16" or (precision == "auto" and bf16_supported(device))
        else "fp32"
    )


def best_device() -> torch.device:
    """CUDA, then MPS, then the CPU: the first that this torch can use here."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def resolve_device(name: str | torch.device | None) -> torch.device:
    """`name` as a torch.device ("auto" or None: `best_device`), or a ValueError saying why it
    cannot be used here."""
    if isinstance(name, torch.device):
        return name
    if name is None or name == "auto":
        return best_device()
    try:
        device = torch.device(name or "cpu")
    except (RuntimeError, TypeError):
        raise ValueError(f"unknown device '{name}'; use auto, cpu, cuda, cuda:N or mps") from None
    if device.type not in ("cpu", "cuda", "mps"):
        raise ValueError(
            f"device '{name}' cannot run a style transfer; use auto, cpu, cuda, cuda:N or mps"
        )
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device '{name}' is not available: this torch ({torch.__version__}) sees no CUDA GPU"
        )
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(
            f"device '{name}' is not available: MPS needs Apple silicon and a torch built for it"
        )
    return device


def bf16_supported(device: torch.device) -> bool:
    """Whether bf16 convolutions are fast here: Ampere and later on CUDA; on a CPU, oneDNN has
    bf16 instructions (AVX512-BF16 or AMX) and its bf16 convolution is not clearly slower than its
    fp32 one, measured once (`_bf16_outruns_fp32`)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported()) and _bf16_outruns_fp32()
    return False


# bf16 is run unless its convolution takes this many times fp32's (`_bf16_outruns_fp32`).
BF16_MARGIN = 1.2
_PROBE = threading.Lock()


def _bf16_outruns_fp32() -> bool:
    """Whether a 3×3 convolution of 256 channels at 32×32 (VGG's third block) in bf16, run as
    `VGG.fast_copy` runs it (channels-last, its kernels packed: `stylegram.packed`), takes less
    than BF16_MARGIN times its time in fp32, on this process's threads. Measured once per
    process; threads that ask at once wait for the one answer.

    The instructions alone do not say: AVX512-BF16 without AMX runs such a layer 2× faster than
    fp32 on AMD Zen 4 (2 cores of an EPYC, 2026-12-03), but takes 1.4-1.6 times fp32's time on
    2 cores of an Intel Xeon with AMX capped to AVX512_CORE_BF16 (2026-12-04); with AMX, a
    fifth. On 16 cores of that Xeon, capped, the network's step took 0.54 s in bf16 and 0.52 s
    in fp32, and a first probe without a margin answered bf16 in one process and fp32 in the
    next: near a tie the answer, and the picture with it, must not change from one run to the
    next, so fp32 is chosen only where bf16 is clearly slower. Costs 40-80 ms on 2 cores; each
    precision's best of three, taken in turn.
    """
    with _PROBE:
        return _measure_bf16_against_fp32()


@functools.cache
def _measure_bf16_against_fp32() -> bool:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(1, 256, 32, 32, generator=generator)
    weight = torch.randn(256, 256, 3, 3, generator=generator)
    x16 = x.to(torch.bfloat16, memory_format=torch.channels_last)
    w16 = weight.to(torch.bfloat16, memory_format=torch.channels_last)
    runs = {"fp32": functools.partial(F.conv2d, x, weight, padding=1)}
    if packed_available():
        kernels = pack(w16)  # its own transpose too: 256 to 256 channels, and only timed forward
        runs["bf16"] = functools.partial(packed_conv3x3, x16, kernels, None, kernels)
    else:
        runs["bf16"] = functools.partial(F.conv2d, x16, w16, padding=1)
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    with torch.no_grad():
        for _ in range(4):
            for name, run in runs.items():
                start = time.perf_counter()
                run()
                seconds[name].append(time.perf_counter() - start)
    # The first round builds oneDNN's kernels: not counted.
    return min(seconds["bf16"][1:]) < BF16_MARGIN * min(seconds["fp32"][1:])
