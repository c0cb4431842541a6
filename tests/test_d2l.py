"""The book's API: the seed chapter's code runs unchanged (import line aside) and passes the
book's own checks inside train_ch3, leaving its figure; the batches are the book's, bit for bit;
each edition serves its own names. (tests/book/ runs the book's sections, both editions.)"""

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
    # The book's names, not the data set's own ("T-shirt/top", "Ankle boot").
    assert d2l.get_fashion_mnist_labels([0, 9]) == ["t-shirt", "ankle boot"]
    assert d2l.get_fashion_mnist_labels(torch.tensor([6, 7])) == ["shirt", "sneaker"]
    assert d2l.accuracy(torch.tensor([[0.1, 0.9], [0.8, 0.2]]), torch.tensor([1, 1])) == 1.0


def test_seed_chapter_script_runs_and_saves_its_figures(real_data, tmp_path):
    env_script = ROOT / "examples" / "softmax_regression_concise.py"
    proc = subprocess.run([sys.executable, str(env_script)], capture_output=True, text=True,
                          cwd=tmp_path, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    figures = [line.split(": ", 1)[1] for line in proc.stdout.splitlines()
               if line.startswith("figure: ")]  # fmt: skip
    assert len(figures) == 2
    curves = (tmp_path / figures[0]).read_text()
    assert "train loss" in curves and "test acc" in curves
    assert (tmp_path / figures[1]).stat().st_size > 1000


def test_seed_chapter_notebook_runs_with_live_figures(real_data, tmp_path):
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(ROOT / "examples" / "softmax_regression_concise.ipynb", as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()  # fmt: skip
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    svgs = [o for o in outputs if "image/svg+xml" in o.get("data", {})]
    assert len(svgs) >= 2  # the training curves and the prediction grid, drawn inline
    assert "train loss" in svgs[0]["data"]["image/svg+xml"]
    assert sorted(p.name for p in tmp_path.glob("d2l-figure-*.svg"))  # and saved as files


def test_batches_are_to_tensors_bytes_and_shuffle_like_a_dataloader(real_data):
    """A shuffled DataLoader draws one seed from the global generator per pass and one for its
    sampler; ours draw the same, so the same seed gives the same batches (and the same numbers
    afterwards) as the book's torchvision pipeline."""
    from torch.utils.data import DataLoader, TensorDataset

    train_iter, test_iter = d2l.load_data_fashion_mnist(256)
    labels = torch.from_numpy(real_data.train_labels.astype("int64"))
    images = torch.from_numpy(real_data.train_images)
    reference = DataLoader(TensorDataset(torch.arange(len(labels))), 256, shuffle=True)
    for seed in (0, 7):
        torch.manual_seed(seed)
        (expected,) = next(iter(reference))
        after_reference = torch.rand(3)
        torch.manual_seed(seed)
        X, y = next(iter(train_iter))
        assert torch.equal(y, labels[expected]) and torch.equal(torch.rand(3), after_reference)
        # ToTensor: uint8 → float32, divided by 255, exactly.
        assert torch.equal(X[:, 0], images[expected].to(torch.float32) / 255)
    torch.manual_seed(3)
    next(iter(DataLoader(TensorDataset(torch.arange(10)), 5)))
    expected_after_test_pass = torch.rand(3)
    torch.manual_seed(3)
    next(iter(test_iter))
    assert torch.equal(torch.rand(3), expected_after_test_pass)


def test_resize_is_pillows_bilinear_exactly(real_data):
    """torchvision's Resize hands each image to Pillow: ours gives the same bytes."""
    import numpy as np
    from PIL import Image

    first = real_data.test_images[:32]
    for resize, (height, width) in ((64, (64, 64)), ((32, 32), (32, 32)), ((14, 40), (14, 40)),
                                    ((20, 9), (20, 9))):  # fmt: skip
        X, _ = next(iter(d2l.load_data_fashion_mnist(32, resize=resize)[1]))
        pillow = np.stack([np.asarray(Image.fromarray(img).resize((width, height),
                                                                  Image.BILINEAR))
                           for img in first])  # fmt: skip
        assert X.shape == (32, 1, height, width)
        assert torch.equal(X[:, 0], torch.from_numpy(pillow).to(torch.float32) / 255)
    data = d2l.FashionMNIST(resize=(32, 32))
    assert data.train[0][0].shape == (1, 32, 32) and data.train[0][1] == real_data.train_labels[0]


def test_each_edition_serves_its_own_names():
    from softmaxreg.d2l.editions import CURRENT, SEED, BookModule, NotServed

    seed, current = BookModule("d2l.torch", SEED), BookModule("d2l.torch", CURRENT)
    assert seed.train_ch3 is d2l.train_ch3 and current.Trainer is d2l.Trainer
    assert not hasattr(seed, "Trainer") and not hasattr(current, "train_ch3")
    # Names the current edition keeps (in its appendix) are served by both.
    assert current.load_data_fashion_mnist is seed.load_data_fashion_mnist
    assert current.randn is torch.randn and not hasattr(seed, "randn")
    assert seed.torch is torch and seed.d2l is seed
    with pytest.raises(NotServed) as refusal:
        current.LeNet  # noqa: B018 - the attribute lookup is what is tested
    message = str(refusal.value)
    assert "d2l.LeNet" in message and "chapter 7" in message and "\n" not in message
    assert isinstance(refusal.value, AttributeError)  # so hasattr() stays False


def test_the_edition_is_told_by_the_names_the_code_uses():
    from softmaxreg.d2l.editions import detect_edition, names_used
    from softmaxreg.errors import SoftmaxRegError

    seed_code = "from d2l import torch as d2l\nd2l.train_ch3(net)\n"
    current_code = "%matplotlib inline\nimport d2l.torch as book\nbook.Trainer(max_epochs=3)\n"
    assert names_used(current_code) == {"Trainer"}
    assert detect_edition(seed_code) == "0.17" and detect_edition(current_code) == "1.0"
    assert detect_edition("from d2l.torch import FashionMNIST\n") == "1.0"
    assert detect_edition("from d2l import torch as d2l\nd2l.plot([1, 2])\n") == "0.17"
    with pytest.raises(SoftmaxRegError, match=r"d2l\.train_ch3 .* d2l\.Module"):
        detect_edition(seed_code + "d2l.Module\n")


def test_the_live_board_is_saved_when_training_ends(real_data, tmp_path, monkeypatch):
    monkeypatch.setenv("SOFTMAXREG_FIGURES", str(tmp_path))
    model = d2l.SoftmaxRegression(num_outputs=10, lr=0.1)
    data = d2l.FashionMNIST(batch_size=1000)
    d2l.Trainer(max_epochs=1).fit(model, data)
    svg = model.board._live.path.read_text()
    assert model.board._live.path.parent == tmp_path
    assert "val_acc" in svg and "train_loss" in svg
    assert [len(model.board.data[k]) for k in ("train_loss", "val_loss", "val_acc")] == [2, 1, 1]
    assert 0.6 < float(model.board.data["val_acc"][-1].y) < 0.85
