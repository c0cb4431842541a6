"""Model files and checkpoints: safetensors only, checked before use; runs survive SIGKILL."""

import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file, save_file

import softmaxreg
from helpers import assert_clean_error, run_cli
from softmaxreg.errors import CheckpointError, ConfigError
from softmaxreg.fileio import atomic_write_bytes
from softmaxreg.records import LinearWeights, read_model
from softmaxreg.records.modelfile import model_bytes
from softmaxreg.records.rundir import load_weights


@pytest.fixture
def model_file(tmp_path):
    rng = np.random.default_rng(0)
    weights = LinearWeights(
        rng.normal(0, 0.01, (10, 784)).astype(np.float32),
        rng.normal(0, 0.01, 10).astype(np.float32),
        tuple("abcdefghij"),
        (28, 28),
    )
    return atomic_write_bytes(tmp_path / "m.safetensors", model_bytes(weights))


def test_model_round_trip_and_classifier(model_file):
    clf = softmaxreg.load(model_file)
    assert clf.classes == tuple("abcdefghij")
    images = np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    proba = clf.predict_proba(images)
    assert proba.shape == (5, 10) and np.allclose(proba.sum(1), 1, atol=1e-6)
    assert (clf.predict(images) == proba.argmax(1)).all()
    assert clf.predict(images[0]).shape == (1,)


def test_a_model_file_loads_into_the_books_pytorch_model(model_file):
    from safetensors.torch import load_file as load_tensors

    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10))
    net.load_state_dict(load_tensors(model_file))
    images = np.random.default_rng(1).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    logits = net(torch.from_numpy(images).float() / 255).detach().numpy()
    np.testing.assert_allclose(
        logits, softmaxreg.load(model_file).decision_function(images), rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize("suffix", [".pt", ".pth", ".pkl"])
def test_pickle_files_are_refused(tmp_path, suffix):
    path = tmp_path / f"model{suffix}"
    torch.save(torch.nn.Linear(784, 10).state_dict(), path)
    with pytest.raises(CheckpointError, match="pickle.*never unpickles"):
        read_model(path)
    renamed = tmp_path / "sneaky.safetensors"  # a pickle under another name is refused too
    renamed.write_bytes(path.read_bytes())
    with pytest.raises(CheckpointError, match="pickle"):
        read_model(renamed)


def _meta(path):
    from safetensors import safe_open

    with safe_open(str(path), "np") as f:
        return json.loads(f.metadata()["softmaxreg"])


UNFIT = {
    "wrong shape": (
        lambda t: {"1.weight": np.zeros((10, 100), np.float32), "1.bias": t["1.bias"]},
        lambda m: m,
        "image shape",
    ),
    "missing": (lambda t: {"1.weight": t["1.weight"]}, lambda m: m, "missing"),
    "dtype": (lambda t: {k: v.astype(np.float64) for k, v in t.items()}, lambda m: m, "float32"),
    "classes": (lambda t: t, lambda m: {**m, "classes": ["a", "b"]}, "lists 2 classes"),
    "version": (lambda t: t, lambda m: {**m, "format_version": 99}, "upgrade"),
    "kind": (lambda t: t, lambda m: {**m, "kind": "optimizer"}, "expected model or checkpoint"),
}


@pytest.mark.parametrize("case", sorted(UNFIT))
def test_tensors_that_do_not_fit_are_refused(model_file, tmp_path, case):
    change_tensors, change_meta, message = UNFIT[case]
    path = tmp_path / "changed.safetensors"
    tensors = change_tensors(load_file(model_file))
    save_file(
        tensors, str(path), metadata={"softmaxreg": json.dumps(change_meta(_meta(model_file)))}
    )
    with pytest.raises(CheckpointError, match=message):
        read_model(path)


def test_files_that_are_not_softmaxreg_models_are_refused(model_file, tmp_path):
    bare = tmp_path / "bare.safetensors"
    save_file(load_file(model_file), str(bare))
    with pytest.raises(CheckpointError, match="without softmaxreg metadata"):
        read_model(bare)
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}      ")
    with pytest.raises(CheckpointError, match="not a readable safetensors"):
        read_model(garbage)


def test_folder_that_is_not_a_run(tmp_path):
    with pytest.raises(CheckpointError, match="not a softmaxreg run"):
        load_weights(tmp_path)
    rc, out, err = run_cli("train", "--resume", tmp_path)
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "not a softmaxreg run" in err


def _metrics(run):
    rows = (run / "metrics.csv").read_text().splitlines()
    return [",".join(r.split(",")[:4]) for r in rows]


@pytest.mark.slow
def test_sigkill_at_several_moments_then_resume_is_identical(real_data, tmp_path):
    """Kill `softmaxreg train` with SIGKILL at moments chosen by its own progress, not by a
    clock: once its run folder appears (nothing trained yet), just as an epoch's files are
    being written, and in the middle of an epoch; resume each time, and end with the weights
    and metrics of an uninterrupted run."""
    epochs = 24
    args = ["--epochs", str(epochs), "--momentum", "0.9", "--schedule", "cosine"]
    whole = tmp_path / "whole"
    assert run_cli("train", "--out", whole, *args, "-q")[0] == 0
    run = tmp_path / "killed"
    rng = np.random.default_rng(0)

    def command():  # resume once the run exists; killed before that, start it again
        if (run / "config.json").exists():
            return [sys.executable, "-m", "softmaxreg", "train", "--resume", str(run)]
        return [sys.executable, "-m", "softmaxreg", "train", "--out", str(run), *args]

    def start():
        return subprocess.Popen(
            command(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    def epoch_lines(proc, n):
        """Wait for the process's n-th epoch line; return the seconds its last epoch took."""
        seconds = 0.0
        for _ in range(n):
            line = proc.stdout.readline()
            assert line.startswith("epoch"), (line, proc.stderr.read())
            seconds = float(line.split()[-2])
        return seconds

    def kill(proc):
        assert proc.poll() is None, "the run ended before its kill"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL
        # A killed write leaves at most a hidden temporary file, never a damaged target.
        assert all(p.name.startswith(".") for p in run.iterdir() if p.suffix == ".tmp")

    # 1. Before any epoch: as soon as config.json is in place.
    proc = start()
    while not (run / "config.json").exists():
        assert proc.poll() is None, proc.stderr.read()
        time.sleep(0.001)
    kill(proc)
    # Then, twice each: right after an epoch's line (its checkpoint and metrics are being
    # written in the background), and part of the way into the epoch after one: a fraction
    # of the time that epoch itself took, as the line says, so the kill lands in that epoch
    # on a steady machine and in a later one on a stalling machine; either way the run is
    # still going. Each process is killed after at most 3 of its epochs (plus one more for
    # the mid-epoch kill), so the 24 epochs cannot all be done before the last kill.
    for waited, mid_epoch in ((1, False), (2, True), (1, False), (3, True)):
        proc = start()
        seconds = epoch_lines(proc, waited)
        if mid_epoch:
            time.sleep(rng.uniform(0.2, 0.8) * seconds)
        kill(proc)
    epochs_done = len(_metrics(run)) - 1
    assert 0 < epochs_done < epochs
    final = subprocess.run(command(), capture_output=True, text=True)
    assert final.returncode == 0, final.stderr
    assert _metrics(run) == _metrics(whole)
    a, b = load_file(whole / "model.safetensors"), load_file(run / "model.safetensors")
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_ctrl_c_saves_and_prints_the_resume_command(real_data, tmp_path):
    run = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "softmaxreg", "train", "--out", str(run), "--epochs", "50"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    for line in proc.stdout:  # wait for the first finished epoch, then press Ctrl-C
        if line.startswith("epoch"):
            break
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert f"softmaxreg train --resume {run}" in err and "Traceback" not in err
    assert (run / "checkpoint.safetensors").exists() and not (run / "model.safetensors").exists()


def test_classifier_refuses_what_it_would_misread(model_file):
    clf = softmaxreg.load(model_file)
    pixels = np.random.default_rng(0).integers(0, 256, (4, 28, 28))
    with pytest.raises(ConfigError, match=r"X: float pixels must lie in \[0, 1\]"):
        clf.predict(pixels.astype(np.float32))  # 0..255 as floats: divide by 255 first
    assert clf.predict(pixels.astype(np.uint8)).shape == (4,)
    assert clf.predict(pixels.astype(np.float32) / 255).shape == (4,)
    with pytest.raises(ConfigError, match="y: 3 labels for 4 images"):
        clf.score(pixels.astype(np.uint8), [0, 1, 2])


@pytest.mark.parametrize("header_bytes", [640, 1408, 19280])  # 80 02, 80 05, 50 4B ("PK")
def test_safetensors_whose_header_length_looks_like_a_pickle_are_read(tmp_path, header_bytes):
    """A safetensors file starts with its header's length: 640 is the bytes 80 02, a pickle's
    first two bytes, and 19280 is "PK", a zip's. Such a model is still a model."""
    from softmaxreg.records.tensorfile import read_tensors, tensor_bytes

    meta = {"note": ""}
    data = tensor_bytes({"x": np.zeros(3, np.float32)}, "model", meta)
    meta["note"] = "x" * (header_bytes - int.from_bytes(data[:8], "little"))
    data = tensor_bytes({"x": np.zeros(3, np.float32)}, "model", meta)
    assert int.from_bytes(data[:8], "little") == header_bytes
    path = tmp_path / "odd.safetensors"
    path.write_bytes(data)
    arrays, read_meta = read_tensors(path, kinds=("model",))
    assert read_meta["note"] == meta["note"] and arrays["x"].shape == (3,)


def _stopped_run(tiny_dir, path, **settings):
    """A run of the tiny data set stopped after its first step, with a checkpoint."""
    from softmaxreg.config import TrainConfig
    from softmaxreg.errors import Interrupted
    from softmaxreg.training.runner import train_run

    config = TrainConfig(dataset="idx", data_dir=str(tiny_dir), epochs=2, **settings)
    with pytest.raises(Interrupted):
        train_run(config, path, handle_signals=False, should_stop=lambda: True)
    assert (path / "checkpoint.safetensors").is_file()
    return config


def test_resume_runs_with_the_engine_it_is_given(tiny_dir, tmp_path):
    """`train --resume RUN --engine X` trains with X (every runtime setting reaches the run)."""
    run = tmp_path / "run"
    _stopped_run(tiny_dir, run, engine="fused")
    rc, out, err = run_cli("train", "--resume", run, "--engine", "autograd", "-q")
    assert rc == 0, err
    assert _meta(run / "model.safetensors")["config"]["engine"] == "autograd"


def test_resume_run_applies_runtime_settings_and_refuses_the_others(
    tiny_dir, tmp_path, monkeypatch
):
    from softmaxreg.training import runner

    run = tmp_path / "run"
    _stopped_run(tiny_dir, run, engine="fused")
    with pytest.raises(ConfigError) as refused:
        runner.resume_run(run, lr=0.5, handle_signals=False)
    assert "lr" in str(refused.value) and "\n" not in str(refused.value)
    with pytest.raises(ConfigError, match="unknown engine 'gpu'"):
        runner.resume_run(run, engine="gpu", handle_signals=False)
    engines = []
    make_engine = runner.make_engine
    monkeypatch.setattr(
        runner, "make_engine", lambda kind, *a: engines.append(kind) or make_engine(kind, *a)
    )
    result = runner.resume_run(run, engine="autograd", handle_signals=False)
    assert engines == ["autograd"] and result.config.engine == "autograd"
    assert result.config.lr == 0.1 and len(result.history) == 2


def test_a_sweep_resumes_its_runs_with_every_runtime_setting(tiny_dir, tmp_path, monkeypatch):
    from softmaxreg.training import runner
    from softmaxreg.training.sweep import RUNTIME, train_or_resume

    run = tmp_path / "run"
    config = _stopped_run(tiny_dir, run).replace(engine="autograd", threads=1)
    given = {}
    monkeypatch.setattr(runner, "resume_run", lambda path, **kw: given.update(kw))
    assert train_or_resume(run, config, lambda: False, [], {})["status"] == "finished"
    assert {k: given.get(k) for k in RUNTIME} == {k: getattr(config, k) for k in RUNTIME}


def test_a_damaged_momentum_buffer_is_one_line_naming_the_checkpoint(tiny_dir, tmp_path):
    from softmaxreg.records import RunDir

    path = tmp_path / "run"
    _stopped_run(tiny_dir, path, momentum=0.9)
    run = RunDir(path)
    arrays, meta = run.read_checkpoint()
    assert arrays["optim.0.momentum_buffer"].shape == (3, 784)
    for damaged in (np.zeros((3, 10), np.float32), np.zeros((3, 784), np.int64)):
        arrays["optim.0.momentum_buffer"] = damaged
        atomic_write_bytes(run.file(RunDir.CHECKPOINT), run.checkpoint_bytes(arrays, meta))
        before = run.file(RunDir.CHECKPOINT).read_bytes()
        rc, out, err = run_cli("train", "--resume", path, "-q")
        assert_clean_error(rc, out, err, str(run.file(RunDir.CHECKPOINT)), "momentum_buffer")
        assert run.file(RunDir.CHECKPOINT).read_bytes() == before
