"""Shared fixtures: small generated IDX data sets, an isolated cache, the real Fashion-MNIST.

Tests that need the real data set skip when it is missing on a developer's machine, but fail
under CI=true: there the project's own set-up (make test) must have installed it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from softmaxreg.data import write_idx

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(autouse=True)
def isolated_cache(session_cache, monkeypatch) -> Path:
    """Every test uses a cache under tmp (shared by the session, so the real data set is
    verified once), never the user's, and ignores the caller's SOFTMAXREG_DATA."""
    monkeypatch.setenv("SOFTMAXREG_CACHE", str(session_cache))
    monkeypatch.delenv("SOFTMAXREG_DATA", raising=False)
    return session_cache


@pytest.fixture(scope="session")
def real_data(session_cache):
    os.environ["SOFTMAXREG_CACHE"] = str(session_cache)
    from softmaxreg.data import load_dataset
    from softmaxreg.errors import DatasetNotFound

    try:
        return load_dataset("fashion-mnist", download=False)
    except DatasetNotFound as exc:
        if IN_CI:
            pytest.fail(f"CI=true and Fashion-MNIST is missing: {exc}")
        pytest.skip(f"Fashion-MNIST not installed: {exc}")


def make_images(n: int, classes: int, seed: int = 0, shape=(28, 28)):
    """Learnable toy data: each class is a bright stripe at its own rows, plus noise."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n).astype(np.uint8)
    images = rng.integers(0, 60, (n, *shape)).astype(np.uint8)
    band = max(1, shape[0] // classes)
    for c in range(classes):
        images[labels == c, c * band : (c + 1) * band, :] = 220
    return images, labels


def write_dataset(folder: Path, n_train=120, n_test=40, classes=3, gz=True, names=None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    tr_x, tr_y = make_images(n_train, classes, seed=1)
    te_x, te_y = make_images(n_test, classes, seed=2)
    write_idx(folder / f"train-images-idx3-ubyte{suffix}", tr_x)
    write_idx(folder / f"train-labels-idx1-ubyte{suffix}", tr_y)
    write_idx(folder / f"t10k-images-idx3-ubyte{suffix}", te_x)
    write_idx(folder / f"t10k-labels-idx1-ubyte{suffix}", te_y)
    if names:
        (folder / "classes.txt").write_text("\n".join(names) + "\n")
    return folder


@pytest.fixture
def tiny_dir(tmp_path) -> Path:
    return write_dataset(tmp_path / "tiny", names=["stripe-a", "stripe-b", "stripe-c"])


def run_cli(*args, env_extra=None, timeout=300):
    """`python -m softmaxreg ARGS` in a subprocess: (returncode, stdout, stderr)."""
    env = {**os.environ, **(env_extra or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "softmaxreg", *map(str, args)],
        capture_output=True, text=True, env=env, timeout=timeout,
    )  # fmt: skip
    return proc.returncode, proc.stdout, proc.stderr
