"""Data beyond memory: memory-mapped IDX files of any size, the block shuffle (a permutation
per epoch, deterministic, resumable), how a run picks its shuffle, bounded resident memory, and
large gzipped files decompressed once into the cache."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest
import torch

from helpers import (
    idx_header,
    make_images,
    metrics_rows,
    peak_memory_line,
    run_cli,
    same_model,
    train_until,
)
from softmaxreg.config import TrainConfig
from softmaxreg.data import gunzip, load_dataset, write_idx
from softmaxreg.data.idx import map_idx, read_idx
from softmaxreg.data.memory import MemoryAtHand, judge_fit, memory_at_hand, memory_cgroups
from softmaxreg.errors import DataError
from softmaxreg.training.blocks import BlockShuffleSplit
from softmaxreg.training.runner import resume_run, train_run
from softmaxreg.training.shuffle import ShufflePlan, choose_shuffle

GiB = 2**30


def write_raw_dataset(folder: Path, n_train: int, n_test: int = 200, classes: int = 3) -> Path:
    """A learnable data set (helpers.make_images) as four uncompressed IDX files."""
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n, seed in (("train", n_train, 1), ("t10k", n_test, 2)):
        x, y = make_images(n, classes, seed=seed)
        write_idx(folder / f"{prefix}-images-idx3-ubyte", x)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", y)
    return folder


def write_sparse_dataset(folder: Path, n_train: int, n_test: int = 100) -> Path:
    """Four uncompressed IDX files whose training data is a hole: the headers are written and
    the files truncated to their size, so they take no disk and read as zeros."""
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        for kind, dims in (("images-idx3", (n, 28, 28)), ("labels-idx1", (n,))):
            path = folder / f"{prefix}-{kind}-ubyte"
            header = idx_header(dims=dims)
            with open(path, "wb") as f:
                f.write(header)
                f.truncate(len(header) + int(np.prod(dims)))
    return folder


def resident_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


# -- memory-mapped IDX files ------------------------------------------------------------------


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux's /proc")
def test_a_file_beyond_the_old_2_gib_cap_is_mapped_from_its_header_and_size(tmp_path):
    n = 2_800_000  # 2.2 GB of images: over the 2 GiB that files read into memory may hold
    data = write_sparse_dataset(tmp_path / "big", n)
    before = resident_bytes()
    dataset = load_dataset("idx", data)
    assert resident_bytes() - before < 64 * 2**20  # validated without reading the data
    assert isinstance(dataset.train_images, np.memmap)
    assert dataset.train_images.shape == (n, 28, 28)
    assert dataset.train_images.nbytes > 2**31
    assert dataset.files[("train", "images")].verified == "header and size"
    with pytest.raises(DataError, match="over the limit"):  # reading it whole is still capped
        read_idx(data / "train-images-idx3-ubyte")


@pytest.mark.parametrize("change, what", [(-1, "truncated payload"), (1, "trailing bytes")])
def test_a_header_that_disagrees_with_the_file_size_is_refused_saying_so(tmp_path, change, what):
    path = tmp_path / "train-images-idx3-ubyte"
    header = idx_header(dims=(1000, 28, 28))
    with open(path, "wb") as f:
        f.write(header)
        f.truncate(len(header) + 1000 * 784 + change)
    with pytest.raises(DataError) as err:
        map_idx(path, ndim=3)
    message = str(err.value)
    assert message.startswith(str(path)) and "\n" not in message
    assert what in message
    assert "the header and the file size disagree" in message
    assert "(1000, 28, 28) = 784000 bytes" in message and f"holds {784000 + change}" in message
    assert "corrupt" not in message


def test_a_mapped_file_reads_the_same_rows_as_the_array(tmp_path):
    x, _ = make_images(500, 3)
    write_idx(tmp_path / "x-idx3-ubyte", x)
    mapped = map_idx(tmp_path / "x-idx3-ubyte", ndim=3)
    split = BlockShuffleSplit(mapped, np.zeros(500, np.uint8), block_rows=7, window_blocks=3)
    assert split.reader.reads_file  # one pread per block, not page faults
    g = torch.Generator().manual_seed(0)
    order = split.order(_copy(g))
    got = torch.cat([pixels[rows] for pixels, rows, _ in split.batches(64, g)])
    assert torch.equal(got, torch.from_numpy(x.reshape(500, -1))[order])


def _copy(generator: torch.Generator) -> torch.Generator:
    copy = torch.Generator()
    copy.set_state(generator.get_state())
    return copy


# -- the block shuffle ------------------------------------------------------------------------

# (rows, block_rows, window_blocks, batch): batches inside windows, straddling them, larger than
# a window, a short last block.
SHAPES = [(1003, 17, 5, 64), (1003, 17, 5, 300), (50, 3, 2, 7), (1000, 10, 10, 100)]


def _split(rows, block_rows, window_blocks):
    images = np.random.default_rng(rows).integers(0, 256, (rows, 4, 4), dtype=np.uint8)
    labels = (np.arange(rows) % 7).astype(np.uint8)
    return (
        images,
        labels,
        BlockShuffleSplit(images, labels, block_rows=block_rows, window_blocks=window_blocks),
    )


def _epoch(split, batch, generator, start=0):
    """Every minibatch's rows (pixels gathered now: the buffers are reused) and labels."""
    got = [(pixels[rows], y) for pixels, rows, y in split.batches(batch, generator, start=start)]
    return [p for p, _ in got], [y for _, y in got]


@pytest.mark.parametrize("rows, block_rows, window_blocks, batch", SHAPES)
def test_each_epoch_hands_over_every_row_once_in_the_order_it_drew(
    rows, block_rows, window_blocks, batch
):
    images, labels, split = _split(rows, block_rows, window_blocks)
    g = torch.Generator().manual_seed(3)
    order = split.order(_copy(g))
    assert sorted(order.tolist()) == list(range(rows))  # a permutation
    pixels, ys = _epoch(split, batch, g)
    assert [len(p) for p in pixels] == [batch] * (len(pixels) - 1) + [
        rows - batch * (len(pixels) - 1)
    ]
    assert len(pixels) == split.num_batches(batch)
    assert torch.equal(torch.cat(pixels), torch.from_numpy(images.reshape(rows, -1))[order])
    assert torch.equal(torch.cat(ys), torch.from_numpy(labels).long()[order])


def test_the_order_is_fixed_by_the_seed_and_differs_between_epochs_and_seeds():
    _, _, split = _split(2000, 20, 8)
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    first, again = split.order(g1), split.order(g2)
    assert torch.equal(first, again)
    second = split.order(g1)  # the next epoch, from the same generator
    assert not torch.equal(first, second)
    assert not torch.equal(first, split.order(torch.Generator().manual_seed(6)))
    # A minibatch mixes several blocks, and neighbours in the order are rarely neighbours in
    # the file: the shuffle is not just a reordering of blocks.
    assert len(set((first[:64] // 20).tolist())) > 4
    assert (first[1:] - first[:-1]).abs().eq(1).float().mean() < 0.05


@pytest.mark.parametrize("rows, block_rows, window_blocks, batch", SHAPES)
def test_resuming_at_any_step_continues_the_same_epoch_exactly(
    rows, block_rows, window_blocks, batch
):
    _, _, split = _split(rows, block_rows, window_blocks)
    g = torch.Generator().manual_seed(11)
    at_start = g.get_state()
    whole, labels = _epoch(split, batch, g)
    after = g.get_state()
    for step in range(len(whole)):
        g.set_state(at_start)
        tail, tail_labels = _epoch(split, batch, g, start=step)
        assert len(tail) == len(whole) - step
        assert all(torch.equal(a, b) for a, b in zip(tail, whole[step:], strict=True))
        assert all(torch.equal(a, b) for a, b in zip(tail_labels, labels[step:], strict=True))
        assert torch.equal(g.get_state(), after)  # the next epoch draws the same numbers


# -- choosing the shuffle ------------------------------------------------------------------------


def test_auto_picks_global_when_the_set_fits_in_half_the_memory_at_hand_else_block():
    images = np.zeros((100_000, 28, 28), np.uint8)  # 78.4 MB
    roomy = MemoryAtHand(200 * 10**6, "test")
    tight = MemoryAtHand(150 * 10**6, "test")
    assert choose_shuffle("auto", images, roomy).kind == "global"
    plan = choose_shuffle("auto", images, tight)
    assert plan.kind == "block" and not plan.fits
    assert "more than half the memory at hand" in plan.reason and "(test)" in plan.reason
    # A block is one sequential read of at most 4 MiB; a window a sixteenth of the memory.
    assert plan.block_rows * 784 <= 4 * 2**20 and plan.block_rows > 1000
    assert plan.window_blocks * plan.block_rows * 784 <= 16 * 2**20
    # Either shuffle can be asked for, whatever the memory.
    assert choose_shuffle("block", images, roomy).kind == "block"
    assert choose_shuffle("global", images, tight).kind == "global"
    assert ShufflePlan.from_record(plan.record()) == plan


def test_memory_at_hand_is_the_tighter_of_available_memory_and_the_cgroup_limit(tmp_path):
    proc, cgroups = tmp_path / "proc", tmp_path / "cgroup"
    (proc / "self").mkdir(parents=True)
    (proc / "meminfo").write_text("MemTotal: 24000000 kB\nMemAvailable: 8000000 kB\n")
    # cgroup v2: the process's own cgroup has no limit, its parent has 1 GiB.
    (proc / "self" / "cgroup").write_text("0::/jobs/bench\n")
    (cgroups / "jobs" / "bench").mkdir(parents=True)
    (cgroups / "jobs" / "bench" / "memory.max").write_text("max\n")
    (cgroups / "jobs" / "memory.max").write_text(f"{GiB}\n")
    at_hand = memory_at_hand(proc, cgroups)
    assert at_hand == MemoryAtHand(GiB, "the cgroup's memory limit")
    # cgroup v1's memory controller, "unlimited" written as a huge number.
    (proc / "self" / "cgroup").write_text("4:memory:/box\n1:cpu:/box\n")
    (cgroups / "memory" / "box").mkdir(parents=True)
    (cgroups / "memory" / "box" / "memory.limit_in_bytes").write_text(f"{2 * GiB}\n")
    (cgroups / "memory" / "memory.limit_in_bytes").write_text("9223372036854771712\n")
    assert memory_at_hand(proc, cgroups).bytes == 2 * GiB
    # No cgroup limit anywhere: what the machine has available.
    (proc / "self" / "cgroup").write_text("0::/\n")
    assert memory_at_hand(proc, cgroups) == MemoryAtHand(8000000 * 1024, "available memory")
    assert judge_fit(10**9, "x", None).fits  # unknown memory: assume it fits


# -- runs on the block shuffle ------------------------------------------------------------------


def test_a_run_forced_onto_the_block_shuffle_trains_and_records_it(tmp_path):
    data = write_raw_dataset(tmp_path / "data", 3000)
    out = tmp_path / "run"
    rc, stdout, err = run_cli(
        "train",
        "--dataset",
        "idx",
        "--data-dir",
        data,
        "--shuffle",
        "block",
        "--epochs",
        "2",
        "--out",
        out,
    )
    assert rc == 0, err
    record = json.loads((out / "config.json").read_text())
    assert record["config"]["shuffle"] == "block"
    shuffle = record["shuffle"]
    assert shuffle["kind"] == "block" and shuffle["asked"] == "block"
    assert shuffle["block_rows"] >= 1 and shuffle["window_blocks"] >= 1
    # At least 64 blocks and 4 windows, so that the block shuffle really mixes a small set.
    assert -(-3000 // shuffle["block_rows"]) >= 64
    assert -(-3000 // (shuffle["block_rows"] * shuffle["window_blocks"])) >= 4
    # The stripes of make_images are learned perfectly by a correct softmax regression.
    final = json.loads((out / "metrics.json").read_text())["epochs"][-1]
    assert final["test_acc"] > 0.95
    # Left to itself, a set this small is shuffled globally, and the record says why.
    auto = train_run(
        TrainConfig(dataset="idx", data_dir=str(data), epochs=1),
        tmp_path / "auto",
        handle_signals=False,
    )
    shuffle = auto.run.record()["shuffle"]
    assert shuffle["kind"] == "global" and shuffle["asked"] == "auto"
    assert "fit in half the memory at hand" in shuffle["reason"]


@pytest.mark.parametrize("epoch, step", [(1, 9), (2, 30)])
def test_a_block_shuffled_run_resumed_mid_epoch_equals_an_uninterrupted_one(tmp_path, epoch, step):
    data = write_raw_dataset(tmp_path / "data", 4000)
    dataset = load_dataset("idx", data)
    config = TrainConfig(
        dataset="idx",
        data_dir=str(data),
        shuffle="block",
        epochs=3,
        batch_size=64,
        momentum=0.9,
    )
    whole = train_run(config, tmp_path / "whole", dataset=dataset, handle_signals=False)
    train_until(config, tmp_path / "part", epoch, step, dataset)
    resumed = resume_run(tmp_path / "part", handle_signals=False)
    assert metrics_rows(resumed.path) == metrics_rows(whole.path)
    assert same_model(whole.path, resumed.path)
    # The resumed run read its shuffle from the record, not from the memory it has now.
    assert json.loads((tmp_path / "part" / "config.json").read_text())["shuffle"]["kind"] == "block"


# -- resident memory ----------------------------------------------------------------------------

SET_ROWS = 1_400_000  # 1.1 GB of (sparse) images


@pytest.fixture(scope="module")
def sparse_set(tmp_path_factory) -> Path:
    return write_sparse_dataset(tmp_path_factory.mktemp("sparse"), SET_ROWS)


CHILD = f"""
import sys
from softmaxreg.cli import main
code = main(sys.argv[1:])
print("MAXRSS", end=" ")
{peak_memory_line()}
sys.exit(code)
"""


def _train_child(data: Path, out: Path, *flags: str, prefix: tuple[str, ...] = ()):
    args = ["train", "--dataset", "idx", "--data-dir", str(data), "--epochs", "1", "-q"]
    proc = subprocess.run(
        [*prefix, sys.executable, "-c", CHILD, *args, "--out", str(out), *flags],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    return int(proc.stdout.split("MAXRSS")[1])


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux's /proc")
def test_resident_memory_stays_far_below_the_set_on_the_block_shuffle(sparse_set, tmp_path):
    set_bytes = SET_ROWS * 784
    peak = _train_child(sparse_set, tmp_path / "block", "--shuffle", "block")
    # torch and the interpreter take about 0.3 GB; the buffers a few tens of MB.
    assert peak < 0.5 * set_bytes, peak
    record = json.loads((tmp_path / "block" / "config.json").read_text())
    assert record["shuffle"]["kind"] == "block"


def _memory_cgroup(limit: int) -> Path | None:
    """A new cgroup with a memory limit, under the one this process is in, or None."""
    for mount, path, limit_file in memory_cgroups():
        parent = mount / path.lstrip("/")
        control = parent / "cgroup.subtree_control"
        if limit_file == "memory.max" and not (
            control.is_file() and "memory" in control.read_text().split()
        ):
            continue
        group = parent / f"softmaxreg-test-{uuid.uuid4().hex[:8]}"
        try:
            group.mkdir()
            (group / limit_file).write_text(str(limit))
        except OSError:
            if group.is_dir():
                group.rmdir()
            continue
        return group
    return None


@pytest.mark.slow
def test_inside_a_memory_cgroup_smaller_than_the_set_auto_picks_the_block_shuffle(
    sparse_set, tmp_path
):
    limit = 768 * 2**20  # below the set's 1.1 GB
    group = _memory_cgroup(limit)
    if group is None:
        pytest.skip("cannot create a memory cgroup here (needs root and a writable cgroupfs)")
    try:
        enter = ("sh", "-c", f'echo $$ > {group}/cgroup.procs && exec "$@"', "sh")
        _train_child(sparse_set, tmp_path / "run", prefix=enter)
    finally:
        group.rmdir()
    shuffle = json.loads((tmp_path / "run" / "config.json").read_text())["shuffle"]
    assert shuffle["kind"] == "block" and shuffle["asked"] == "auto"
    assert "the cgroup's memory limit" in shuffle["reason"]


# -- large gzipped files --------------------------------------------------------------------------


@pytest.fixture
def small_bound(monkeypatch):
    """Files above 10 kB count as large, so that small test files take the large-file path."""
    monkeypatch.setattr(gunzip, "IN_MEMORY_BYTES", 10_000)


def _gz_dataset(folder: Path, n_train: int, seed: int = 1) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n, s in (("train", n_train, seed), ("t10k", 50, 2)):
        x, y = make_images(n, 3, seed=s)
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", x)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", y)
    return folder


def _cached(cache: Path, data: Path) -> list[str]:
    """What the cache holds for the training images: the copy, its memo and its lock."""
    folder = gunzip.copy_folder(cache, data / "train-images-idx3-ubyte.gz")
    return sorted(p.name for p in folder.iterdir())


CACHED = [".lock", "train-images-idx3-ubyte", "train-images-idx3-ubyte.json"]


def test_a_large_gzipped_file_is_decompressed_once_into_the_cache(
    tmp_path, isolated_cache, small_bound
):
    data = _gz_dataset(tmp_path / "data", 300)
    x, _ = make_images(300, 3, seed=1)
    first = load_dataset("idx", data)
    assert isinstance(first.train_images, np.memmap)
    np.testing.assert_array_equal(first.train_images, x)
    info = first.files[("train", "images")]
    assert info.verified == "gzip crc and size" and info.copy.parent.parent.name == "decompressed"
    assert _cached(isolated_cache, data) == CACHED
    assert first.provenance()["files"]["train_images"]["decompressed_copy"] == str(info.copy)
    assert not isinstance(first.train_labels, np.memmap)  # 300 bytes: decoded in memory
    made = info.copy.stat()
    # The second load maps the same copy without writing it again.
    second = load_dataset("idx", data)
    assert second.files[("train", "images")].copy == info.copy
    assert (info.copy.stat().st_ino, info.copy.stat().st_mtime_ns) == (
        made.st_ino,
        made.st_mtime_ns,
    )
    # A changed source is decompressed again, and the old copy is not used.
    _gz_dataset(data, 400, seed=7)
    os.utime(data / "train-images-idx3-ubyte.gz", ns=(made.st_mtime_ns + 10**9,) * 2)
    third = load_dataset("idx", data)
    np.testing.assert_array_equal(third.train_images, make_images(400, 3, seed=7)[0])
    assert third.files[("train", "images")].copy == info.copy
    assert _cached(isolated_cache, data) == CACHED  # replaced, no temporary left behind


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda blob: blob[: len(blob) // 2], "corrupt gzip stream"),  # cut short
        (lambda blob: blob[:-8] + bytes(4) + blob[-4:], "corrupt gzip stream"),  # CRC
        (
            lambda blob: gzip.compress(idx_header(dims=(300, 28, 28)) + bytes(300 * 784 - 5)),
            "truncated payload",
        ),
    ],
    ids=["cut short", "bad crc", "short payload"],
)
def test_a_damaged_gzipped_file_is_refused_and_leaves_no_copy(
    tmp_path, isolated_cache, small_bound, damage, message
):
    data = _gz_dataset(tmp_path / "data", 300)
    target = data / "train-images-idx3-ubyte.gz"
    target.write_bytes(damage(target.read_bytes()))
    with pytest.raises(DataError, match=message) as err:
        load_dataset("idx", data)
    assert str(target) in str(err.value)
    # Neither a copy nor a temporary file, nor a memo that would vouch for one.
    folder = gunzip.copy_folder(isolated_cache, target)
    assert sorted(p.name for p in folder.iterdir()) == [".lock"]
