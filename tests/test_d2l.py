"""The book's API: the seed chapter's code runs unchanged (import line aside) and passes the
book's own checks inside train_ch3, leaving its figure."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from softmaxreg import d2l

ROOT = Path(__file__).resolve().parents[1]


def test_iterators_have_the_books_shapes(real_data):
    train_iter, test_iter = d2l.load_data_fashion_mnist(256)
    X, y = next(iter(train_iter))
    assert X.shape == (256, 1, 28, 28) and X.dtype == torch.float32
    assert y.dtype == torch.int64 and 0 <= X.min() and X.max() <= 1
    first_test = next(iter(test_iter))[1]
    assert torch.equal(first_test, torch.from_numpy(real_data.test_labels[:256].astype("int64")))
    assert len(train_iter) == 235 and len(test_iter) == 40
    a, b = next(iter(train_iter))[1], next(iter(train_iter))[1]
    assert not torch.equal(a, b)  # reshuffled every pass
    Xr, _ = next(iter(d2l.load_data_fashion_mnist(32, resize=64)[1]))
    assert Xr.shape == (32, 1, 64, 64)
    assert d2l.get_fashion_mnist_labels([0, 9]) == ["T-shirt/top", "Ankle boot"]
    assert d2l.accuracy(torch.tensor([[0.1, 0.9], [0.8, 0.2]]), torch.tensor([1, 1])) == 1.0


@pytest.mark.slow
def test_seed_chapter_script_runs_and_saves_its_figures(real_data, tmp_path):
    env_script = ROOT / "examples" / "softmax_regression_concise.py"
    proc = subprocess.run(
        [sys.executable, str(env_script)], capture_output=True, text=True, cwd=tmp_path, timeout=600
    )
    assert proc.returncode == 0, proc.stderr
    figures = [
        line.split(": ", 1)[1] for line in proc.stdout.splitlines() if line.startswith("figure: ")
    ]
    assert len(figures) == 2
    curves = (tmp_path / figures[0]).read_text()
    assert "train loss" in curves and "test acc" in curves
    assert (tmp_path / figures[1]).stat().st_size > 1000


@pytest.mark.slow
def test_seed_chapter_notebook_runs_with_live_figures(real_data, tmp_path):
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(ROOT / "examples" / "softmax_regression_concise.ipynb", as_version=4)
    NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    svgs = [o for o in outputs if "image/svg+xml" in o.get("data", {})]
    assert len(svgs) >= 2  # the training curves and the prediction grid, drawn inline
    assert "train loss" in svgs[0]["data"]["image/svg+xml"]
    assert sorted(p.name for p in tmp_path.glob("d2l-figure-*.svg"))  # and saved as files
