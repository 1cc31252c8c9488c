"""How the command line has torch's OpenMP threads wait (stylegram/cpu.py): asleep where the
network will run in fp32 (Winograd's NNPACK threads need the cores), spinning where it runs in
bf16; decided before torch loads, from the facts torch's own test rests on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from stylegram import cpu, winograd
from stylegram import device as device_module
from stylegram.vgg import network_for

ROOT = Path(__file__).resolve().parents[1]
BF16 = frozenset({"fpu", "avx2", "avx512f", "avx512_bf16"})
AMX = frozenset({"avx2", "avx512f", "amx_bf16", "amx_tile"})
AVX2 = frozenset({"fpu", "avx2", "fma"})


@pytest.mark.parametrize(
    "flags, cap, argv, policy",
    [
        (BF16, "", ["stylize"], None),  # bf16: OpenMP's default, spinning
        (AMX, "AVX512_CORE_AMX", ["stylize"], None),
        (BF16, "AVX512_CORE_BF16", ["stylize"], None),
        (BF16, "AVX2", ["stylize"], "PASSIVE"),  # capped to the fp32 class
        (BF16, "avx512_core", ["stylize"], "PASSIVE"),  # no bf16 instructions under this cap
        (AVX2, "", ["stylize"], "PASSIVE"),  # most laptops
        (frozenset(), "", ["stylize"], "PASSIVE"),  # nothing to read: as before, asleep
        (BF16, "", ["stylize", "--precision", "fp32"], "PASSIVE"),
        (BF16, "", ["batch", "--precision=fp32"], "PASSIVE"),
        (BF16, "", ["stylize", "--precision", "bf16"], None),
    ],
)
def test_threads_sleep_exactly_where_the_network_runs_in_fp32(flags, cap, argv, policy):
    assert cpu.omp_wait_policy(argv, flags, {"ONEDNN_MAX_CPU_ISA": cap}) == policy


def test_this_cpus_flags_are_read_and_agree_with_torchs_own_test():
    """Where the rule leaves the threads spinning, oneDNN must have bf16 instructions: the rule
    reads, before torch loads, what torch's own test reads after."""
    flags = cpu.cpu_flags()
    if Path("/proc/cpuinfo").exists():
        assert flags, "no flags read from /proc/cpuinfo"
    if cpu.bf16_instructions(flags):
        assert torch.ops.mkldnn._is_mkldnn_bf16_supported()


def test_where_bf16_is_slower_auto_runs_fp32_with_nnpack_on_large_maps_only(monkeypatch, vgg):
    """A CPU with bf16 instructions whose bf16 convolutions are slower (an Intel Xeon capped to
    AVX512_CORE_BF16): `auto` runs fp32, and with the threads spinning (the rule above) by
    NNPACK's convolutions only on the large maps, whose calls are long beside the spinning
    (winograd.py's F(4×4, 3×3) runs on those threads, and takes the deep layers)."""
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    monkeypatch.setattr(device_module, "_bf16_outruns_fp32", lambda: False)
    net, name = network_for(vgg, "auto")
    large = "large" if winograd.available() else "none"  # "none": this CPU lacks NNPACK
    assert name == "fp32" and net is not vgg and net._nnpack == large
    assert network_for(vgg, "bf16")[1] == "bf16"  # asked for, it is run all the same
    if torch.ops.mkldnn._is_mkldnn_bf16_supported():
        monkeypatch.setattr(device_module, "_bf16_outruns_fp32", lambda: True)
        assert network_for(vgg, "auto")[1] == "bf16"


def test_the_command_line_sets_the_policy_as_it_loads_torch_and_keeps_the_users():
    probe = (
        "import sys; sys.argv = ['stylegram', 'layers', *sys.argv[1:]]; import stylegram.cli, os;"
        " print(os.environ.get('OMP_WAIT_POLICY'), 'torch' in sys.modules)"
    )

    def policy(*argv: str, **env: str) -> str:
        base = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
        done = subprocess.run(
            [sys.executable, "-c", probe, *argv],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env={**base, **env},
            check=True,
        )
        return done.stdout.strip()

    # Set by the CLI's imports, which load torch (OpenMP reads it then, once).
    assert policy(ONEDNN_MAX_CPU_ISA="AVX2") == "PASSIVE True"
    assert policy("--precision", "fp32") == "PASSIVE True"
    assert policy(ONEDNN_MAX_CPU_ISA="AVX2", OMP_WAIT_POLICY="ACTIVE") == "ACTIVE True"
    expected = None if cpu.bf16_instructions(cpu.cpu_flags()) else "PASSIVE"
    assert policy() == f"{expected} True"


@pytest.mark.parametrize("bf16_time, runs_bf16", [(0.5, True), (1.1, True), (1.3, False)])
def test_bf16_is_kept_unless_its_convolution_is_clearly_slower(monkeypatch, bf16_time, runs_bf16):
    """Near a tie the answer must not flip from one process to the next: fp32 only where bf16's
    convolution takes more than BF16_MARGIN times fp32's (here on a clock the convolutions set)."""
    clock = [0.0]

    def convolve(x, *args, **kwargs):
        clock[0] += {torch.float32: 1.0, torch.bfloat16: bf16_time}[x.dtype]

    monkeypatch.setattr(device_module.time, "perf_counter", lambda: clock[0])
    monkeypatch.setattr(device_module.F, "conv2d", convolve)
    monkeypatch.setattr(device_module, "packed_conv3x3", convolve)
    assert device_module._measure_bf16_against_fp32.__wrapped__() is runs_bf16
