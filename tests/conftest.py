"""Fixtures: an isolated cache, the real Fashion-MNIST, small generated IDX data sets.

Tests that need the real data set are marked `realdata` (automatically, from the fixture);
they skip when it is missing on a developer's machine, but fail under CI=true: there the
project's own set-up (make test) must have installed it. Shared helpers are in helpers.py.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from helpers import IN_CI, run_cli, write_dataset


def pytest_collection_modifyitems(items):
    for item in items:
        if "real_data" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.realdata)


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


# Debian's chromium, driven by Playwright (its own browser download cannot work offline). The
# background-networking flags keep it from trying the closed network at every start.
CHROMIUM = os.environ.get("SOFTMAXREG_CHROMIUM") or shutil.which("chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-sync",
    "--disable-background-networking",
    "--disable-component-update",
]


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium for a module's pages; under CI=true a missing one is a failure
    (`make test` installs Debian's chromium)."""
    if not CHROMIUM:
        if IN_CI:
            pytest.fail("CI=true and no chromium: make test installs Debian's chromium")
        pytest.skip("chromium not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        yield launched
        launched.close()


@dataclass(frozen=True)
class TinyRun:
    path: Path  # a finished run folder, one epoch on `data`
    data: Path  # its IDX data set: three classes of striped 28x28 images


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> TinyRun:
    """A small finished run, trained once per session through the command line, for tests
    that need a model (and may add files to its folder, never change its run files)."""
    folder = tmp_path_factory.mktemp("tiny-run")
    data = write_dataset(folder / "data", names=["a", "b", "c"])
    run = folder / "run"
    rc, _, err = run_cli(
        "train", "--dataset", "idx", "--data-dir", data, "--epochs", "1", "--out", run, "-q"
    )
    assert rc == 0, err
    return TinyRun(run, data)


@pytest.fixture
def tiny_dir(tmp_path) -> Path:
    return write_dataset(tmp_path / "tiny", names=["stripe-a", "stripe-b", "stripe-c"])
