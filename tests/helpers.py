"""What several test modules share: generated data sets, the CLI in a subprocess, and the
checks of a one-line error. (Fixtures live in conftest.py.)"""

from __future__ import annotations

import os
import re
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from softmaxreg.data import write_idx

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
NAMES = ("bag", "coat", "shirt")


def make_images(n: int, classes: int, seed: int = 0, shape=(28, 28)):
    """Learnable toy data: each class is a bright stripe at its own rows, plus noise."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n).astype(np.uint8)
    images = rng.integers(0, 60, (n, *shape)).astype(np.uint8)
    band = max(1, shape[0] // classes)
    for c in range(classes):
        images[labels == c, c * band : (c + 1) * band, :] = 220
    return images, labels


def write_dataset(
    folder: Path, n_train=120, n_test=40, classes=3, gz=True, names=None, shape=(28, 28)
) -> Path:
    """The four IDX files of a toy data set (and classes.txt when `names` are given)."""
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    for prefix, n, seed in (("train", n_train, 1), ("t10k", n_test, 2)):
        x, y = make_images(n, classes, seed=seed, shape=shape)
        write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", x)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", y)
    if names:
        (folder / "classes.txt").write_text("\n".join(names) + "\n")
    return folder


def page_errors(page) -> list[str]:
    """The console errors and uncaught exceptions a Playwright page reports from now on."""
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return errors


def peak_memory_line() -> str:
    """Python code that prints this process's own peak resident memory in bytes (VmHWM: the
    peak of the address space exec made; getrusage's ru_maxrss would carry over the parent's
    high-water mark through a vfork and exec)."""
    return 'print(int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0]) * 1024)'


def idx_header(type_byte=0x08, dims=(2, 28, 28), magic=b"\0\0") -> bytes:
    return magic + bytes([type_byte, len(dims)]) + struct.pack(f">{len(dims)}I", *dims)


def run_cli(*args, env_extra=None, timeout=300):
    """`python -m softmaxreg ARGS` in a subprocess: (returncode, stdout, stderr)."""
    env = {**os.environ, **(env_extra or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "softmaxreg", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )
    return proc.returncode, proc.stdout, proc.stderr


def assert_clean_error(rc, out, err, *needles):
    """Exit status 2 and one line on stderr, no traceback, holding every needle."""
    assert rc == 2, (rc, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def kaggle_header(pixels: int) -> str:
    return "label," + ",".join(f"pixel{i + 1}" for i in range(pixels)) + "\n"


def write_csv(path: Path, images, labels, header=True) -> Path:
    """Kaggle's layout: `label,pixel1,...`, one image per row; labels may be names."""
    flat = images.reshape(len(images), -1)
    with open(path, "w") as f:
        if header:
            f.write(kaggle_header(flat.shape[1]))
        for label, row in zip(labels, flat.tolist(), strict=True):
            f.write(f"{label}," + ",".join(map(str, row)) + "\n")
    return path


def make_picture_folders(root: Path, images, labels, names=NAMES) -> list[Path]:
    """ImageFolder layout, pictures named so that their sorted order is the array's order."""
    paths = []
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        path = root / names[label] / f"{i:04d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(path)
        paths.append(path)
    return paths


def require_serve_extra() -> None:
    """Skip a test of the server where its extra is missing, but fail under CI=true, where
    `make test` must have installed it."""
    import importlib.util

    import pytest

    missing = [m for m in SERVE_MODULES if importlib.util.find_spec(m) is None]
    if missing and IN_CI:
        pytest.fail(f"CI=true and {', '.join(missing)} missing: make test installs the extras")
    if missing:
        pytest.skip(
            f"the serve extra is not installed ({', '.join(missing)})", allow_module_level=True
        )


SERVE_MODULES = ("fastapi", "uvicorn", "python_multipart")


class Server:
    """`softmaxreg serve RUN --port 0` in a subprocess, as a user starts it. Ready once it has
    printed its address (it listens before it prints) and answered GET /health: events, not a
    sleep. Stopped with Ctrl-C's signal on leaving."""

    def __init__(self, run: Path, *args: str) -> None:
        self.argv = [sys.executable, "-m", "softmaxreg", "serve", str(run), "--port", "0", *args]

    def __enter__(self) -> Server:
        import signal
        import tempfile

        self.signal = signal
        self.log = tempfile.TemporaryFile(mode="w+")  # a file: a full pipe would stall it
        self.proc = subprocess.Popen(
            self.argv, stdout=subprocess.PIPE, stderr=self.log, text=True, bufsize=1
        )
        line = _first_line(self.proc)
        found = re.search(r"http://\S+", line)
        if not found:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"the server did not start: {line!r} {self.stderr()}")
        self.url = found.group(0)
        self.health = self.get_json("/health")
        return self

    def __exit__(self, *exc) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(self.signal.SIGINT)
            self.proc.wait(timeout=60)

    def stderr(self) -> str:
        self.log.seek(0)
        return self.log.read()

    def request(self, method: str, path: str, body=None, headers=None):
        """(status, parsed JSON or text) of one request; 4xx and 5xx are answers too."""
        import json
        import urllib.error
        import urllib.request

        req = urllib.request.Request(self.url + path, body, headers or {}, method=method)
        try:
            with urllib.request.urlopen(req, timeout=120) as response:
                status, kind, raw = (
                    response.status,
                    response.headers["content-type"],
                    response.read(),
                )
        except urllib.error.HTTPError as exc:
            status, kind, raw = exc.code, exc.headers["content-type"], exc.read()
        return status, json.loads(raw) if kind == "application/json" else raw.decode()

    def get_json(self, path: str):
        status, answer = self.request("GET", path)
        assert status == 200, (status, answer)
        return answer


def _first_line(proc: subprocess.Popen, timeout: float = 120) -> str:
    """The process's first line of stdout, or '' if it ends first; the timeout only keeps a
    broken start from hanging the suite."""
    import queue
    import threading

    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(proc.stdout.readline()), daemon=True).start()
    try:
        return lines.get(timeout=timeout)
    except queue.Empty:
        return ""


def multipart(fields: dict[str, tuple[str | None, bytes]]) -> tuple[bytes, str]:
    """A multipart/form-data body and its Content-Type: name -> (file name or None, bytes)."""
    import uuid

    boundary = uuid.uuid4().hex
    parts = []
    for name, (filename, data) in fields.items():
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
            head = f"Content-Disposition: {disposition}\r\nContent-Type: application/octet-stream"
        else:
            head = f"Content-Disposition: {disposition}"
        parts.append(f"--{boundary}\r\n{head}\r\n\r\n".encode() + data + b"\r\n")
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def metrics_rows(run: Path) -> list[dict[str, str]]:
    """A run's metrics.csv rows without the seconds column: what two runs of the same
    computation must agree on to the last digit."""
    import csv

    with open(Path(run) / "metrics.csv", newline="") as f:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(f)]


def same_model(a: Path, b: Path) -> bool:
    """Whether two runs' model files hold the very same tensors."""
    from safetensors.numpy import load_file

    x, y = load_file(Path(a) / "model.safetensors"), load_file(Path(b) / "model.safetensors")
    return x.keys() == y.keys() and all(np.array_equal(x[k], y[k]) for k in x)


class StopAt:
    """A training callback whose `flag` turns true after step `step` of epoch `epoch` (both
    counted from 1): pass `should_stop=lambda: stopper.flag` to stop a run there."""

    def __init__(self, epoch: int, step: int) -> None:
        self.epoch, self.step, self.current, self.flag = epoch, step, 0, False

    def on_epoch_start(self, epoch: int, steps: int) -> None:
        self.current = epoch

    def on_step(self, step: int, steps: int) -> None:
        self.flag = self.flag or (self.current == self.epoch and step == self.step)


def train_until(config, path, epoch: int, step: int, dataset) -> None:
    """Train `config` into `path` and stop it (as Ctrl-C would) after `step` of `epoch`."""
    import pytest

    from softmaxreg.errors import Interrupted
    from softmaxreg.training.runner import train_run

    stopper = StopAt(epoch, step)
    with pytest.raises(Interrupted):
        train_run(
            config,
            path,
            dataset=dataset,
            callbacks=[stopper],
            should_stop=lambda: stopper.flag,
            handle_signals=False,
        )
