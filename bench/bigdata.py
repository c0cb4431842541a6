"""Data beyond memory: one epoch of a 4,000,000-image IDX set (3.1 GB) inside a 1 GiB memory
cgroup, the page cache dropped first (a part of make bench).

Each row is `softmaxreg train` in its own process under /usr/bin/time -v:
  (a) Fashion-MNIST (60,000 images), the seed's 10 epochs, inside the memory limit, cold
      cache: the small set's figures to compare with
  (b) the generated set, one epoch, inside the memory limit, cold cache: `--shuffle auto`
      finds the set over half the limit and takes the block shuffle
  (c) the generated set, one epoch, no memory limit, file already in the page cache:
      `--shuffle auto` takes the global shuffle where the machine's memory holds the set
      (what the block shuffle costs against the global one; skipped if it does not fit)
The set is made by bench/generate_dataset.py (shifted copies of the training images, the real
test set) unless --data names a folder that holds it; a set this script made is deleted at the
end unless --keep. The memory limit is a child of this process's own cgroup (cgroup v2 or v1's
memory controller; needs root), else `systemd-run --scope -p MemoryMax=`, else none (said so).
Dropping the page cache needs root too (`sync; echo 3 > /proc/sys/vm/drop_caches`).

Usage: python bench/bigdata.py [--images N] [--memory BYTES] [--data DIR] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
TIME = "/usr/bin/time"
MiB = 2**20


@dataclass
class MemoryLimit:
    """A fresh memory-limited cgroup per row; `prefix` runs a command inside it."""

    limit: int
    how: str = "none"
    group: Path | None = None
    limit_file: str = ""
    peak_file: str = ""
    prefix: list[str] = field(default_factory=list)

    @classmethod
    def make(cls, limit: int) -> MemoryLimit:
        for version, parent in _own_cgroups():
            made = cls._child(limit, version, parent)
            if made is not None:
                return made
        if shutil.which("systemd-run"):
            probe = ["systemd-run", "--scope", "--quiet", "-p", f"MemoryMax={limit}", "true"]
            if subprocess.run(probe, capture_output=True).returncode == 0:
                return cls(limit, "systemd-run --scope", prefix=probe[:-1])
        return cls(limit)

    @classmethod
    def _child(cls, limit: int, version: int, parent: Path) -> MemoryLimit | None:
        limit_file, peak_file = (
            ("memory.max", "memory.peak")
            if version == 2
            else ("memory.limit_in_bytes", "memory.max_usage_in_bytes")
        )
        group = parent / f"softmaxreg-bench-{uuid.uuid4().hex[:8]}"
        try:
            group.mkdir()
            (group / limit_file).write_text(str(limit))
        except OSError:
            if group.is_dir():
                group.rmdir()
            return None
        enter = ["sh", "-c", f'echo $$ > {group}/cgroup.procs && exec "$@"', "sh"]
        return cls(limit, f"cgroup v{version}", group, limit_file, peak_file, enter)

    @property
    def active(self) -> bool:
        return self.how != "none"

    def peak(self) -> int | None:
        try:
            return int((self.group / self.peak_file).read_text()) if self.group else None
        except (OSError, ValueError):
            return None

    def remove(self) -> None:
        if self.group is not None and self.group.is_dir():
            self.group.rmdir()


def _own_cgroups() -> list[tuple[int, Path]]:
    """This process's cgroup folders that can hold a memory-limited child: (version, path)."""
    from softmaxreg.data.memory import memory_cgroups

    found = []
    for mount, path, limit_file in memory_cgroups():
        folder = mount / path.lstrip("/")
        if limit_file == "memory.max":  # v2: a child gets a memory limit only if enabled here
            control = folder / "cgroup.subtree_control"
            if control.is_file() and "memory" in control.read_text().split():
                found.append((2, folder))
        elif folder.is_dir():
            found.append((1, folder))
    return found


def drop_caches() -> bool:
    os.sync()
    try:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def warm(path: Path) -> None:
    with open(path, "rb") as f:
        while f.read(16 * MiB):
            pass


def ensure_set(images: int, folder: Path) -> bool:
    """Make the set in `folder` unless it holds it already; True if it was made now."""
    from softmaxreg.data.idx import inspect_idx
    from softmaxreg.errors import DataError

    try:
        if inspect_idx(folder / "train-images-idx3-ubyte", 3).header.dims[0] == images:
            return False
    except DataError:
        pass
    print(f"generating {images:,} images into {folder} ...", file=sys.stderr, flush=True)
    script = [sys.executable, str(HERE / "generate_dataset.py"), "--images", str(images)]
    subprocess.run([*script, "--out", str(folder), "-q"], check=True)
    return True


def run_row(args: list[str], out: Path, limit: MemoryLimit | None, cold: bool) -> dict:
    limit = MemoryLimit.make(limit.limit) if limit else None
    prefix = limit.prefix if limit else []
    timer = [TIME, "-v"] if os.access(TIME, os.X_OK) else []
    command = [*prefix, *timer, sys.executable, "-m", "softmaxreg", "train", *args]
    dropped = drop_caches() if cold else None
    started = time.perf_counter()
    proc = subprocess.run([*command, "--out", str(out), "-q"], capture_output=True, text=True)
    wall = time.perf_counter() - started
    peak = limit.peak() if limit else None
    if limit:
        limit.remove()
    if proc.returncode:
        raise SystemExit(f"bench: {' '.join(command)} failed:\n{proc.stderr[-3000:]}")
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    epochs = json.loads((out / "metrics.json").read_text())["epochs"]
    record = json.loads((out / "config.json").read_text())
    return {
        "train": sum(e["seconds"] for e in epochs) if epochs else 0.0,
        "epochs": len(epochs),
        "wall": wall,
        "acc": epochs[-1]["test_acc"],
        "rss": int(rss.group(1)) * 1024 if rss else None,
        "peak": peak,
        "shuffle": record["shuffle"],
        "dropped": dropped,
        "limit": limit.how if limit else "none",
    }


def fmt(value, spec: str, scale: float = 1.0) -> str:
    return "-" if value is None else format(value / scale, spec)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=4_000_000, help="training images")
    ap.add_argument("--memory", type=int, default=2**30, help="memory limit in bytes (1 GiB)")
    ap.add_argument("--data", type=Path, help="folder of the generated set (default: /tmp)")
    ap.add_argument("--keep", action="store_true", help="keep a set this script generated")
    args = ap.parse_args(argv)
    folder = args.data or Path(tempfile.gettempdir()) / f"softmaxreg-bigdata-{args.images}"
    made = ensure_set(args.images, folder)
    limit = MemoryLimit.make(args.memory)
    limit.remove()  # each row makes its own, so that each peak is its own
    set_bytes = args.images * 784
    rows: dict[str, tuple[str, int, dict]] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="softmaxreg-bigdata-runs-") as runs:
            base = Path(runs)
            print("(a) Fashion-MNIST, 10 epochs, memory-limited ...", file=sys.stderr, flush=True)
            rows["a"] = ("Fashion-MNIST, 10 epochs", 60_000, run_row([], base / "a", limit, True))
            big = ["--dataset", "idx", "--data-dir", str(folder), "--epochs", "1"]
            print("(b) generated set, memory-limited, cold ...", file=sys.stderr, flush=True)
            rows["b"] = (
                "generated set, 1 epoch",
                args.images,
                run_row(big, base / "b", limit, True),
            )
            from softmaxreg.data.memory import judge_fit, memory_at_hand

            if judge_fit(set_bytes, "the set", memory_at_hand()).fits:
                print("(c) generated set, no limit, warm ...", file=sys.stderr, flush=True)
                warm(folder / "train-images-idx3-ubyte")
                rows["c"] = (
                    "generated set, 1 epoch",
                    args.images,
                    run_row(big, base / "c", None, False),
                )
    finally:
        if made and not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    report(rows, limit, args, set_bytes)
    return 0


def report(rows: dict, limit: MemoryLimit, args, set_bytes: int) -> None:
    import torch

    print(
        f"\nsoftmaxreg bench: data beyond memory; a generated IDX set of {args.images:,} images "
        f"({set_bytes / 1e9:.2f} GB, shifted copies of Fashion-MNIST's training images; the real "
        f"test set); batch 256, lr 0.1; {os.cpu_count()} CPUs, torch {torch.__version__}; one run "
        f"per row; memory limit {args.memory / MiB:.0f} MiB by {limit.how}"
    )
    print(
        "| row | images | shuffle | memory limit | page cache | train s | wall s | "
        "train samples/s | max RSS MB | cgroup peak MB | test acc |"
    )
    print("|" + "---|" * 11)
    for key, (what, images, r) in rows.items():
        limited = f"{args.memory / MiB:.0f} MiB" if r["limit"] != "none" else "none"
        cache = {True: "dropped", False: "not dropped (needs root)", None: "warm"}[r["dropped"]]
        rate = images * r["epochs"] / r["train"] if r["train"] else None
        print(
            f"| ({key}) {what} | {images:,} | {r['shuffle']['kind']} | {limited} | {cache} | "
            f"{r['train']:.2f} | {r['wall']:.2f} | {fmt(rate, ',.0f')} | "
            f"{fmt(r['rss'], '.0f', MiB)} | {fmt(r['peak'], '.0f', MiB)} | {r['acc']:.4f} |"
        )
    a, b = rows["a"][2], rows["b"][2]
    print(
        f"\n(b) one epoch of {args.images:,} images: {b['train']:.1f} s of training "
        "(target ≤ 30 s), "
        f"{b['wall']:.1f} s wall from start to exit"
    )
    print(
        f"(b) test acc {b['acc']:.4f} after one epoch; (a) {a['acc']:.4f} after 10 epochs of "
        "the small set"
    )
    peak = max(v for v in (b["rss"], b["peak"]) if v is not None) if b["rss"] or b["peak"] else None
    if peak:
        print(
            f"(b) peak memory / set size: {peak / set_bytes:.2f} ({peak / MiB:.0f} MiB of "
            f"{set_bytes / MiB:.0f} MiB); the block shuffle: {b['shuffle']['block_rows']} rows "
            f"a block, {b['shuffle']['window_blocks']} blocks a window"
        )
    if "c" in rows:
        c = rows["c"][2]
        print(
            f"training time (b)/(c) block shuffle, cold, 1 GiB / global shuffle, warm, "
            f"unlimited: {b['train'] / c['train']:.2f}x; test acc {b['acc']:.4f} vs "
            f"{c['acc']:.4f}"
        )


if __name__ == "__main__":
    sys.exit(main())
