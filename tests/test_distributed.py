"""Data-parallel training with torch.distributed (training/distributed.py, launch.py).

The step comes apart and sums back: shares' gradients of the global mean, summed and applied
once, equal one step on the whole batch (every engine and form, uneven shares too). Real
torchrun runs (gloo, on small generated data): two processes on one machine, and two
"machines" (two torchruns with a c10d rendezvous on 127.0.0.1) equal one process with the same
global batch and seed (weights to 1e-4 relative, losses to 1e-4, test accuracy to 0.002: float
sums in another order, nothing more); rank 0 alone writes; bad set-ups and a lost peer end with
one line, and the lost peer's run resumes under torchrun to the single process's result; a
stop asked of one process stops both after the same step. torchrun's own report of failed
processes (and its exit status 1) follow our one line: that part is torchrun's.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file

from softmaxreg.config import TrainConfig
from softmaxreg.data import load_dataset, write_idx
from softmaxreg.errors import ConfigError
from softmaxreg.kernel import load_compiled_step
from softmaxreg.records import RunDir
from softmaxreg.training.distributed import Lookahead, Peers, fingerprint, share_bounds
from softmaxreg.training.engines import AutogradEngine, FusedEngine, SGDParams
from softmaxreg.training.launch import Launch
from softmaxreg.training.loader import InMemorySplit
from softmaxreg.training.model import build_model
from softmaxreg.training.runner import train_run

# -- data ------------------------------------------------------------------------------------


def hard_images(n: int, classes: int = 10, seed: int = 0, signal_share: float = 0.2):
    """A faint class template under strong noise: two epochs of the seed's SGD take the test
    accuracy from chance to about 0.9, through every state in between (toy stripes would be
    learnt in a few steps, and then nothing would be compared)."""
    templates = np.random.default_rng(99).integers(0, 256, (classes, 28, 28))
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    noise = rng.integers(0, 256, (n, 28, 28))
    images = signal_share * templates[labels] + (1 - signal_share) * noise
    return images.astype(np.uint8), labels.astype(np.uint8)


def write_hard_dataset(folder: Path, n_train: int, n_test: int = 1000) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n, seed in (("train", n_train, 1), ("t10k", n_test, 2)):
        x, y = hard_images(n, seed=seed)
        write_idx(folder / f"{prefix}-images-idx3-ubyte", x)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", y)
    return folder


@pytest.fixture(scope="module")
def hard_dir(tmp_path_factory) -> Path:
    return write_hard_dataset(tmp_path_factory.mktemp("hard"), 4000)


# -- the step in halves: shares summed equal the whole batch ------------------------------------

ENGINES = ["fused-compiled", "fused-pytorch", "autograd"]


def engine_of(kind: str, lr: float, momentum=0.0, decay=0.0, nesterov=False):
    model = build_model(generator=torch.Generator().manual_seed(0))
    if kind == "autograd":
        opt = torch.optim.SGD(
            model.parameters(), lr=lr, momentum=momentum, weight_decay=decay, nesterov=nesterov
        )
        return AutogradEngine(model, opt)
    if kind == "fused-compiled" and load_compiled_step() is None:
        pytest.skip("the compiled fused step was not built")
    sgd = SGDParams(model.parameters(), lr, momentum, decay, nesterov)
    return FusedEngine(model, sgd, compiled=kind == "fused-compiled")


def step_in_shares(engine, pixels, index, y, world_size: int) -> tuple[float, int]:
    """What world_size processes do for one global batch, done here one share at a time."""
    params = [p for g in engine.optimizer.param_groups for p in g["params"]]
    summed = [torch.zeros_like(p) for p in params]
    loss, correct = 0.0, 0
    for rank in range(world_size):
        lo, hi = share_bounds(len(index), rank, world_size)
        if hi == lo:
            continue
        grads = [torch.full_like(p, float("nan")) for p in params]  # all must be written
        rows = engine.gather_rows(pixels, index[lo:hi])
        share_loss, share_correct = engine.gradient(rows, y[lo:hi], len(index), grads)
        for total, g in zip(summed, grads, strict=True):
            total += g
        loss, correct = loss + share_loss, correct + share_correct
    engine.apply_gradient(summed)
    return loss, correct


@pytest.mark.parametrize("optimizer", ["plain", "nesterov+decay"])
@pytest.mark.parametrize("world_size", [1, 2, 3])
@pytest.mark.parametrize("kind", ENGINES)
def test_shares_summed_equal_the_whole_batch(kind, world_size, optimizer):
    # Rates at which 20 steps learn steadily: momentum 0.9 multiplies the step about tenfold.
    lr, momentum = (0.1, ()) if optimizer == "plain" else (0.01, (0.9, 1e-3, True))
    x, labels = hard_images(37 * 20, seed=5)
    split = InMemorySplit(x, labels)
    whole, shared = engine_of(kind, lr, *momentum), engine_of(kind, lr, *momentum)
    losses = []
    # Batches of 37 over 3 processes: shares of 13, 12 and 12 rows.
    for index, y in split.index_batches(37, torch.Generator().manual_seed(1)):
        a = whole.step_rows(split.images, index, y)
        b = step_in_shares(shared, split.images, index, y, world_size)
        losses.append((a, b))
    assert all(a[0] < 37 * 10 for a, _ in losses)  # no divergence to compare chaos with
    for (loss_a, correct_a), (loss_b, correct_b) in losses:
        assert loss_b == pytest.approx(loss_a, rel=1e-5)
        assert abs(correct_a - correct_b) <= 1  # a float tie may fall either way
    for p, q in zip(whole.model.parameters(), shared.model.parameters(), strict=True):
        p, q = p.detach(), q.detach()
        assert float((p - q).abs().max() / p.abs().max()) < 1e-5


def test_shares_cover_a_batch_in_order_and_differ_by_at_most_one():
    for batch in range(1, 40):
        for world in range(1, 8):
            bounds = [share_bounds(batch, r, world) for r in range(world)]
            assert bounds[0][0] == 0 and bounds[-1][1] == batch
            assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:], strict=False))
            sizes = [hi - lo for lo, hi in bounds]
            assert max(sizes) - min(sizes) <= 1 and sizes == sorted(sizes, reverse=True)


def test_lookahead_yields_the_same_batches_and_draws_nothing_more():
    x, labels = hard_images(100)
    split = InMemorySplit(x, labels)
    plain_gen, ahead_gen = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    plain = list(split.batches(16, plain_gen, start=2))
    ahead = Lookahead(split)
    seen = []
    for item in ahead.batches(16, ahead_gen, start=2):
        peeked = ahead.peek()
        seen.append((item, peeked))
    assert len(seen) == len(plain) == 5
    for (item, peeked), expected, following in zip(seen, plain, plain[1:] + [None], strict=True):
        assert all(torch.equal(a, b) for a, b in zip(item, expected, strict=True))
        if following is None:
            assert peeked is None
        else:
            assert peeked is not None and torch.equal(peeked[1], following[1])
    assert torch.equal(plain_gen.get_state(), ahead_gen.get_state())
    assert ahead.num_batches(16) == split.num_batches(16) and len(ahead) == len(split)


def test_fingerprint_tells_one_changed_pixel_or_label(hard_dir):
    data = load_dataset("idx", hard_dir)
    same = fingerprint(load_dataset("idx", hard_dir))
    assert fingerprint(data) == same
    data.train_images = data.train_images.copy()
    data.train_images[1234, 5, 6] ^= 1
    assert fingerprint(data)["train"] != same["train"] and fingerprint(data)["test"] == same["test"]
    data = load_dataset("idx", hard_dir)
    data.test_labels = data.test_labels.copy()
    data.test_labels[0] = (data.test_labels[0] + 1) % 10
    assert fingerprint(data)["test"] != same["test"]


def test_launch_from_torchruns_environment():
    alone = Launch.from_environ({})
    assert (alone.rank, alone.world_size, alone.distributed, alone.writes) == (0, 1, False, True)
    assert alone.resume_command("runs/x") == "softmaxreg train --resume runs/x"
    env = {"MASTER_ADDR": "h", "MASTER_PORT": "1", "RANK": "3", "WORLD_SIZE": "4"}
    env |= {"LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2"}
    launch = Launch.from_environ(env)
    assert (launch.rank, launch.world_size, launch.local_rank, launch.machines) == (3, 4, 1, 2)
    assert not launch.writes and not launch.speaks
    assert "each of the 2 machines" in launch.resume_command("r")
    one = Launch.from_environ(env | {"RANK": "0", "LOCAL_RANK": "0", "LOCAL_WORLD_SIZE": "4"})
    assert one.writes and one.speaks
    assert one.resume_command("r") == (
        "torchrun --standalone --nproc-per-node 4 -m softmaxreg train --resume r"
    )
    with pytest.raises(ConfigError, match="malformed"):
        Launch.from_environ(env | {"RANK": "x"})
    with pytest.raises(ConfigError, match="inconsistent"):
        Launch.from_environ(env | {"RANK": "4"})


# -- real torchrun runs --------------------------------------------------------------------------

TRAIN = ("--dataset", "idx", "--epochs", "2", "--batch-size", "101")  # 4000 % 101: a last batch
# of 61, so shares of 51/50 and then 31/30


def torchrun(*args) -> list[str]:
    """torchrun itself (the module its script runs), with the interpreter under test."""
    return [sys.executable, "-m", "torch.distributed.run", *map(str, args)]


def run(command: list[str], timeout=300) -> tuple[int, str, str]:
    proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    return proc.returncode, proc.stdout, proc.stderr


def our_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("softmaxreg:")]


def assert_one_line(rc, err, *needles) -> str:
    """Our processes said one line and showed no traceback of their own (torchrun adds its
    own report of the failed processes, and exits 1: that part is torchrun's)."""
    assert rc != 0, err
    lines = our_lines(err)
    assert len(lines) == 1, err
    assert not re.search(r'File ".*softmaxreg', err), err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def metrics(run_dir: Path) -> list[dict]:
    with open(run_dir / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


def assert_same_result(one: Path, many: Path) -> None:
    """The issue's tolerances: weights 1e-4 relative, losses 1e-4, test accuracy 0.002."""
    wa, wb = load_file(one / "model.safetensors"), load_file(many / "model.safetensors")
    assert wa.keys() == wb.keys()
    for k in wa:
        assert np.abs(wa[k] - wb[k]).max() <= 1e-4 * np.abs(wa[k]).max(), k
    ma, mb = metrics(one), metrics(many)
    assert len(ma) == len(mb)
    for a, b in zip(ma, mb, strict=True):
        assert float(a["train_loss"]) == pytest.approx(float(b["train_loss"]), abs=1e-4)
        assert abs(float(a["test_acc"]) - float(b["test_acc"])) <= 0.002


@pytest.fixture(scope="module")
def reference(hard_dir, tmp_path_factory) -> Path:
    """The single process's run of TRAIN on the hard data (fused engine)."""
    out = tmp_path_factory.mktemp("reference") / "run"
    config = TrainConfig(dataset="idx", data_dir=str(hard_dir), epochs=2, batch_size=101)
    result = train_run(config, out)
    assert json.loads((out / "config.json").read_text())["world_size"] == 1
    assert 0.5 < result.history[-1].test_acc < 0.99  # learning, and not learnt outright
    return out


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["fused", "autograd"])
def test_two_processes_equal_one(hard_dir, reference, tmp_path, engine):
    out = tmp_path / "run"
    rc, stdout, err = run(
        torchrun("--standalone", "--nproc-per-node", 2, "-m", "softmaxreg", "train", *TRAIN)
        + ["--data-dir", str(hard_dir), "--engine", engine, "--out", str(out)]
    )
    assert rc == 0, err
    assert_same_result(reference, out)
    record = json.loads((out / "config.json").read_text())
    assert record["world_size"] == 2 and record["threads"] == 1
    # Rank 0 alone prints the progress (both share the terminal here).
    assert stdout.count("epoch 1/2") == 1 and stdout.count("done in") == 1, stdout
    assert RunDir(out).state == "finished"


@pytest.mark.slow
def test_two_machines_equal_one_and_only_rank_0_writes(hard_dir, reference, tmp_path):
    # Each "machine" has its own copy of the data (same files, another folder) and its own
    # --out: c10d numbers the machines itself, so either may become rank 0.
    copy = Path(shutil.copytree(hard_dir, tmp_path / "copy"))
    port = free_port()
    nodes = [
        subprocess.Popen(
            torchrun("--nnodes", 2, "--nproc-per-node", 1, "--node-rank", rank)
            + ["--rdzv-backend", "c10d", "--rdzv-endpoint", f"127.0.0.1:{port}"]
            + ["-m", "softmaxreg", "train", *TRAIN, "--data-dir", str(data)]
            + ["--out", str(tmp_path / f"out{rank}")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank, data in ((0, hard_dir), (1, copy))
    ]
    results = [node.communicate(timeout=300) for node in nodes]
    for node, (_, err) in zip(nodes, results, strict=True):
        assert node.returncode == 0, err
    written = [p for p in (tmp_path / "out0", tmp_path / "out1") if p.exists()]
    assert len(written) == 1, "exactly one machine (rank 0's) writes a run folder"
    assert_same_result(reference, written[0])
    assert json.loads((written[0] / "config.json").read_text())["world_size"] == 2


@pytest.mark.slow
def test_a_run_folder_rank_0_cannot_make_stops_every_process_with_one_line(
    hard_dir, reference, tmp_path
):
    # Rank 0 alone makes the folder; the others learn why it could not, and stay silent.
    before = sorted(p.name for p in reference.iterdir())
    command = torchrun("--standalone", "--nproc-per-node", 2, "-m", "softmaxreg", "train")
    rc, _, err = run(
        command + [*TRAIN, "--data-dir", str(hard_dir), "--out", str(reference)], timeout=120
    )
    assert_one_line(rc, err, f"--out {reference}: already holds a finished run")
    assert sorted(p.name for p in reference.iterdir()) == before


def test_a_batch_smaller_than_the_world_is_refused():
    env = {"MASTER_ADDR": "h", "MASTER_PORT": "1", "RANK": "0", "WORLD_SIZE": "3"}
    peers = Peers(Launch.from_environ(env | {"LOCAL_RANK": "0"}))
    peers.check_batch(3)
    with pytest.raises(ConfigError) as caught:
        peers.check_batch(2)
    assert caught.value.naming("--batch-size") == (
        "--batch-size 2 leaves some of the 3 processes without a single example per step; use "
        "--batch-size 3 or more, or fewer processes"
    )


@pytest.mark.slow
@pytest.mark.parametrize("case", ["other-data", "other-lr", "no-data"])
def test_machines_that_disagree_say_one_line_each(hard_dir, tmp_path, case):
    other = tmp_path / "other"
    if case == "other-data":  # the same sizes, one image differs
        shutil.copytree(hard_dir, other)
        images = load_dataset("idx", other).train_images.copy()
        images[17, 3, 3] ^= 0x40
        write_idx(other / "train-images-idx3-ubyte", images)
    port = free_port()
    flags = {0: [], 1: {"other-lr": ["--lr", "0.2"]}.get(case, [])}
    data = {0: hard_dir, 1: other if case != "other-lr" else hard_dir}
    nodes = [
        subprocess.Popen(
            torchrun("--nnodes", 2, "--nproc-per-node", 1)
            + ["--rdzv-backend", "c10d", "--rdzv-endpoint", f"127.0.0.1:{port}"]
            + ["-m", "softmaxreg", "train", *TRAIN, "--data-dir", str(data[node])]
            + ["--out", str(tmp_path / "run"), *flags[node]],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for node in (0, 1)
    ]
    lines = []
    for node in nodes:
        _, err = node.communicate(timeout=120)
        lines.append(assert_one_line(node.returncode, err))
    expected = {
        "other-data": "loaded other data than process 0",
        "other-lr": "was given lr",
        "no-data": str(other),
    }[case]
    assert all(expected in line for line in lines), lines
    if case == "other-data":
        assert all("train split with sha256" in line for line in lines), lines
    if case == "no-data":  # the machine without data says so, the other names it
        assert sum(bool(re.match(r"softmaxreg: error: process \d on ", x)) for x in lines) == 1
    assert not (tmp_path / "run").exists()


def rank_pid(launcher: subprocess.Popen, rank: int) -> int:
    """The pid of the process torchrun started as `rank` (Linux: /proc)."""
    children = Path(f"/proc/{launcher.pid}/task/{launcher.pid}/children").read_text().split()
    for pid in children:
        env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        if f"RANK={rank}".encode() in env:
            return int(pid)
    raise AssertionError(f"no rank {rank} among torchrun's processes {children}")


LONG = ["--dataset", "idx", "--batch-size", "48", "--epochs", "8"]  # 250 steps an epoch


@pytest.fixture(scope="module")
def long_data(tmp_path_factory) -> Path:
    return write_hard_dataset(tmp_path_factory.mktemp("long") / "data", 12000)


@pytest.fixture(scope="module")
def long_reference(long_data, tmp_path_factory) -> Path:
    """One process through LONG: what an interrupted and resumed run must end at."""
    out = tmp_path_factory.mktemp("long-reference") / "run"
    rc, _, err = run(
        [sys.executable, "-m", "softmaxreg", "train", *LONG]
        + ["--data-dir", str(long_data), "--out", str(out)]
    )
    assert rc == 0, err
    return out


def start_long_run(long_data: Path, out: Path) -> subprocess.Popen:
    """Two processes through LONG, once rank 0 has finished epoch 1 (the event waited on):
    7 epochs are left."""
    launcher = subprocess.Popen(
        torchrun("--standalone", "--nproc-per-node", 2, "-m", "softmaxreg", "train")
        + [*LONG, "--data-dir", str(long_data), "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert launcher.stdout is not None
    first = launcher.stdout.readline()
    assert first.startswith("epoch 1/8"), first
    return launcher


def finish(launcher: subprocess.Popen) -> str:
    try:
        return launcher.communicate(timeout=120)[1]
    finally:
        if launcher.poll() is None:  # the test failed early: let torchrun stop its processes
            launcher.terminate()
            launcher.wait(60)


def assert_resumable(out: Path) -> None:
    run_dir = RunDir(out)
    assert run_dir.state == "unfinished"
    assert run_dir.read_checkpoint() is not None  # intact: it reads and checks
    assert 1 <= len(metrics(out)) < 8


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux's /proc")
def test_a_lost_peer_keeps_the_checkpoint_and_the_run_resumes(long_data, long_reference, tmp_path):
    out = tmp_path / "run"
    launcher = start_long_run(long_data, out)
    os.kill(rank_pid(launcher, 1), signal.SIGKILL)
    err = finish(launcher)
    line = assert_one_line(
        launcher.returncode, err, "lost contact with another process", "resume with: torchrun"
    )
    assert_resumable(out)
    # The printed command, as printed, continues the run under torchrun.
    command = line.split("resume with: ", 1)[1].split()
    assert command[0] == "torchrun" and command[-2:] == ["--resume", str(out)]
    rc, _, err = run(torchrun(*command[1:]))
    assert rc == 0, err
    assert_same_result(long_reference, out)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux's /proc")
def test_a_stop_asked_of_one_process_stops_all_after_the_same_step(
    long_data, long_reference, tmp_path
):
    # SIGTERM to rank 1 alone (a scheduler stopping one machine): it votes to stop in the next
    # all_reduce, so rank 0 stops after the same step and saves it. Without the vote, rank 0
    # would go on alone and lose its peer.
    out = tmp_path / "run"
    launcher = start_long_run(long_data, out)
    os.kill(rank_pid(launcher, 1), signal.SIGTERM)
    err = finish(launcher)
    assert_one_line(launcher.returncode, err, "stopped at epoch", "checkpoint saved")
    assert "lost contact" not in err
    assert_resumable(out)
    # One process resumes what two started: the world size is how to run, not what.
    rc, _, err = run([sys.executable, "-m", "softmaxreg", "train", "--resume", str(out)])
    assert rc == 0, err
    assert_same_result(long_reference, out)


def test_a_refusal_reaches_the_other_machines_whole(tmp_path):
    """A ConfigError sent from one process to the others (as a lost peer's or rank 0's
    refusal travels) keeps every parameter it names, so each machine words it as flags."""
    import pickle

    from softmaxreg.errors import ConfigError
    from softmaxreg.records import RunDir
    from softmaxreg.training.distributed import _peer_error, _report

    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    run.file(RunDir.CONFIG).write_text("{}")
    with pytest.raises(ConfigError) as refused:
        RunDir.create(run.path)
    travelled = _peer_error(0, "host0", pickle.loads(pickle.dumps(_report(refused.value))))
    assert travelled.naming("--out", lambda name: "--" + name) == (
        f"process 0 on host0: --out {run.path}: already holds an unfinished run; pass "
        "--overwrite to replace it, --resume to continue it, or choose another --out"
    )
