"""Predicting one picture without PyTorch (issue 11, part 2): `softmaxreg predict --model RUN
one.png` as a user runs it, a fresh process each time, against `python -c "import torch"` on
the same machine. Goal: the prediction in less than half the time of importing torch.

Each command runs --repeat times (default 7), each time in its own process, the rounds
interleaved so that a slow spell of a shared machine falls on every row alike; each cell is
the median over the rounds. Wall time is from starting the process to reaping it; peak RSS is
that process's own (wait4). The model is a one-epoch run on Fashion-MNIST (its weights do not
change the time), the picture a 300x220 photo made from a test image.
Usage: python bench/predict.py [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchkit import make_model_and_picture

# Runs one command and reports its wall time and peak RSS. It is a small process of its own:
# Linux carries the parent's peak RSS into a child's at exec, so the command must be started
# by a process that never grew (this one imports nothing beyond the standard library).
LAUNCHER = """
import json, os, sys, time
devnull = [(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)]
t0 = time.perf_counter()
pid = os.posix_spawn(sys.argv[1], sys.argv[1:], os.environ, file_actions=devnull)
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - t0
print(json.dumps([wall, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)]))
"""


def measure(argv: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS MB) of one fresh process running `argv`."""
    proc = subprocess.run(
        [sys.executable, "-c", LAUNCHER, *argv], capture_output=True, text=True, check=True
    )
    wall, rss, code = json.loads(proc.stdout)
    if code != 0:
        raise SystemExit(f"{' '.join(argv)} failed (exit {code}): {proc.stderr}")
    return wall, rss


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7, help="rounds per row (median reported)")
    args = ap.parse_args()
    softmaxreg = str(Path(sys.executable).with_name("softmaxreg"))  # the installed command
    with tempfile.TemporaryDirectory(prefix="bench-predict-") as tmp:
        run, picture = make_model_and_picture(Path(tmp))
        rows = {
            "python -c pass (the interpreter alone)": [sys.executable, "-c", "pass"],
            'python -c "import torch"': [sys.executable, "-c", "import torch"],
            "softmaxreg predict --model RUN one.png": [
                softmaxreg,
                "predict",
                "--model",
                str(run),
                str(picture),
            ],
        }
        times: dict[str, list[float]] = {row: [] for row in rows}
        peaks: dict[str, list[float]] = {row: [] for row in rows}
        for _ in range(args.repeat):
            for row, argv in rows.items():
                wall, rss = measure(argv)
                times[row].append(wall)
                peaks[row].append(rss)
    import torch

    print(
        f"\nsoftmaxreg bench: predicting one picture in a fresh process; {os.cpu_count()} CPUs, "
        f"torch {torch.__version__}; median of {args.repeat} rounds, interleaved"
    )
    print("| command | wall s (median) | min | max | peak RSS MB |")
    print("|---|---|---|---|---|")
    for row in rows:
        t = times[row]
        print(
            f"| {row} | {statistics.median(t):.3f} | {min(t):.3f} | {max(t):.3f} | "
            f"{statistics.median(peaks[row]):.0f} |"
        )
    predict = statistics.median(times["softmaxreg predict --model RUN one.png"])
    torch_import = statistics.median(times['python -c "import torch"'])
    rss_predict = statistics.median(peaks["softmaxreg predict --model RUN one.png"])
    rss_torch = statistics.median(peaks['python -c "import torch"'])
    print()
    print(
        f"time predict / import torch: {predict / torch_import:.2f} "
        f"(goal < 0.5: {'met' if predict < 0.5 * torch_import else 'NOT met'})"
    )
    print(f"peak RSS predict / import torch: {rss_predict / rss_torch:.2f}")


if __name__ == "__main__":
    main()
