"""softmaxreg compare (runs side by side on one page, opened in headless Chromium) and
softmaxreg runs (every run folder under a folder, with its status)."""

import json
import re

import numpy as np
import pytest

from helpers import page_errors, run_cli
from softmaxreg.config import TrainConfig
from softmaxreg.errors import DivergenceError, Interrupted
from softmaxreg.records import RunDir
from softmaxreg.training.runner import train_run
from softmaxreg.training.sweep import run_sweep


def write_noisy_dataset(folder, n_train=300, n_test=90, classes=3):
    """Toy data hard enough that runs of a few epochs differ in test accuracy: faint class
    stripes under strong noise."""
    from softmaxreg.data import write_idx

    folder.mkdir(parents=True)
    for prefix, n, seed in (("train", n_train, 1), ("t10k", n_test, 2)):
        rng = np.random.default_rng(seed)
        labels = rng.integers(0, classes, n).astype(np.uint8)
        images = rng.integers(0, 200, (n, 28, 28)).astype(np.uint8)
        for c in range(classes):
            images[labels == c, c * 9 : (c + 1) * 9, :] += 50
        write_idx(folder / f"{prefix}-images-idx3-ubyte", images)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", labels)
    return folder


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A sweep of four runs (two with a validation split) and a lone run, on toy data."""
    root = tmp_path_factory.mktemp("runs")
    data = write_noisy_dataset(root / "data")
    common = {"dataset": ["idx"], "data_dir": [str(data)], "epochs": [3]}
    run_sweep({**common, "lr": [0.01, 0.5], "val_fraction": [0.0, 0.2]}, root / "sweep")
    train_run(TrainConfig(dataset="idx", data_dir=str(data), epochs=2, lr=0.02), root / "lone")
    return root


def test_runs_lists_every_run_with_status_and_results(runs, tmp_path):
    from helpers import write_dataset

    data = write_dataset(tmp_path / "data", names=["a", "b", "c"])
    config = TrainConfig(dataset="idx", data_dir=str(data), epochs=3)
    with pytest.raises(Interrupted):  # stopped after its first epoch
        train_run(config, tmp_path / "stopped", should_stop=lambda: True)
    with pytest.raises(DivergenceError):
        train_run(config.replace(lr=1e38), tmp_path / "failed")
    train_run(config, tmp_path / "finished")
    rc, out, err = run_cli("runs", tmp_path)
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["run", "status", "epochs"]
    status = {line.split()[0]: line.split()[1] for line in lines[1:4]}
    assert status == {"failed": "failed", "finished": "finished", "stopped": "stopped"}
    assert lines[4].startswith("failed: failed: training diverged")
    rc, out, err = run_cli("runs", tmp_path, "--json")
    listed = {json.loads(line)["run"]: json.loads(line) for line in out.splitlines()}
    stopped = listed[str(tmp_path / "stopped")]
    assert stopped["status"] == "stopped" and stopped["epochs"] == 1
    finished = RunDir(tmp_path / "finished")
    assert listed[str(finished.path)]["final_test_acc"] == finished.history()[-1].test_acc
    stopped_run = RunDir(tmp_path / "stopped")
    with stopped_run.lock():  # as while a process trains into it (resumes it, say)
        assert stopped_run.status == "running"
    assert stopped_run.status == "stopped"
    # a sweep's runs are found too, below their sweep folder, in the order of its plan
    rc, out, err = run_cli("runs", runs)
    names = [line.split()[0] for line in out.splitlines()[1:]]
    assert names == [
        "lone",
        *(f"sweep/lr={lr},val_fraction={v}" for lr in ("0.01", "0.5") for v in ("0", "0.2")),
    ]


def table_names(page):
    table = page[page.index("<h2>Settings and results</h2>") :]
    return re.findall(r"<span class='swatch'[^>]*></span>([^<]+)</td>", table)


def test_compare_page_sorts_runs_and_highlights_what_differs(runs):
    rc, out, err = run_cli("compare", runs / "sweep", runs / "lone")
    assert rc == 0, err
    page_path = runs / "compare.html"  # the folder that holds the runs
    assert out.strip() == str(page_path)
    page = page_path.read_text()
    names = table_names(page)
    assert sorted(names) == sorted(
        ["lone", *(f"sweep/lr={lr},val_fraction={v}" for lr in (0.01, 0.5) for v in (0, 0.2))]
    )
    accuracy = {name: RunDir(runs / name).history()[-1].test_acc for name in names}
    assert len(set(accuracy.values())) > 2  # the order below says something
    assert [accuracy[n] for n in names] == sorted(accuracy.values(), reverse=True)
    assert re.findall(r"<th class='diff'>(\w+)</th>", page) == [
        "epochs",
        "lr",
        "val_fraction",
    ]
    assert "Same in every run: dataset <code>idx</code>" in page
    assert "a dot marks each run's epoch of lowest validation loss" in page
    for panel in ("train loss", "train acc", "test acc", "val loss", "val acc"):
        assert panel in page, panel
    # self-contained: no scripts, nothing fetched
    assert "<script" not in page and "<link" not in page
    assert not re.findall(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", page)
    rc, out, err = run_cli("compare", runs / "sweep")  # a sweep folder alone: its own page
    assert rc == 0 and out.strip() == str(runs / "sweep" / "compare.html")
    assert len(table_names((runs / "sweep" / "compare.html").read_text())) == 4


@pytest.mark.slow
def test_compare_page_renders_in_headless_chromium(runs, tmp_path, browser):
    page_path = tmp_path / "compare.html"
    rc, _, err = run_cli("compare", runs, "--out", page_path)
    assert rc == 0, err
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    errors = page_errors(page)
    page.goto(page_path.as_uri())
    assert page.title() == "softmaxreg: 5 runs compared"
    assert page.locator("svg").count() >= 1
    assert page.locator("table tr").count() == 6  # the header and five runs
    highlighted = page.locator("td.diff").first.evaluate("e => getComputedStyle(e).backgroundColor")
    plain = page.locator("td.name").first.evaluate("e => getComputedStyle(e).backgroundColor")
    assert highlighted != plain
    shot = tmp_path / "compare.png"
    page.screenshot(path=str(shot), full_page=True)
    page.close()
    assert errors == []
    from PIL import Image

    pixels = np.asarray(Image.open(shot).convert("L"), dtype=np.float32)
    assert pixels.shape[0] > 700 and pixels.std() > 10  # not blank
