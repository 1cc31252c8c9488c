"""The CUDA path, on a real GPU: skipped where there is none (every CI machine so far);
benchmarks/gpu.sh runs these with STYLEGRAM_REQUIRE_CUDA=1, which turns the skip into a failure.
tests/transfer/test_device.py covers the device choice and the plan with CUDA faked."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from stylegram import StyleConfig, load_vgg, stylize
from stylegram.image import to_tensor

from .conftest import DATA

pytestmark = pytest.mark.skipif(
    not torch.cuda.is_available() and os.environ.get("STYLEGRAM_REQUIRE_CUDA") != "1",
    reason="no CUDA GPU here (benchmarks/gpu.sh runs these on one)",
)
ROOT = DATA.parents[1]


def test_features_on_the_gpu_match_the_cpus(vgg, small_content):
    image = to_tensor(small_content)
    layers = ["relu1_1", "relu3_1", "relu5_1"]
    on_cpu = vgg(image, layers)
    on_gpu = load_vgg(device="cuda")(image.cuda(), layers)
    for name in layers:
        a, b = on_cpu[name], on_gpu[name].float().cpu()
        assert float((a - b).norm() / a.norm()) < 1e-2, name  # TF32 convolutions: ~1e-3


def test_auto_runs_on_the_gpu_and_the_plan_line_says_so(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "stylegram",
            "stylize",
            "--size",
            "128",
            "-o",
            str(tmp_path / "o.png"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    assert "plan: on cuda (" in done.stderr, done.stderr


def test_a_jobs_gpu_memory_stays_within_its_budget(content_path, style_path):
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    # 2G: the plan counts a GiB for torch and the weights, which 1G left no room beside (an
    # H200 refused it); at 2G the 1024-px scale is tiled (whole, it plans 3.0 GB).
    config = StyleConfig(size=1024, scales=2, iterations=3, device="cuda", max_memory="2G")
    image = stylize(content_path, [style_path], config)
    assert max(image.size) == 1024
    assert torch.cuda.max_memory_allocated() <= 2 * 2**30
