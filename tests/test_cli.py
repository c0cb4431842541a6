"""The command line as a user meets it: one line on stderr and exit status 2 for bad input,
no traceback, nothing left behind that looks complete."""

import gzip
import json
import struct
import subprocess
import sys

import numpy as np
import pytest
from conftest import make_images, run_cli, write_dataset

from softmaxreg.data import write_idx


def assert_clean_error(rc, out, err, *needles):
    assert rc == 2, (rc, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def test_help_does_not_import_torch():
    code = ("import sys; from softmaxreg.cli import main\n"
            "try: main(['--help'])\nexcept SystemExit: pass\n"
            "assert 'torch' not in sys.modules, 'torch imported'")  # fmt: skip
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def test_data_command_does_not_import_torch(tiny_dir):
    code = ("import sys; from softmaxreg.cli import main\n"
            f"assert main(['data', '--dataset', 'idx', '--data-dir', {str(tiny_dir)!r}]) == 0\n"
            "assert 'torch' not in sys.modules, 'torch imported'")  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "stripe-a" in proc.stdout and "120x28x28" in proc.stdout


def test_train_starts_its_curves_worker_before_torch_loads(tiny_dir, tmp_path):
    """The worker imports matplotlib and rehearses the figure on the other core while torch
    loads: checking the settings (new run or --resume) must not import torch first."""
    probe = (
        "import sys\n"
        "import softmaxreg.plots as P\n"
        "seen = []\n"
        "class Probe(P.CurvesWorker):\n"
        "    def __init__(self, epochs=None):\n"
        "        seen.append(('torch' in sys.modules, epochs))\n"
        "        super().__init__(epochs)\n"
        "P.CurvesWorker = Probe\n"
        "from softmaxreg.cli import main\n"
    )
    run = str(tmp_path / "run")
    args = ["--dataset", "idx", "--data-dir", str(tiny_dir), "--batch-size", "16"]
    for argv in (["train", *args, "--epochs", "2", "--out", run], ["train", "--resume", run]):
        code = probe + f"assert main({argv!r}) == 0\nassert seen == [(False, 2)], seen\n"
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr


def test_train_on_own_idx_data_writes_a_complete_run(tiny_dir, tmp_path):
    out = tmp_path / "run"
    rc, stdout, err = run_cli("train", "--dataset", "idx", "--data-dir", tiny_dir,
                              "--epochs", "3", "--batch-size", "16", "--out", out)  # fmt: skip
    assert rc == 0, err
    assert stdout.count("epoch ") == 3 and "test acc" in stdout
    config = json.loads((out / "config.json").read_text())
    assert config["config"]["epochs"] == 3 and config["versions"]["torch"]
    assert config["dataset"]["classes"] == ["stripe-a", "stripe-b", "stripe-c"]
    header = (out / "metrics.csv").read_text().splitlines()
    assert header[0] == "epoch,train_loss,train_acc,test_acc,seconds" and len(header) == 4
    assert (out / "curves.svg").read_text().startswith("<?xml")
    assert (out / "curves.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "model.safetensors").exists()
    rc, stdout, err = run_cli("train", "--dataset", "idx", "--data-dir", tiny_dir, "--epochs",
                              "1", "--out", tmp_path / "quiet", "--quiet")  # fmt: skip
    assert rc == 0 and stdout == "" and err == ""
    # The same folder again: refused without --overwrite, nothing touched.
    before = (out / "model.safetensors").read_bytes()
    rc, _, err = run_cli("train", "--dataset", "idx", "--data-dir", tiny_dir, "--out", out)
    assert_clean_error(rc, "", err, "--out", "already holds a finished run", "--overwrite")
    assert (out / "model.safetensors").read_bytes() == before


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--epochs", "0"], "--epochs must be a positive integer, got 0"),
        (["--batch-size", "0"], "--batch-size must be a positive integer, got 0"),
        (["--lr", "-1"], "--lr must be a positive finite number, got -1.0"),
        (["--lr", "abc"], "argument --lr: invalid float value: 'abc'"),
        (["--dataset", "cifar"], "unknown data set 'cifar'"),
        (["--recipe", "fast"], "unknown recipe 'fast'"),
        (["--engine", "gpu"], "unknown engine 'gpu'"),
        (["--dataset", "idx"], "--dataset idx needs --data-dir"),
    ],
)
def test_bad_arguments(tmp_path, args, needle):
    out = tmp_path / "run"
    rc, stdout, err = run_cli("train", "--out", out, *args)
    assert_clean_error(rc, stdout, err, needle)
    assert not out.exists()


def _header(type_byte=8, dims=(2, 28, 28), magic=b"\0\0"):
    return magic + bytes([type_byte, len(dims)]) + struct.pack(f">{len(dims)}I", *dims)


def _noise(n):
    return np.random.default_rng(0).integers(0, 256, n, dtype=np.uint8).tobytes()


BAD_FILES = {
    "truncated payload": ("train-images-idx3-ubyte.gz",
                          lambda: gzip.compress(_header(dims=(120, 28, 28)) + _noise(5000))),
    "bad magic": ("train-images-idx3-ubyte.gz",
                  lambda: gzip.compress(_header(magic=b"PK") + bytes(2 * 784))),
    "type byte": ("train-images-idx3-ubyte.gz",
                  lambda: gzip.compress(_header(type_byte=0x0D) + bytes(2 * 784 * 4))),
    "has 1 dimensions, expected 3": ("train-images-idx3-ubyte.gz",
                                     lambda: gzip.compress(_header(dims=(120,)) + bytes(120))),
    "empty file": ("t10k-labels-idx1-ubyte.gz", lambda: b""),
    "not gzip-compressed": ("t10k-labels-idx1-ubyte.gz",
                            lambda: _header(dims=(40,)) + bytes(40)),
}  # fmt: skip


@pytest.mark.parametrize("defect", sorted(BAD_FILES))
def test_malformed_data_files(tiny_dir, tmp_path, defect):
    name, content = BAD_FILES[defect]
    (tiny_dir / name).write_bytes(content())
    out = tmp_path / "run"
    rc, stdout, err = run_cli("train", "--dataset", "idx", "--data-dir", tiny_dir, "--out", out)
    assert_clean_error(rc, stdout, err, name, defect)
    assert not out.exists()


def test_count_mismatch_label_range_directory_and_missing_file(tiny_dir, tmp_path):
    out = tmp_path / "run"
    _, y = make_images(100, 3, seed=1)
    write_idx(tiny_dir / "train-labels-idx1-ubyte.gz", y)
    rc, so, err = run_cli("train", "--dataset", "idx", "--data-dir", tiny_dir, "--out", out)
    assert_clean_error(rc, so, err, "100 labels but", "120 images")
    _, y = make_images(120, 3, seed=1)
    y[5] = 7
    write_idx(tiny_dir / "train-labels-idx1-ubyte.gz", y)
    rc, so, err = run_cli("train", "--dataset", "idx", "--data-dir", tiny_dir, "--out", out)
    assert_clean_error(rc, so, err, "label 7", "outside the 3 classes of classes.txt")
    (tiny_dir / "train-labels-idx1-ubyte.gz").unlink()
    (tiny_dir / "train-labels-idx1-ubyte").mkdir()
    rc, so, err = run_cli("train", "--dataset", "idx", "--data-dir", tiny_dir, "--out", out)
    assert_clean_error(rc, so, err, "train-labels-idx1-ubyte", "is a directory")
    (tiny_dir / "train-labels-idx1-ubyte").rmdir()
    rc, so, err = run_cli("train", "--dataset", "idx", "--data-dir", tiny_dir, "--out", out)
    assert_clean_error(rc, so, err, "train-labels-idx1-ubyte.gz", "missing file")
    assert not out.exists()


def test_official_name_with_wrong_checksum_leaves_cache_clean(tmp_path, isolated_cache):
    fake = write_dataset(tmp_path / "fake", n_train=60, n_test=10, classes=10)
    out = tmp_path / "run"
    decoded = isolated_cache / "decoded" / "fashion-mnist"
    before = sorted(p.name for p in decoded.iterdir()) if decoded.exists() else []
    rc, so, err = run_cli("train", "--data-dir", fake, "--out", out)
    assert_clean_error(rc, so, err, "train-images-idx3-ubyte.gz", "checksum mismatch")
    after = sorted(p.name for p in decoded.iterdir()) if decoded.exists() else []
    assert after == before and not out.exists()


def test_divergence_and_huge_learning_rate_messages(real_data, tmp_path):
    rc, so, err = run_cli("train", "--lr", "1e38", "--epochs", "1", "--out", tmp_path / "a")
    assert_clean_error(rc, so, err, "non-finite loss at epoch 1 step", "smaller --lr")
    assert not (tmp_path / "a" / "model.safetensors").exists()
    rc, so, err = run_cli("train", "--lr", "1e4", "--epochs", "1", "--out", tmp_path / "b")
    assert rc == 0, err
    assert err.count("softmaxreg: warning:") == 1 and "learning rate 10000" in err


def test_data_command_reports_verification(real_data):
    rc, out, err = run_cli("data")
    assert rc == 0, err
    assert "60000x28x28" in out and "10000x28x28" in out and "sha256" in out


@pytest.mark.parametrize("command", ["predict", "evaluate"])
def test_a_closed_pipe_ends_quietly(tiny_dir, tmp_path, command):
    """`softmaxreg evaluate RUN | head -3`: once the reader has gone, the command stops
    quietly, as Unix tools do (status 141, as a shell reports a SIGPIPE), with no message."""
    run = tmp_path / "run"
    rc, _, err = run_cli("train", "--dataset", "idx", "--data-dir", tiny_dir, "--epochs", "1",
                         "--out", run, "-q")  # fmt: skip
    assert rc == 0, err
    if command == "predict":  # far more output than a pipe holds
        images, _ = make_images(20000, 3, seed=5)
        args = ["predict", "--model", run, write_idx(tmp_path / "many-idx3-ubyte", images)]
    else:
        args = ["evaluate", run]
    proc = subprocess.Popen([sys.executable, "-m", "softmaxreg", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    for _ in range(3):
        proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait() == 141 and err == "", err


def test_resume_and_overwrite_together_are_refused(tiny_dir, tmp_path):
    run = tmp_path / "run"
    rc, _, err = run_cli("train", "--dataset", "idx", "--data-dir", tiny_dir, "--epochs", "1",
                         "--out", run, "-q")  # fmt: skip
    assert rc == 0, err
    before = (run / "model.safetensors").read_bytes()
    rc, out, err = run_cli("train", "--resume", run, "--overwrite")
    assert_clean_error(rc, out, err, "--resume", "--overwrite")
    assert (run / "model.safetensors").read_bytes() == before
