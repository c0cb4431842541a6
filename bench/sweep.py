"""The sweep's speed: a 6-run sweep of 5 epochs each, against one lone run of 5 epochs.

Rows, each a command run as people run it (its own process, Python start-up included):
  (a) lone     `softmaxreg train --epochs 5`
  (b) sweep    `softmaxreg sweep --lr 0.05,0.1,0.2 --seed 0,1 --epochs 5 --jobs 2`
  (c) sweep    the same with --jobs 1 (one process trains the six runs one after another)
  (d) six      six lone `softmaxreg train --epochs 5`, one after another (a process per run)
Every row runs --repeat times (default 3), the rounds interleaved so that a slow spell of a
shared machine falls on all rows alike; the table shows each row's median, min and max. The
goal: (b) under 2.5x (a).

Usage: python bench/sweep.py [--repeat N] [--rows a,b,c,d]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SETTINGS = ["--lr", "0.05,0.1,0.2", "--seed", "0,1", "--epochs", "5"]
SIX = [(lr, seed) for seed in (0, 1) for lr in ("0.05", "0.1", "0.2")]
ROWS = {
    "a": "one lone `softmaxreg train --epochs 5`",
    "b": "6-run sweep, `--jobs 2`",
    "c": "6-run sweep, `--jobs 1`",
    "d": "6 lone trains one after another",
}
RUNS = {"a": 1, "b": 6, "c": 6, "d": 6}


def softmaxreg(*args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "softmaxreg", *args], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"softmaxreg {' '.join(args)} failed: {done.stderr.strip()}")


def measure(row: str, folder: Path) -> float:
    started = time.perf_counter()
    if row == "a":
        softmaxreg("train", "--epochs", "5", "--out", str(folder / "lone"), "-q")
    elif row in ("b", "c"):
        jobs = "2" if row == "b" else "1"
        softmaxreg("sweep", *SETTINGS, "--jobs", jobs, "--out", str(folder / "sweep"), "-q")
    else:
        for lr, seed in SIX:
            out = str(folder / f"lr={lr},seed={seed}")
            softmaxreg(
                "train", "--epochs", "5", "--lr", lr, "--seed", str(seed), "--out", out, "-q"
            )
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rows", default="a,b,c,d")
    args = parser.parse_args(argv)
    rows = args.rows.split(",")
    softmaxreg("data")  # the data set verified and cached before anything is timed
    times: dict[str, list[float]] = {row: [] for row in rows}
    with tempfile.TemporaryDirectory(prefix="softmaxreg-bench-sweep-") as tmp:
        for round_ in range(args.repeat):
            for row in rows:
                folder = Path(tmp) / f"{row}{round_}"
                folder.mkdir()
                times[row].append(measure(row, folder))
    cpus = os.cpu_count()
    print(
        f"softmaxreg sweep bench: 5 epochs per run, batch 256, Fashion-MNIST; {cpus} CPUs; "
        f"median of {args.repeat} rounds per row, rounds interleaved"
    )
    print("| row | runs | wall s (median) | min | max | wall s per run |")
    print("|---|---|---|---|---|---|")
    median = {row: statistics.median(t) for row, t in times.items()}
    for row in rows:
        t = times[row]
        print(
            f"| ({row}) {ROWS[row]} | {RUNS[row]} | {median[row]:.2f} | {min(t):.2f} "
            f"| {max(t):.2f} | {median[row] / RUNS[row]:.2f} |"
        )
    print()
    if "a" in median and "b" in median:
        print(f"sweep --jobs 2 / lone run:   {median['b'] / median['a']:.2f}x (goal < 2.5x)")
    if "a" in median and "c" in median:
        print(f"sweep --jobs 1 / lone run:   {median['c'] / median['a']:.2f}x")
    if "b" in median and "c" in median:
        print(f"sweep --jobs 1 / --jobs 2:   {median['c'] / median['b']:.2f}x")
    if "b" in median and "d" in median:
        print(f"six lone trains / sweep --jobs 2: {median['d'] / median['b']:.2f}x")


if __name__ == "__main__":
    main()
