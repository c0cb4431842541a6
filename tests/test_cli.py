"""The command line as a user meets it: one line on stderr and exit status 2 for bad input,
no traceback, nothing left behind that looks complete."""

import json
import signal
import subprocess
import sys

import pytest

from helpers import assert_clean_error, make_images, run_cli, write_dataset
from softmaxreg.data import write_idx


def test_help_does_not_import_torch():
    code = (
        "import sys; from softmaxreg.cli import main\n"
        "try: main(['--help'])\nexcept SystemExit: pass\n"
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def test_data_command_does_not_import_torch(tiny_dir):
    code = (
        "import sys; from softmaxreg.cli import main\n"
        f"assert main(['data', '--dataset', 'idx', '--data-dir', {str(tiny_dir)!r}]) == 0\n"
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "stripe-a" in proc.stdout and "120x28x28" in proc.stdout


def test_train_starts_its_curves_worker_before_torch_loads(tiny_dir, tmp_path):
    """The worker imports matplotlib and rehearses the figure on the other core while torch
    loads: checking the settings (new run or --resume) must not import torch first."""
    probe = (
        "import sys\n"
        "import softmaxreg.views.plots as P\n"
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
    rc, stdout, err = run_cli(
        "train",
        "--dataset",
        "idx",
        "--data-dir",
        tiny_dir,
        "--epochs",
        "3",
        "--batch-size",
        "16",
        "--out",
        out,
    )
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
    rc, stdout, err = run_cli(
        "train",
        "--dataset",
        "idx",
        "--data-dir",
        tiny_dir,
        "--epochs",
        "1",
        "--out",
        tmp_path / "quiet",
        "--quiet",
    )
    assert rc == 0 and stdout == "" and err == ""
    # The same folder again: refused without --overwrite, nothing touched.
    before = (out / "model.safetensors").read_bytes()
    rc, _, err = run_cli("train", "--dataset", "idx", "--data-dir", tiny_dir, "--out", out)
    assert_clean_error(rc, "", err, "--out", "already holds a finished run", "--overwrite")
    assert (out / "model.safetensors").read_bytes() == before


def test_official_name_with_wrong_checksum_leaves_cache_clean(tmp_path, isolated_cache):
    fake = write_dataset(tmp_path / "fake", n_train=60, n_test=10, classes=10)
    out = tmp_path / "run"
    decoded = isolated_cache / "decoded" / "fashion-mnist"
    before = sorted(p.name for p in decoded.iterdir()) if decoded.exists() else []
    rc, so, err = run_cli("train", "--data-dir", fake, "--out", out)
    assert_clean_error(rc, so, err, "train-images-idx3-ubyte.gz", "checksum mismatch")
    after = sorted(p.name for p in decoded.iterdir()) if decoded.exists() else []
    assert after == before and not out.exists()


def test_huge_learning_rate_warns_in_one_line(real_data, tmp_path):
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
    rc, _, err = run_cli(
        "train", "--dataset", "idx", "--data-dir", tiny_dir, "--epochs", "1", "--out", run, "-q"
    )
    assert rc == 0, err
    if command == "predict":  # far more output than a pipe holds
        images, _ = make_images(20000, 3, seed=5)
        args = ["predict", "--model", run, write_idx(tmp_path / "many-idx3-ubyte", images)]
    else:
        args = ["evaluate", run]
    proc = subprocess.Popen(
        [sys.executable, "-m", "softmaxreg", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    for _ in range(3):
        proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait() == 141 and err == "", err


def stopped_run(data_dir, out):
    """A run of `softmaxreg train` stopped with Ctrl-C after its first epoch: a checkpoint,
    no model.safetensors."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "softmaxreg",
            "train",
            "--dataset",
            "idx",
            "--data-dir",
            str(data_dir),
            "--epochs",
            "500",
            "--batch-size",
            "8",
            "--out",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().startswith("epoch"), proc.stderr.read()
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 130
    assert (out / "checkpoint.safetensors").exists() and not (out / "model.safetensors").exists()
    return out


@pytest.mark.parametrize("shape", [(28, 28), (12, 10)])
def test_evaluate_and_report_an_unfinished_run_on_its_own_data(tmp_path, shape):
    folder = tmp_path / "data"
    folder.mkdir()
    for prefix, n in (("train", 300), ("t10k", 40)):
        x, y = make_images(n, 3, seed=len(prefix), shape=shape)
        write_idx(folder / f"{prefix}-images-idx3-ubyte", x)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", y)
    run = stopped_run(folder, tmp_path / "run")
    rc, out, err = run_cli("evaluate", run)
    assert rc == 0, err
    assert out.startswith("test accuracy") and "on 40 images" in out
    rc, out, err = run_cli("report", run)
    assert rc == 0, err
    assert "idx, test accuracy" in (run / "report.html").read_text()


def test_evaluate_on_data_of_another_image_size_is_refused(real_data, tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    for prefix, n in (("train", 300), ("t10k", 40)):
        x, y = make_images(n, 3, seed=len(prefix), shape=(12, 10))
        write_idx(folder / f"{prefix}-images-idx3-ubyte", x)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", y)
    run = stopped_run(folder, tmp_path / "run")
    rc, out, err = run_cli("evaluate", run, "--dataset", "fashion-mnist")
    assert_clean_error(rc, out, err, "12x10", "28x28")
