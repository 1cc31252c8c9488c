"""Unit scans here and on a 2-worker Dask LocalCluster: images/s, and the peak memory of the
client and of a worker, at 2,000 and 20,000 images.

    PYTHONPATH=. python3 benchmarks/bench_cluster.py [--counts 2000 20000] [--size 224]
    PYTHONPATH=. python3 benchmarks/bench_cluster.py --counts 40 --size 64      # a quick try
    PYTHONPATH=. python3 benchmarks/bench_cluster.py --counts 20000 --engines cluster   # memory only

The image sets are made from ../shared/data/imagenet-sample by random crops and flips, in a
temporary folder. Each measurement runs in a fresh process, so that one run's peak resident
memory (ru_maxrss) is not another's. Both scan the default layers and rank units 0-8 (top 9);
the local scan uses all cores in one process, the cluster 2 workers of 1 thread each, which on
one machine measures the overhead of the cluster path, not a speed-up.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from shared_data import shared_data


def make_images(source: Path, n: int, folder: Path) -> list[Path]:
    """`n` JPEGs, each a random crop (60-100% of each side) of a sample image, flipped half the time."""
    from PIL import Image, ImageOps

    samples = sorted(p for p in source.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    rng = random.Random(0)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        with Image.open(samples[i % len(samples)]) as im:
            im = im.convert("RGB")
            w, h = im.size
            cw, ch = int(w * rng.uniform(0.6, 1)), int(h * rng.uniform(0.6, 1))
            x, y = rng.randrange(w - cw + 1), rng.randrange(h - ch + 1)
            im = im.crop((x, y, x + cw, y + ch))
            if rng.random() < 0.5:
                im = ImageOps.mirror(im)
            path = folder / f"{i // 1000:03d}" / f"{i:06d}.jpg"
            path.parent.mkdir(exist_ok=True)
            im.save(path, quality=90)
            paths.append(path)
    return paths


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def measure(mode: str, folder: Path, size: int, cache: Path) -> dict:
    """One scan in this process: seconds, and peak memory of this process (and of each worker)."""
    from stylegram.units.scan import DEFAULT_LAYERS, list_images

    paths = list_images(folder)
    units = {layer: list(range(9)) for layer in DEFAULT_LAYERS}
    if mode == "local":
        from stylegram.units.scan import scan
        from stylegram.weights import load_vgg

        vgg = load_vgg()
        scan(
            vgg, paths[:8], size=size, cache_dir=cache / "warmup"
        )  # first-call costs, before the clock
        start = time.perf_counter()
        result = scan(vgg, paths, size=size, cache_dir=cache)
        for layer in DEFAULT_LAYERS:
            result.top(layer, units[layer], 9)
        return {"seconds": time.perf_counter() - start, "client_mb": peak_mb(), "worker_mb": None}
    import distributed

    from stylegram.batch.cluster import THREADS_ENV
    from stylegram.batch.scan import ScanSpec, scan_on_cluster
    from stylegram.units.config import UnitsConfig

    os.environ[THREADS_ENV] = "1"
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            host="127.0.0.1",
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        client.wait_for_workers(2)
        spec = ScanSpec.of(UnitsConfig(top=9, size=size), units)
        scan_on_cluster(
            client, paths[:8], spec, part=4
        )  # imports, weights, first-call costs, before the clock
        start = time.perf_counter()
        scan_on_cluster(client, paths, spec)
        seconds = time.perf_counter() - start
        workers = client.run(peak_mb)
    return {"seconds": seconds, "client_mb": peak_mb(), "worker_mb": max(workers.values())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--images",
        type=Path,
        help="the sample to crop and flip (default: ../shared/data/imagenet-sample)",
    )
    parser.add_argument("--counts", nargs="+", type=int, default=[2000, 20000])
    parser.add_argument("--size", type=int, default=224, help="scan size (default: 224)")
    parser.add_argument(
        "--engines", nargs="+", choices=("local", "cluster"), default=["local", "cluster"]
    )
    parser.add_argument("--measure", nargs=2, metavar=("MODE", "FOLDER"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    sample = args.images or shared_data("imagenet-sample")
    if args.measure:
        mode, folder = args.measure
        with tempfile.TemporaryDirectory() as cache:
            print(json.dumps(measure(mode, Path(folder), args.size, Path(cache))))
        return
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.counts:
            folder = Path(tmp) / str(n)
            mb_per_image = sum(p.stat().st_size for p in make_images(sample, n, folder)) / n / 1e6
            for mode in args.engines:
                out = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--size",
                        str(args.size),
                        "--measure",
                        mode,
                        str(folder),
                    ],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                rows.append((n, mode, json.loads(out.stdout.strip().splitlines()[-1])))
    print(
        f"unit scan at {args.size} px, default layers, units 0-8, top 9; {os.cpu_count()} cores\n"
    )
    print("| images | engine | seconds | images/s | client peak MB | worker peak MB |")
    print("|-------:|--------|--------:|---------:|---------------:|---------------:|")
    for n, mode, r in rows:
        worker = f"{r['worker_mb']:.0f}" if r["worker_mb"] else "-"
        name = "local (1 process)" if mode == "local" else "LocalCluster 2×1"
        print(
            f"| {n} | {name} | {r['seconds']:.1f} | {n / r['seconds']:.1f} | {r['client_mb']:.0f} | {worker} |"
        )
    local = [n / r["seconds"] for n, mode, r in rows if mode == "local"][-1:]
    if local:
        print(
            f"\nOn paper, N machines like this one scan about N × {local[0]:.1f} images/s: the scan is compute-bound,"
            f" and the client sends each image's bytes once ({mb_per_image:.2f} MB here), so 1 Gbit/s carries"
            f" {125 / mb_per_image:.0f} images/s."
        )


if __name__ == "__main__":
    main()
