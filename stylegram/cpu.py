"""How torch's OpenMP threads wait between operations, decided before torch loads.

torch's OpenMP runtime reads OMP_WAIT_POLICY once, when torch loads, so the command line asks
here before it imports anything that imports torch. The answer depends on what the network
will run as (vgg.network_for):
- in bf16 (CPUs with AVX512-BF16 or AMX), oneDNN's operations follow each other closely and
  OpenMP's threads are best left to spin for the next, as they do by default: the default job
  took 11.3-12.4 s with them spinning and 13.1-14.7 s asleep (2 cores, AVX512-BF16), and
  3.1-3.2 s against 4.0-4.2 s on 16 Sapphire Rapids cores with AMX;
- in fp32 (CPUs without bf16 instructions, or --precision fp32), the 3×3 convolutions are
  Winograd's, on NNPACK's own threads (stylegram.winograd), and spinning OpenMP threads take
  their cores: 29-31 s spinning (even for 10,000 spins, GOMP_SPINCOUNT), 22-23 s asleep
  (PASSIVE), the same machine capped to AVX2 (2026-12-04, docs/benchmarks.md);
- on a CPU with bf16 instructions whose bf16 convolutions are clearly slower than its fp32
  ones (device.bf16_supported measures it once: an Intel Xeon capped to AVX512_CORE_BF16),
  `--precision auto` runs fp32 with the threads spinning, so by oneDNN's direct AVX-512
  convolutions, the deep layers' by winograd.py's F(4×4, 3×3), which runs on OpenMP's own
  threads, and only the large maps' by NNPACK (`winograd.nnpack_use`): 16.7-17.1 s, against
  18.0-18.3 s all direct, 20.7 s with NNPACK's everywhere and the threads asleep, and
  22.6-22.9 s in bf16 (2 cores of that Xeon, 2026-12-04; NNPACK on the large maps came later).

This reads the facts torch's own test rests on (oneDNN's instruction set, capped by
ONEDNN_MAX_CPU_ISA) without loading torch. Where it cannot tell (no /proc/cpuinfo, an AVX512
CPU without bf16 instructions, which oneDNN runs in bf16 all the same), the threads sleep, as
they did for every CPU before: never slower than that.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

# /proc/cpuinfo's flags for bf16 instructions oneDNN uses.
BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})
# ONEDNN_MAX_CPU_ISA values below AVX512_CORE_BF16: oneDNN then uses no bf16 instructions.
CAPS_WITHOUT_BF16 = frozenset(
    {"SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX2_VNNI_2", "AVX512_CORE", "AVX512_CORE_VNNI"}
)


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """This CPU's feature flags (Linux); empty where there is nothing to read."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.partition(":")[2].split())
    return frozenset()


def bf16_instructions(flags: frozenset[str], environ: Mapping[str, str] = os.environ) -> bool:
    """Whether oneDNN will compute bf16 with bf16 instructions: the CPU has them and
    ONEDNN_MAX_CPU_ISA, if set, does not cap them away."""
    cap = environ.get("ONEDNN_MAX_CPU_ISA", "").strip().upper()
    return bool(flags & BF16_FLAGS) and cap not in CAPS_WITHOUT_BF16


def asks_fp32(argv: Sequence[str]) -> bool:
    """Whether the command line asks for `--precision fp32`."""
    return "--precision=fp32" in argv or any(
        a == "--precision" and b == "fp32" for a, b in itertools.pairwise(argv)
    )


def omp_wait_policy(
    argv: Sequence[str],
    flags: frozenset[str] | None = None,
    environ: Mapping[str, str] = os.environ,
) -> str | None:
    """The OMP_WAIT_POLICY to set: PASSIVE where the network will run in fp32 on the CPU (see
    above), else None, which leaves OpenMP's default: spinning a while after each operation."""
    fast_bf16 = bf16_instructions(cpu_flags() if flags is None else flags, environ)
    return None if fast_bf16 and not asks_fp32(argv) else "PASSIVE"
