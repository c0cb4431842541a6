"""This chapter's part of the book's API (d2l.torch), with the book's signatures and semantics,
but offline and fast: the data set lives in memory and batches are sliced from it (no
DataLoader, no workers, no network), and figures work everywhere: live-updating inside Jupyter,
saved to a file (named on stdout) in a plain script.

The seed chapter runs unchanged except for its import line:

    from softmaxreg import d2l
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import nn

from .data import load_dataset
from .data.sources import FASHION_MNIST
from .views.plots import new_figure, save_figure


def get_fashion_mnist_labels(labels) -> list[str]:
    """Text labels of Fashion-MNIST class indices."""
    return [FASHION_MNIST.classes[int(i)] for i in labels]


class _InMemoryIter:
    """Iterable over (X, y) minibatches: X (B, 1, h, w) float32 in [0, 1], y int64. Training
    batches are reshuffled on every pass (torch's global RNG, as DataLoader(shuffle=True))."""

    def __init__(self, images, labels, batch_size: int, shuffle: bool, resize=None):
        self.images = torch.from_numpy(images).unsqueeze(1)  # uint8 (n, 1, h, w)
        self.labels = torch.from_numpy(labels.astype("int64"))
        self.batch_size, self.shuffle, self.resize = batch_size, shuffle, resize

    def __len__(self) -> int:
        return -(-len(self.labels) // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.labels)
        order = torch.randperm(n) if self.shuffle else None
        for lo in range(0, n, self.batch_size):
            hi = lo + self.batch_size
            if order is None:
                X, y = self.images[lo:hi], self.labels[lo:hi]
            else:
                idx = order[lo:hi]
                X, y = self.images.index_select(0, idx), self.labels.index_select(0, idx)
            X = X.to(torch.float32).div_(255)
            if self.resize:
                size = (self.resize, self.resize) if isinstance(self.resize, int) else self.resize
                X = nn.functional.interpolate(X, size=size, mode="bilinear", antialias=True)
            yield X, y


def load_data_fashion_mnist(batch_size: int, resize=None):
    """(train_iter, test_iter) over Fashion-MNIST, found or fetched like `softmaxreg data`."""
    data = load_dataset("fashion-mnist")
    return (
        _InMemoryIter(data.train_images, data.train_labels, batch_size, True, resize),
        _InMemoryIter(data.test_images, data.test_labels, batch_size, False, resize),
    )


class Accumulator:
    """Sums over n variables."""

    def __init__(self, n: int):
        self.data = [0.0] * n

    def add(self, *args):
        self.data = [a + float(b) for a, b in zip(self.data, args, strict=False)]

    def reset(self):
        self.data = [0.0] * len(self.data)

    def __getitem__(self, idx):
        return self.data[idx]


def accuracy(y_hat, y) -> float:
    """Number of correct predictions."""
    if len(y_hat.shape) > 1 and y_hat.shape[1] > 1:
        y_hat = y_hat.argmax(axis=1)
    cmp = y_hat.type(y.dtype) == y
    return float(cmp.type(y.dtype).sum())


def evaluate_accuracy(net, data_iter) -> float:
    """Accuracy of a model on a data set."""
    if isinstance(net, nn.Module):
        net.eval()
    metric = Accumulator(2)
    with torch.no_grad():
        for X, y in data_iter:
            metric.add(accuracy(net(X), y), y.numel())
    return metric[0] / metric[1]


def train_epoch_ch3(net, train_iter, loss, updater):
    """One training epoch (chapter 3); returns (train loss, train accuracy)."""
    if isinstance(net, nn.Module):
        net.train()
    metric = Accumulator(3)
    for X, y in train_iter:
        y_hat = net(X)
        l = loss(y_hat, y)  # noqa: E741 - the book's name
        if isinstance(updater, torch.optim.Optimizer):
            updater.zero_grad()
            l.mean().backward()
            updater.step()
        else:
            l.sum().backward()
            updater(X.shape[0])
        metric.add(float(l.sum()), accuracy(y_hat, y), y.numel())
    return metric[0] / metric[2], metric[1] / metric[2]


def _in_notebook() -> bool:
    shell = sys.modules.get("IPython")
    try:
        return shell is not None and type(shell.get_ipython()).__name__ == "ZMQInteractiveShell"
    except Exception:
        return False


class Animator:
    """Plots data incrementally: redrawn in place inside Jupyter; in a script, saved to an SVG
    file (its path printed once on stdout) after every point."""

    _count = 0

    def __init__(
        self,
        xlabel=None,
        ylabel=None,
        legend=None,
        xlim=None,
        ylim=None,
        xscale="linear",
        yscale="linear",
        fmts=("-", "m--", "g-.", "r:"),
        nrows=1,
        ncols=1,
        figsize=(3.5, 2.5),
        path=None,
    ):
        self.fig = new_figure(figsize=figsize)
        axes = self.fig.subplots(nrows, ncols)
        self.axes = [axes] if nrows * ncols == 1 else list(axes.flat)
        self.config = (xlabel, ylabel, xlim, ylim, xscale, yscale, legend or [])
        self.X, self.Y, self.fmts = None, None, fmts
        Animator._count += 1
        folder = Path(os.environ.get("SOFTMAXREG_FIGURES", "."))
        self.path = Path(path) if path else folder / f"d2l-figure-{Animator._count}.svg"
        self._announced = False
        self._display = None

    def add(self, x, y):
        if not hasattr(y, "__len__"):
            y = [y]
        n = len(y)
        if not hasattr(x, "__len__"):
            x = [x] * n
        if not self.X:
            self.X = [[] for _ in range(n)]
        if not self.Y:
            self.Y = [[] for _ in range(n)]
        for i, (a, b) in enumerate(zip(x, y, strict=False)):
            if a is not None and b is not None:
                self.X[i].append(a)
                self.Y[i].append(b)
        ax = self.axes[0]
        ax.cla()
        for xs, ys, fmt in zip(self.X, self.Y, self.fmts, strict=False):
            ax.plot(xs, ys, fmt)
        xlabel, ylabel, xlim, ylim, xscale, yscale, legend = self.config
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_xscale(xscale)
        ax.set_yscale(yscale)
        if xlim:
            ax.set_xlim(xlim)
        if ylim:
            ax.set_ylim(ylim)
        if legend:
            ax.legend(legend)
        ax.grid()
        self.show()

    def show(self):
        save_figure(self.fig, self.path)
        if _in_notebook():
            self._display = _show_in_notebook(self.fig, self._display)
        elif not self._announced:
            print(f"figure: {self.path}", flush=True)
            self._announced = True


def _show_in_notebook(fig, handle=None):
    """Show `fig` as inline SVG, replacing the earlier drawing when `handle` is given."""
    import io

    from IPython import display

    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    svg = display.SVG(data=buf.getvalue())
    if handle is None:
        return display.display(svg, display_id=True)
    handle.update(svg)
    return handle


def train_ch3(net, train_iter, test_iter, loss, num_epochs, updater):
    """Train a model (chapter 3), drawing the book's figure; checks the book's bounds."""
    animator = Animator(
        xlabel="epoch",
        xlim=[1, num_epochs],
        ylim=[0.3, 0.9],
        legend=["train loss", "train acc", "test acc"],
    )
    for epoch in range(num_epochs):
        train_metrics = train_epoch_ch3(net, train_iter, loss, updater)
        test_acc = evaluate_accuracy(net, test_iter)
        animator.add(epoch + 1, train_metrics + (test_acc,))
    train_loss, train_acc = train_metrics
    assert train_loss < 0.5, train_loss
    assert train_acc <= 1 and train_acc > 0.7, train_acc
    assert test_acc <= 1 and test_acc > 0.7, test_acc


def show_images(imgs, num_rows, num_cols, titles=None, scale=1.5, path=None):
    """A grid of images; saved to a file named on stdout outside Jupyter. Returns the axes."""
    fig = new_figure(figsize=(num_cols * scale, num_rows * scale))
    axes = fig.subplots(num_rows, num_cols, squeeze=False).flatten()
    for i, (ax, img) in enumerate(zip(axes, imgs, strict=False)):
        ax.imshow(img.numpy() if torch.is_tensor(img) else img, cmap="gray")
        ax.axes.get_xaxis().set_visible(False)
        ax.axes.get_yaxis().set_visible(False)
        if titles:
            ax.set_title(titles[i], fontsize=8)
    Animator._count += 1
    folder = Path(os.environ.get("SOFTMAXREG_FIGURES", "."))
    target = Path(path) if path else folder / f"d2l-figure-{Animator._count}.svg"
    save_figure(fig, target)
    if _in_notebook():
        _show_in_notebook(fig)
    else:
        print(f"figure: {target}", flush=True)
    return axes


def predict_ch3(net, test_iter, n=6):
    """Predict labels of the first n test images and show them with the true labels."""
    X, y = next(iter(test_iter))
    trues = get_fashion_mnist_labels(y)
    preds = get_fashion_mnist_labels(net(X).argmax(axis=1))
    titles = [true + "\n" + pred for true, pred in zip(trues, preds, strict=False)]
    show_images(X[0:n].reshape((n, *X.shape[2:])), 1, n, titles=titles[0:n])
