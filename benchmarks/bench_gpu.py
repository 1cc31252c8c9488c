"""Style transfer on a GPU, measured in one run: the figures docs/benchmarks.md records for CUDA.

    python benchmarks/bench_gpu.py [--device cuda] [--sizes 512 1024 2048] [--repeats 5]

Prints, each against pastiche's 512-px L-BFGS step timed on the same device in the same run:
  1. the whole default command (`stylegram stylize --device auto`, a fresh process, start-up and
     saving included) at each size, and which device and precision its plan line named;
  2. seconds per step at each size in fp32 and in bf16, in-process, and bf16's speed-up;
  3. the peak GPU memory of a job (torch.cuda.max_memory_allocated) against its plan's estimate
     and the budget, at each size, by default and under a --max-memory that forces tiles.
`--device cpu` runs the same tables on the CPU, to try the script on a machine without a GPU.
Needs ../shared/data (content/tubingen.jpg, styles/starry_night.jpg), and a CUDA GPU unless
--device cpu.
"""

from __future__ import annotations

import argparse
import itertools
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from shared_data import pastiche_step_seconds, shared_data, synchronize

from stylegram import StyleConfig, load_vgg, stylize
from stylegram.transfer import plan as planning

CONTENT = shared_data("content", "tubingen.jpg")
STYLE = shared_data("styles", "starry_night.jpg")


def command(size: int, device: str, out: Path) -> tuple[float, str]:
    """Wall seconds of the whole CLI run (a fresh process) and its plan line."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "stylegram", "stylize", str(CONTENT), str(STYLE)]
        + ["--size", str(size), "--device", device, "-o", str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    wall = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"stylegram failed at {size} px:\n{done.stderr[-2000:]}")
    plan_line = next(line for line in done.stderr.splitlines() if line.startswith("plan:"))
    return wall, plan_line


def step_seconds(model, size: int, device: str, precision: str, repeats: int) -> float:
    """Median seconds between L-BFGS steps at one scale, after a warm-up step."""
    stamps: list[float] = []

    def stamp(_event: object) -> None:
        synchronize(device)
        stamps.append(time.perf_counter())

    config = StyleConfig(
        size=size, scales=1, iterations=repeats + 1, precision=precision, device=device
    )  # type: ignore[arg-type]
    stylize(CONTENT, [STYLE], config, model=model, callback=stamp)
    steps = sorted(b - a for a, b in itertools.pairwise(stamps))
    return steps[len(steps) // 2]


def peak_against_plan(
    model, size: int, device: str, max_memory: str | None
) -> tuple[int, int, int]:
    """(measured peak, planned peak, budget) in bytes of a short job on `device`."""
    config = StyleConfig(size=size, iterations=3, scales=2, device=device, max_memory=max_memory)
    plans = planning.plan(CONTENT, config)
    budget = planning.budget_for(
        planning.parse_memory(max_memory) if max_memory else None, torch.device(device)
    )
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    stylize(CONTENT, [STYLE], config, model=model)
    peak = torch.cuda.max_memory_allocated() if device.startswith("cuda") else 0
    return peak, max(p.peak for p in plans), budget


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 1024, 2048])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--tight", default="2G", help="a --max-memory that forces tiles")
    args = parser.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("bench_gpu: this torch sees no CUDA GPU; use --device cpu to try it here")
    name = torch.cuda.get_device_name() if args.device.startswith("cuda") else platform.processor()
    print(f"# {name}; torch {torch.__version__}; {time.strftime('%Y-%m-%d')}")

    peer = pastiche_step_seconds(CONTENT, STYLE, 512, args.repeats, device=args.device)
    print(f"pastiche 512-px step on {args.device}: {peer:.3f} s\n")

    print("1. the whole command (fresh process), in pastiche steps")
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            wall, plan_line = command(size, args.device, Path(tmp) / f"{size}.png")
            print(f"  {size:5d} px  {wall:7.1f} s  {wall / peer:7.1f} steps   {plan_line}")

    model = load_vgg(device=args.device)
    print("\n2. seconds per step in-process, fp32 and bf16")
    for size in args.sizes:
        fp32 = step_seconds(model, size, args.device, "fp32", args.repeats)
        bf16 = step_seconds(model, size, args.device, "bf16", args.repeats)
        print(
            f"  {size:5d} px  fp32 {fp32:.4f} s  bf16 {bf16:.4f} s  bf16 speed-up {fp32 / bf16:.2f}×"
        )

    if args.device.startswith("cuda"):
        print("\n3. peak GPU memory against the plan (GB): measured / planned / budget")
        for size, max_memory in itertools.product(args.sizes, (None, args.tight)):
            try:
                peak, planned, budget = peak_against_plan(model, size, args.device, max_memory)
            except ValueError as refused:  # the plan's own refusal: nothing fits that budget
                print(f"  {size:5d} px  --max-memory {max_memory or 'default':>7}  {refused}")
                continue
            print(
                f"  {size:5d} px  --max-memory {max_memory or 'default':>7}"
                f"  {peak / 2**30:6.2f} / {planned / 2**30:6.2f} / {budget / 2**30:6.2f}"
            )


if __name__ == "__main__":
    main()
