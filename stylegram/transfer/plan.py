"""The memory plan of a job, made before any work from the image headers alone.

For every scale the planner picks: the whole image in one pass, or tiles (and their core size),
and the L-BFGS history length, so that the estimated peak stays within the budget. The budget
is `--max-memory`, or by default a safe share of the memory the job may use on its device: on a
CUDA GPU its free memory, on MPS the working set Metal recommends less what it holds already,
on the CPU the machine's available memory or its cgroup's limit, whichever is lower. A job that cannot fit is refused
before any work, with a message that says what would fit.
"""

from __future__ import annotations

import contextlib
import ctypes
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from ..device import precision_on, resolve_device
from ..geometry import Resolved, Size
from ..image import ImageLike, image_size, long_side_size
from ..vgg import LayerInfo, layer_infos
from ..winograd import NnpackUse, nnpack_takes, nnpack_use
from . import objective, tiling
from .config import StyleConfig, check_size, layers_used, min_side, style_layers
from .schedule import schedule

# Bytes per input pixel of one evaluation to relu5_1: activations, their gradients and the
# allocator's slack. bf16 from peak RSS here (6.3 GB for a whole 2048×1536 scale with a short
# history, 2.2 GB in 512-px cores); fp32 taken as twice that (4,390 measured on tiled scales,
# below). A whole 2048-px job planned for 4 GB with smaller figures peaked at 6.4 GB, so these
# err high.
NETWORK_BYTES_PER_PIXEL = {"bf16": 2500, "fp32": 5000}
PIXEL_BYTES = 12  # one full-size RGB image in fp32
VALUE_BYTES: dict[Resolved, int] = {"bf16": 2, "fp32": 4}  # one value of the network's maps
# Tiled scales keep L-BFGS's pairs in bf16 (transfer/lbfgs.py): half the bytes of the largest
# full-size cost, so that big outputs get bigger tiles and less halo work.
TILED_PAIR_BYTES = 6
# Full-size images alive at once besides L-BFGS's history: the image, its gradient, the content,
# L-BFGS's direction and previous gradient, the warm start and the TV term's temporaries, on a
# whole scale.
WORKING_IMAGES = 16
# ... and on a tiled scale, which computes the TV term in bands (objective._tv_in_bands). fp32:
# the peak RSS of single tiled 1448×1086 and 2048×1536 scales (384-px cores, 3 steps, history 3)
# grew by 155 bytes a pixel, 7.25 images beside the pairs and the content targets (in fp32, 32
# bytes), and by 4,390 bytes a tile pixel from 256- to 512-px cores (5,000 planned), capped to
# AVX512_CORE_BF16 (2026-12-05); with 16 a 2048×1536 job planned at 3.98 GiB peaked at 2.79 GB.
# bf16: 16 stands. A 4096×3072 job at 6G in bf16 (AMX) in 688-px cores peaked at 5.78 GB at its
# top scale (its 2048-px job, 4.74): beside 0.51 GB of baseline and 2,500 bytes a tile pixel,
# 276 bytes an image pixel at history 6, the plan's 280 (2026-12-05); 5.59 GB, 261 bytes, since
# a tile's gradient reaches the image without an image-sized one (objective._backward_segments).
# With 10 it took 880-px cores and peaked at 6.14 GB of 6.44.
TILED_WORKING_IMAGES: dict[Resolved, int] = {"bf16": 16, "fp32": 10}
CONTENT_TARGET_BYTES_PER_PIXEL = 16  # relu4_2 targets in bf16: 512 channels at 1/64 of the pixels
# torch, the weights in fp32 and bf16 (or, fp32 on a CPU, F(4×4, 3×3)'s transformed kernels: 0.2
# GB more), Python, what malloc keeps; the fp32 default job at 512 px peaked at 1.5 GB of its 2.3
# planned before NNPACK kept its kernels transformed (below)
BASELINE = 1024 * 2**20
# ... and where fp32 runs on a CPU by NNPACK, the kernels of each layer it has run, as NNPACK
# transforms them, both ways, kept to the end of the job (stylegram.nnpack): per pair of input
# and output channels, F(6×6, 3×3)'s 8×8 in fp32 (512 bytes) and, for the layers of few
# channels, its FFT's too. 0.98 GB for the 1.44 M pairs of VGG19 to relu5_1 in a 512×384 job
# where NNPACK takes every map (threads asleep); 0.18 GB for blocks 1-3's 258 k pairs where it
# takes the large ones (threads spinning; 2026-12-05). The fp32 default job at 512 px peaked at
# 2.1-2.2 GB capped to AVX2; a single 128-px scale at 0.75 GB, a 256-px one at 1.36, and capped
# to AVX512_CORE_BF16 (threads spinning) 0.62 and 0.88. Which layers NNPACK runs depends on the
# largest input the network sees (`Held`): where the threads spin a print's tiles bring conv4
# to it, a 512-px job does not.
NNPACK_PAIR_BYTES = 700
HISTORIES = (50, 20, 10, 5)  # L-BFGS history lengths to try, longest first
DEFAULT_SHARE = 0.7  # of the memory available when no --max-memory is given
MIN_CORE = 128
# A texture step's time over a full step's at the same size (objective.texture), by precision:
# VGG19's first two blocks and their Grams against all five blocks and the content, forward and
# backward, at 512×384 (2026-12-04, AMD EPYC, 2 cores). bf16: 0.18 s against 0.79 s (0.20 at
# 128×96). fp32 (ONEDNN_MAX_CPU_ISA=AVX2, Winograd's convolutions): 0.47 s against 1.22 s; the
# first blocks' maps are the widest, and their elementwise work and pooling, memory-bound, weigh
# more beside fp32's faster deep layers. With bf16's share the time left erred short there.
# Since NNPACK's FFT took the first blocks (2026-12-05, Intel Xeon, 2 cores): 0.265 s against
# 0.86 (0.31) capped to AVX2, threads asleep; 0.36 against 1.07 (0.34) capped to AVX512_CORE_BF16,
# threads spinning.
TEXTURE_COST: dict[Resolved, float] = {"bf16": 0.25, "fp32": 0.32}


@dataclass(frozen=True)
class ScalePlan:
    size: Size
    steps: int
    core: int | None  # tile core side in pixels, or None for the whole image at once
    history: int  # L-BFGS history length; a tiled scale keeps it in bf16
    peak: int  # estimated bytes
    halo: int = 0  # pixels around each core in a tiled scale's widest tiles (tiling.halo)
    texture: int = 0  # of `steps`, the first ones that are texture steps (schedule.Scale)
    texture_halo: int = 0  # the texture steps' halo on a tiled scale: their layers' own
    precision: Resolved = "bf16"  # the job's, for what a texture step costs (TEXTURE_COST)

    @property
    def tile(self) -> int | None:
        """The side of a full step's widest tiles, core and halos (as `plan_scale` charged
        them), or None for the whole image."""
        return None if self.core is None else self.core + 2 * self.halo

    def step_cost(self, texture: bool = False) -> float:
        """What one step costs, in pixels through the network (for estimates of time left): the
        image's, or on a tiled scale its tiles' (cores and halos), and 4/3 of that, because pass
        1 is one more forward pass (a third of a forward and backward). A texture step costs
        TEXTURE_COST of that in the job's precision, with its own halo."""
        w, h = self.size
        share = TEXTURE_COST[self.precision] if texture else 1.0
        if self.core is None:
            return share * w * h
        halo = self.texture_halo if texture else self.halo
        nx, ny = math.ceil(w / self.core), math.ceil(h / self.core)
        return (
            share
            * 4
            / 3
            * min(w + 2 * halo * (nx - 1), nx * w)
            * min(h + 2 * halo * (ny - 1), ny * h)
        )

    def describe(self) -> str:
        how = "whole" if self.core is None else f"tiles of {self.core} px + halo"
        kept = "" if self.core is None else " in bf16"
        texture = f" ({self.texture} texture)" if self.texture else ""
        return (
            f"{self.size[0]}×{self.size[1]}: {self.steps} steps{texture}, {how},"
            f" history {self.history}{kept},"
            f" ~{gb(self.peak)}"
        )


def work_done(plans: list[ScalePlan], step: int) -> float:
    """The share of a job's work done after `step` steps: a step costs its scale's `step_cost`
    (a step at 512 px costs 16 at 128 px), a texture step less."""
    done = total = 0.0
    before = 0
    for scale in plans:
        full, shallow = scale.step_cost(), scale.step_cost(texture=True)
        taken = min(scale.steps, max(0, step - before))
        texture = min(taken, scale.texture)
        done += shallow * texture + full * (taken - texture)
        total += shallow * scale.texture + full * (scale.steps - scale.texture)
        before += scale.steps
    return done / total if total else 1.0


def time_left(elapsed: float, done_at_start: float, done: float) -> float | None:
    """Seconds left at this run's pace: `done - done_at_start` of the work (shares, from
    `work_done`) took `elapsed` s; None until there is a pace. The one estimate, for the
    terminal bar, the log lines and the studio."""
    pace = done - done_at_start
    return elapsed / pace * (1 - done) if pace > 0 and elapsed > 0 else None


def gb(n: float) -> str:
    return f"{n / 2**30:.1f} GB"


def parse_memory(text: str) -> int:
    """'6G', '512M', '1.5GB', '4GiB' or a number of bytes -> bytes; ValueError otherwise."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)(?:i?[bB])?\s*", text)
    if not m:
        raise ValueError(f"'{text}' is not a size; write it like 6G or 512M")
    value = float(m.group(1)) * 1024 ** " KMGT".index(m.group(2).upper() or " ")
    if value <= 0:
        raise ValueError(f"'{text}' must be more than zero")
    return int(value)


def placement(config: StyleConfig) -> tuple[torch.device, Resolved]:
    """Where a job runs and in what precision: `config.device` resolved ("auto": CUDA, then MPS,
    then the CPU) and `config.precision` on it ("auto": bf16 where that device is fast in it)."""
    device = resolve_device(config.device)
    return device, precision_on(device, config.precision)


def plan_line(config: StyleConfig, what: str) -> str:
    """The line a command starts with: where its job runs and in what precision (`placement`),
    then `what` (its scales, its frames)."""
    device, precision = placement(config)
    return f"plan: on {device.type} ({precision}), {what}"


def available_memory(device: torch.device | None = None) -> int:
    """Bytes a job on `device` may still use. A CUDA GPU: its free memory. MPS: the working set
    Metal recommends, less what the driver holds. The CPU (and None): MemAvailable, lowered to
    the cgroup's limit if any.

    Departure on GPUs: the per-pixel figures above were measured as peak RSS on CPUs, and the
    GPU's allocator and cuDNN's workspaces differ; until a GPU run calibrates them
    (benchmarks/gpu.sh), the same figures stand for both.
    """
    if device is not None and device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    if device is not None and device.type == "mps":
        return max(0, torch.mps.recommended_max_memory() - torch.mps.driver_allocated_memory())
    free = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                free = int(line.split()[1]) * 1024
    except OSError:
        pass
    return min(free, _cgroup_room())


def release_freed_memory() -> None:
    """Hand the memory malloc keeps back to the OS (glibc's malloc_trim; other libcs: no-op).

    Called between scales, once a scale's tensors are freed: the CLI asks malloc to keep freed
    memory for reuse (cli/__init__.py), but the next scale's tensors are larger and do not fit
    the holes, which would then add to its peak. A 4096-px job at --max-memory 6G peaked at
    6.43 GB with the holes kept and 5.98 GB without (16 steps, 2026-11-27). Trimming inside the
    last step's callback, as before, came too early: the scale's tensors were still alive.
    """
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to trim
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _cgroup_room() -> int:
    """The cgroup (v2 or v1) memory limit less what the group already uses; no limit: huge."""
    for limit_file, usage_file in (
        ("memory.max", "memory.current"),
        ("memory/memory.limit_in_bytes", "memory/memory.usage_in_bytes"),
    ):
        try:
            limit = Path("/sys/fs/cgroup", limit_file).read_text().strip()
            usage = int(Path("/sys/fs/cgroup", usage_file).read_text().strip())
        except (OSError, ValueError):
            continue
        if limit.isdigit() and int(limit) < 2**60:
            return max(0, int(limit) - usage)
    return 2**62


class Held:
    """What a job holds whatever its size: BASELINE, and the kernels NNPACK has transformed by
    then (NNPACK_PAIR_BYTES), which stay from a layer's first call by NNPACK to the job's end.
    NNPACK takes a layer by the size of its map (winograd.nnpack_takes), so what is held at a
    scale depends on the largest input the network sees there, its window: the image, a tile,
    or the style image, `style_scale` times the image's long side."""

    def __init__(
        self,
        precision: Resolved,
        device: torch.device | None,
        infos: dict[str, LayerInfo],
        layers: Sequence[str],
        style_scale: float = 1.0,
    ) -> None:
        self.use: NnpackUse = nnpack_use(precision, "cpu" if device is None else device.type)
        self.style_scale = max(1.0, style_scale)
        names = list(infos)
        deepest = max((names.index(n) for n in layers), default=-1)
        # (stride, input channels, output channels) of each convolution up to the deepest layer
        self.convs: list[tuple[int, int, int]] = []
        channels = 3
        for info in (infos[n] for n in names[: deepest + 1]):
            if info.kind == "conv":
                self.convs.append((info.stride, channels, info.channels))
            channels = info.channels
        self.kept: set[int] = set()

    def _taken(self, window: Size) -> set[int]:
        w, h = window
        return {
            k
            for k, (stride, c_in, _) in enumerate(self.convs)
            if nnpack_takes(self.use, (w // stride) * (h // stride), c_in)
        }

    def window(self, size: Size, tile: int | None) -> Size:
        """The largest input at a scale of `size`, whole (`tile` None) or in tiles of `tile`
        pixels a side (cores and halos): square, for the style image's sake."""
        side = round(max(size) * self.style_scale)
        side = side if tile is None else min(tile, side)
        return side, side

    def at(self, size: Size, tile: int | None) -> int:
        """Held at a scale of `size`, whole (`tile` None) or in tiles of `tile` pixels a side."""
        return self.bytes(self.window(size, tile))

    def bytes(self, window: Size) -> int:
        """Held at a scale whose largest input is `window`."""
        taken = self.kept | self._taken(window)
        return BASELINE + NNPACK_PAIR_BYTES * sum(
            c_in * c_out for k, (_, c_in, c_out) in enumerate(self.convs) if k in taken
        )

    def keep(self, window: Size) -> None:
        """A scale whose largest input is `window` is planned: its kernels stay held."""
        self.kept |= self._taken(window)


def _whole_peak(pixels: int, precision: Resolved, history: int, base: int) -> int:
    return base + pixels * (
        NETWORK_BYTES_PER_PIXEL[precision] + PIXEL_BYTES * (WORKING_IMAGES + 2 * history)
    )


def _tiled_peak(
    pixels: int, tile: int, precision: Resolved, history: int, base: int, kept: float
) -> int:
    # A tile holds one segment's maps (tiling.segments), blocks 1-2's the largest, in tiles of
    # its 8-px halo; charged as a whole pass's maps over the widest segment's tiles (32 px), it
    # errs high, and the cores come out smaller than need be, which costs little: the halos
    # are small.
    full = pixels * (
        PIXEL_BYTES * TILED_WORKING_IMAGES[precision]
        + TILED_PAIR_BYTES * 2 * history
        + CONTENT_TARGET_BYTES_PER_PIXEL
        + kept * VALUE_BYTES[precision]
    )
    return base + tile * tile * NETWORK_BYTES_PER_PIXEL[precision] + round(full)


def plan_scale(
    size: Size,
    steps: int,
    *,
    budget: int,
    precision: Resolved,
    halo: int,
    align: int,
    tile_size: int | None = None,
    texture: int = 0,
    texture_halo: int = 0,
    held: Held | None = None,
    kept: float = 0.0,
) -> ScalePlan | None:
    """The plan for one scale within `budget`, or None if nothing fits; `held` is what the job
    holds whatever its size (BASELINE alone without one), `kept` the values per pixel a tiled
    pass keeps in whole maps between its segments (tiling.kept_values)."""
    w, h = size

    def base(tile: int | None) -> int:
        return BASELINE if held is None else held.at(size, tile)

    # L-BFGS keeps at most one pair per step of a run, and a scale's texture steps and its full
    # steps are two runs (`_Job._scale`): 13 steps, 8 of them texture, never hold more than 8
    # pairs. Capped at 13, a 4096-px scale at 6G got 400-px cores, at 8 624-px ones, and a step
    # through 2.0 times its pixels instead of 2.5 (with relu5_1's 80-px halo on every tile,
    # before tiling.segments).
    longest_run = max(texture, steps - texture, 1)

    def capped(histories: tuple[int, ...]) -> list[int]:
        return list(dict.fromkeys(min(history, longest_run) for history in histories))

    def scale_plan(core: int | None, history: int, peak: int) -> ScalePlan:
        tiled = core is not None
        return ScalePlan(
            size,
            steps,
            core,
            history,
            peak,
            halo if tiled else 0,
            texture,
            texture_halo if tiled and texture else 0,
            precision,
        )

    if (
        tile_size is not None and max(w, h) <= tile_size
    ):  # the user's tile size: whole, full history
        history = capped(HISTORIES)[0]
        return scale_plan(None, history, _whole_peak(w * h, precision, history, base(None)))
    for history in (
        capped(HISTORIES[:-1]) if tile_size is None else ()
    ):  # whole, with 10+ pairs (or one a step)
        peak = _whole_peak(w * h, precision, history, base(None))
        if peak <= budget:
            return scale_plan(None, history, peak)
    cores = (
        [max(align, tile_size // align * align)]
        if tile_size
        else range(math.ceil(max(w, h) / align) * align, MIN_CORE - 1, -align)
    )
    for history in capped(HISTORIES[1:]):
        for core in cores:
            tile = min(core + 2 * halo, max(w, h))
            peak = _tiled_peak(w * h, tile, precision, history, base(core + 2 * halo), kept)
            if peak <= budget or tile_size is not None:
                return scale_plan(core, history, peak)
    return None


def budget_for(max_memory: int | None, device: torch.device | None = None) -> int:
    """The bytes a job may use: `max_memory`, or a share of what `device` has available."""
    return max_memory if max_memory is not None else int(DEFAULT_SHARE * available_memory(device))


def plan_job(
    scales: list[tuple[Size, int, int]],
    infos: dict[str, LayerInfo],
    layers,
    *,
    precision: Resolved,
    max_memory: int | None,
    tile_size: int | None = None,
    device: torch.device | None = None,
    texture_layers: Sequence[str] = (),
    style_scale: float = 1.0,
) -> list[ScalePlan]:
    """The plan of every scale, given as (size, steps, texture steps), or ValueError saying
    what would fit, within `budget_for`. `layers` are those a full step evaluates,
    `texture_layers` those a texture step does."""
    budget = budget_for(max_memory, device)
    held = Held(precision, device, infos, layers, style_scale)
    align, pad = tiling.alignment(infos, layers), tiling.halo(infos, layers)
    kept = tiling.kept_values(infos, layers)
    texture_halo = tiling.halo(infos, texture_layers) if texture_layers else 0
    plans = []
    for size, steps, texture in scales:
        plan = plan_scale(
            size,
            steps,
            budget=budget,
            precision=precision,
            halo=pad,
            align=align,
            tile_size=tile_size,
            texture=texture,
            texture_halo=texture_halo,
            held=held,
            kept=kept,
        )
        if plan is None:
            smallest = MIN_CORE + 2 * pad
            least = _tiled_peak(
                size[0] * size[1],
                smallest,
                precision,
                HISTORIES[-1],
                held.at(size, smallest),
                kept,
            )
            raise ValueError(
                f"a {size[0]}×{size[1]} scale needs at least {gb(least)} even in the smallest tiles,"
                f" and the budget is {gb(budget)}; choose a smaller --size or a larger --max-memory"
            )
        held.keep(held.window(size, plan.tile))
        plans.append(plan)
    return plans


def plan(
    content: ImageLike, config: StyleConfig, *, infos: dict[str, LayerInfo] | None = None
) -> list[ScalePlan]:
    """The memory plan of a job, from the content image's header alone: per scale, its size,
    its steps, whole or tiled, the L-BFGS history and the estimated peak. Raises ValueError,
    saying what would fit, when a scale cannot fit the budget."""
    infos = infos or layer_infos()
    size = image_size(content)
    need = min_side(config, infos)
    check_size("content image", content, size, need)
    device, precision = placement(config)
    # A job whose style layers are all deeper than texture steps reach takes only full steps.
    shallow = objective.texture_layers(infos, style_layers(config))
    return plan_job(
        [
            (
                long_side_size(size, scale.long_side),
                scale.iterations,
                scale.texture if shallow else 0,
            )
            for scale in schedule(config, size, need)
        ],
        infos,
        layers_used(config),
        precision=precision,
        max_memory=parse_memory(config.max_memory) if config.max_memory else None,
        tile_size=config.tile_size,
        device=device,
        texture_layers=shallow,
        style_scale=config.style_scale,
    )
