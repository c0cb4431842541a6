"""make bench: every measured figure of the README, each table from one run of its own.

Each part is a script in bench/ that runs standalone and prints a markdown table with its
ratios, every figure of a ratio measured in the same run; this runs them one after another
(in fresh processes, so none pays for another's imports or memory).

Usage: python bench/run.py [--only seed,predict,...] [--list]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# In the order the README shows them; each is bench/<name>.py.
PARTS = {
    "seed": "the seed's experiment, seven ways (engines, CLI, tuned recipe, scikit-learn)",
    "sweep": "a 6-run sweep with --jobs 2 against one lone run",
    "distributed": "1 and 2 processes under torchrun at global batch 1,024, 8,192 and 65,536",
    "predict": "predicting one picture in a fresh process, against importing torch",
    "serve": "the prediction server: requests/s and latency with 8 concurrent clients",
    "bigdata": "4,000,000 images (3.1 GB) for one epoch inside a 1 GiB memory cgroup",
    "estimator": "softmaxreg.SoftmaxRegression against scikit-learn's LogisticRegression()",
    "book": "the book's code through softmaxreg.d2l against the book's own d2l package",
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", help="comma-separated parts to run (default: all)")
    ap.add_argument("--list", action="store_true", help="list the parts and exit")
    args = ap.parse_args()
    if args.list:
        for name, what in PARTS.items():
            print(f"{name:12} {what}")
        return 0
    names = args.only.split(",") if args.only else list(PARTS)
    unknown = [n for n in names if n not in PARTS]
    if unknown:
        print(f"bench: unknown part(s) {', '.join(unknown)}; see --list", file=sys.stderr)
        return 2
    failed = []
    for name in names:
        print(f"\n## {name}: {PARTS[name]}\n", flush=True)
        started = time.perf_counter()
        done = subprocess.run([sys.executable, str(HERE / f"{name}.py")])
        print(f"\n({name}: {time.perf_counter() - started:.0f} s)", flush=True)
        if done.returncode:
            failed.append(name)
    if failed:
        print(f"bench: failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
