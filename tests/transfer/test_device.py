"""Issue 24: `--device auto` (the default) picks CUDA, then MPS, then the CPU; the precision and
the memory plan follow the device chosen. No GPU is here, so CUDA and MPS are faked: torch's
own queries are replaced, and nothing is moved to them (the plan is made from headers alone)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from stylegram.device import resolve_device
from stylegram.transfer import StyleConfig
from stylegram.transfer import plan as planning

ROOT = Path(__file__).resolve().parents[2]

CONTENT = ROOT / "stylegram" / "data" / "chelsea.jpg"
GiB = 2**30


@pytest.fixture
def no_host_memory(monkeypatch):
    """A plan on a GPU must not be made from the machine's RAM: asking for it fails the test."""

    def asked():
        raise AssertionError("the plan asked for the machine's memory on a GPU")

    monkeypatch.setattr(planning, "_cgroup_room", asked)


@pytest.fixture
def fake_cuda(monkeypatch, no_host_memory):
    """A CUDA GPU with `free` bytes free, fast in bf16 or not."""
    state = {"free": 40 * GiB, "bf16": True}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: state["bf16"])
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (state["free"], 80 * GiB))
    return state


@pytest.fixture
def fake_mps(monkeypatch, no_host_memory):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    monkeypatch.setattr(torch.mps, "recommended_max_memory", lambda: 16 * GiB)
    monkeypatch.setattr(torch.mps, "driver_allocated_memory", lambda: 4 * GiB)


def test_auto_is_the_cpu_where_there_is_no_gpu(monkeypatch):
    # No GPU, also on a machine that has one (benchmarks/gpu.sh runs this file there).
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert StyleConfig().device == "auto"
    assert resolve_device("auto") == resolve_device(None) == torch.device("cpu")


def test_the_plan_line_names_the_device_and_precision(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "stylegram", "stylize", "--size", "64", "--iterations", "1"]
        + ["--scales", "1", "--precision", "fp32", "--device", "cpu"]
        + ["-o", str(tmp_path / "out.png")],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    assert "plan: on cpu (fp32), 1 scales" in done.stderr, done.stderr


def test_auto_picks_cuda_first_and_bf16_where_the_gpu_is_fast_in_it(fake_cuda):
    assert resolve_device("auto").type == "cuda"
    assert planning.placement(StyleConfig()) == (torch.device("cuda"), "bf16")
    fake_cuda["bf16"] = False  # a GPU before Ampere
    assert planning.placement(StyleConfig())[1] == "fp32"
    assert planning.placement(StyleConfig(device="cpu"))[0] == torch.device("cpu")


def test_a_gpu_plan_fits_the_gpus_free_memory(fake_cuda):
    config = StyleConfig(size=2048, precision="fp32")
    roomy = planning.plan(CONTENT, config)
    fake_cuda["free"] = 3 * GiB
    tight = planning.plan(CONTENT, config)
    assert all(p.core is None for p in roomy)  # 40 GB free: every scale whole
    assert tight[-1].core is not None  # 3 GB free: the last scale in tiles
    assert max(p.peak for p in tight) <= planning.DEFAULT_SHARE * 3 * GiB


def test_mps_comes_after_cuda_and_plans_from_metals_working_set(fake_mps):
    assert resolve_device("auto").type == "mps"
    assert planning.placement(StyleConfig())[1] == "fp32"  # bf16 is not taken as fast on MPS
    assert planning.available_memory(torch.device("mps")) == 12 * GiB
    assert max(p.peak for p in planning.plan(CONTENT, StyleConfig(size=2048))) <= (
        planning.DEFAULT_SHARE * 12 * GiB
    )
