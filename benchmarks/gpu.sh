#!/usr/bin/env bash
# Run on a machine with a CUDA GPU, from the repository root, with the venv made by `make`:
#     benchmarks/gpu.sh 2>&1 | tee gpu.log
# The CUDA tests (skipped where there is no GPU), then the GPU benchmark, then the CPU benchmark
# with every core the machine has (issue 29's "more cores"). Copy the tables into
# docs/benchmarks.md with the card's name and the date.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${BIN:-.venv/bin}"
"$BIN/python" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'gpu.sh: this torch sees no CUDA GPU (a CPU build?)')"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
STYLEGRAM_REQUIRE_CUDA=1 "$BIN/pytest" -q tests/test_cuda.py tests/transfer/test_device.py
"$BIN/python" benchmarks/bench_gpu.py --sizes 512 1024 2048 4096
# The CPU classes on all the machine's cores, the GPU hidden (torch's CUDA build imports in 3-6 s
# there, which the whole command's time includes; docs/benchmarks.md, "On a GPU").
CUDA_VISIBLE_DEVICES= "$BIN/python" benchmarks/bench_cpu.py --runs 1
