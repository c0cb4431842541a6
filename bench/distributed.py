"""Data-parallel training as it really is here: 1 process against 2 (torchrun, gloo) on a
generated set of 1,000,000 images, one row per global batch size, all in one run.

    python bench/distributed.py [--images N] [--data DIR] [--batches 1024,8192,65536]
                                [--epochs E] [--repeat R]

Every configuration runs as users run it, in its own processes: `softmaxreg train` alone,
and `torchrun --standalone --nproc-per-node 2 -m softmaxreg train` (python -m
torch.distributed.run), both on `--dataset idx --data-dir DIR`, the compiled fused step (the
default). Throughput is the training images of all epochs over the epochs' own seconds from
metrics.csv (each epoch's time includes scoring the 10,000 test images, which every process
does whole). The configurations run R times, the rounds interleaved so that a busy spell of
a shared machine falls on all of them alike; each cell is the median.

A third row per batch size measures what the machine's cores allow at that moment: two
independent `softmaxreg train` runs at once, each with half the batch (a process's share)
and no collective at all; their summed throughput is the ceiling for two processes. (Two
virtual CPUs of a shared host do not always deliver two cores' worth.)

The data set (shifted copies of Fashion-MNIST's training images, bench/generate_dataset.py)
is made once into DIR, by default in softmaxreg's cache.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TARGET = (65536, 1.4)  # at this global batch, 2 processes should train >= 1.4x as fast as one


def ensure_dataset(folder: Path, images: int) -> Path:
    labels = folder / "train-labels-idx1-ubyte"
    if labels.is_file() and labels.stat().st_size == 8 + images:
        return folder
    print(f"generating {images:,} images into {folder} ...", file=sys.stderr)
    subprocess.run(
        [sys.executable, str(HERE / "generate_dataset.py"), "--images", str(images)]
        + ["--out", str(folder), "--quiet"],
        check=True,
    )
    return folder


def train_command(processes: int) -> list[str]:
    if processes == 1:
        return [sys.executable, "-m", "softmaxreg", "train"]
    return [sys.executable, "-m", "torch.distributed.run", "--standalone"] + [
        "--nproc-per-node",
        str(processes),
        "-m",
        "softmaxreg",
        "train",
    ]


INDEPENDENT = "2 independent"  # the ceiling row's name in place of a number of processes


def measure(data: Path, processes: int | str, batch: int, epochs: int, images: int) -> dict:
    """One configuration, run once: images per second (summed over independent runs), the
    seconds per epoch, the whole command's wall time, the final test accuracy."""
    alone = processes == INDEPENDENT
    copies, command = (2, train_command(1)) if alone else (1, train_command(int(processes)))
    per_run = batch // 2 if alone else batch
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        procs = [
            subprocess.Popen(
                command
                + ["--dataset", "idx", "--data-dir", str(data), "--batch-size", str(per_run)]
                + ["--epochs", str(epochs), "--out", f"{tmp}/run{i}", "--quiet"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for i in range(copies)
        ]
        errors = [p.communicate()[1] for p in procs]
        wall = time.perf_counter() - started
        speed, seconds = 0.0, []
        for i, (proc, err) in enumerate(zip(procs, errors, strict=True)):
            if proc.returncode != 0:
                sys.exit(f"{processes} process(es), batch {batch} failed:\n{err[-3000:]}")
            with open(f"{tmp}/run{i}/metrics.csv", newline="") as f:
                rows = list(csv.DictReader(f))
            seconds.append(sum(float(r["seconds"]) for r in rows) / len(rows))
            speed += images / seconds[-1]
    return {
        "speed": speed,
        "seconds": max(seconds),
        "wall": wall,
        "acc": float(rows[-1]["test_acc"]),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=1_000_000)
    parser.add_argument("--data", type=Path, help="data set folder (made if missing)")
    parser.add_argument("--batches", default="1024,8192,65536")
    parser.add_argument("--processes", default="1,2")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    from softmaxreg.data.sources import cache_root

    data = ensure_dataset(
        args.data or cache_root() / "bench" / f"shifted-{args.images}", args.images
    )
    batches = [int(b) for b in args.batches.split(",")]
    processes: list[int | str] = [int(p) for p in args.processes.split(",")]
    if 2 in processes:
        processes.append(INDEPENDENT)
    configs = [(b, p) for b in batches for p in processes]
    results: dict[tuple[int, int | str], list[dict]] = {c: [] for c in configs}
    load_before = os.getloadavg()[0]
    for _ in range(args.repeat):
        for batch, procs in configs:
            results[(batch, procs)].append(measure(data, procs, batch, args.epochs, args.images))
    load_after = os.getloadavg()[0]

    import torch

    print(
        f"softmaxreg bench: data-parallel training, {args.images:,} generated images, "
        f"{args.epochs} epochs, compiled fused step, gloo; {os.cpu_count()} CPUs, torch "
        f"{torch.__version__}; median of {args.repeat} runs per row (load average "
        f"{load_before:.1f} before, {load_after:.1f} after)"
    )
    print("| global batch | processes | samples/s | s per epoch | run wall s | test acc |")
    print("|---|---|---|---|---|---|")
    speed: dict[tuple[int, int | str], float] = {}
    for batch, procs in configs:
        runs = results[(batch, procs)]
        speed[(batch, procs)] = statistics.median(r["speed"] for r in runs)
        epoch_s = statistics.median(r["seconds"] for r in runs)
        wall = statistics.median(r["wall"] for r in runs)
        name = f"{INDEPENDENT} (batch {batch // 2:,} each)" if procs == INDEPENDENT else procs
        print(
            f"| {batch:,} | {name} | {speed[(batch, procs)]:,.0f} | {epoch_s:.3f} | "
            f"{wall:.2f} | {runs[0]['acc']:.4f} |"
        )
    for batch in batches:
        for procs in processes:
            if procs == 1:
                continue
            ratio = speed[(batch, procs)] / speed[(batch, 1)]
            what = f"{procs} processes"
            if procs == INDEPENDENT:
                what = "2 independent runs (the ceiling)"
            print(f"batch {batch:>6,}: {what} / 1 process: {ratio:.2f}x")
        if (batch, 2) in speed and (batch, INDEPENDENT) in speed:
            share = speed[(batch, 2)] / speed[(batch, INDEPENDENT)]
            print(f"batch {batch:>6,}: 2 processes reach {share:.0%} of the ceiling")
    target_batch, target_ratio = TARGET
    if (target_batch, 2) in speed and (target_batch, 1) in speed:
        ratio = speed[(target_batch, 2)] / speed[(target_batch, 1)]
        met = f"met ({ratio:.2f}x)" if ratio >= target_ratio else f"NOT met ({ratio:.2f}x)"
        print(f"target at {target_batch:,}: 2 processes >= {target_ratio}x one: {met}")


if __name__ == "__main__":
    main()
