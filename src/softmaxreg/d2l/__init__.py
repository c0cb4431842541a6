"""The book's API (`d2l.torch` of *Dive into Deep Learning*), both editions, with the book's
signatures and semantics, but offline and fast: Fashion-MNIST lives in memory and batches are
sliced from it (no DataLoader workers, no network), and figures work everywhere: live inside
Jupyter, saved to files (named on stdout) in a plain script.

    from softmaxreg import d2l      # the book has: from d2l import torch as d2l

- The seed's edition (d2l 0.17), chapter 3: `load_data_fashion_mnist`, `train_ch3`, `sgd`,
  `synthetic_data`, `Animator`, ... (seed.py, figures.py).
- The current edition (d2l 1.0), chapters 3 and 4: `Module`, `DataModule`, `Trainer`,
  `add_to_class`, `FashionMNIST`, `Classifier`, `SoftmaxRegression`, ... (utilities.py, board.py,
  framework.py, models.py).

The two editions' names do not clash, so this module serves both. `softmaxreg book FILE` runs
the book's code with its own import line and serves one edition (editions.py). A name the book
defines in another chapter is refused with one line saying where it belongs.
"""

from __future__ import annotations

from .board import ProgressBoard
from .editions import IMPLEMENTED, LAZY_MODULES, MODULES, NotServed, lazy_module, refusal
from .figures import Animator, plot, set_axes, set_figsize, show_images, use_svg_display
from .framework import DataModule, Module, Trainer
from .models import (
    SGD,
    Classifier,
    FashionMNIST,
    LinearRegression,
    LinearRegressionScratch,
    SoftmaxRegression,
    SyntheticRegressionData,
)
from .seed import (
    Accumulator,
    Timer,
    accuracy,
    evaluate_accuracy,
    evaluate_loss,
    get_dataloader_workers,
    get_fashion_mnist_labels,
    linreg,
    load_array,
    load_data_fashion_mnist,
    predict_ch3,
    sgd,
    squared_loss,
    synthetic_data,
    train_ch3,
    train_epoch_ch3,
)
from .utilities import HyperParameters, add_to_class

__all__ = [
    # figures (both editions)
    "use_svg_display", "set_figsize", "set_axes", "plot", "show_images", "Animator",
    # the seed's edition, chapter 3
    "Timer", "synthetic_data", "linreg", "squared_loss", "sgd", "load_array",
    "get_fashion_mnist_labels", "get_dataloader_workers", "load_data_fashion_mnist",
    "Accumulator", "accuracy", "evaluate_accuracy", "train_epoch_ch3", "train_ch3",
    "predict_ch3", "evaluate_loss",
    # the current edition, chapters 3 and 4
    "add_to_class", "HyperParameters", "ProgressBoard", "Module", "DataModule", "Trainer",
    "SGD", "SyntheticRegressionData", "LinearRegressionScratch", "LinearRegression",
    "FashionMNIST", "Classifier", "SoftmaxRegression",
]  # fmt: skip

# The book's tensor aliases (d2l.tensor, d2l.reshape, ...) and device helpers, and the modules
# its code reaches through `d2l.` (d2l.torch, d2l.nn, d2l.np, ...).
_extra = {k: v for k, v in {**IMPLEMENTED, **MODULES}.items() if k not in globals()}
globals().update(_extra)
__all__ += sorted(k for k in _extra if k in IMPLEMENTED)


def __getattr__(name: str):
    if name in LAZY_MODULES:  # pyplot costs half a second to import: only when asked for
        return lazy_module(name)
    if name.startswith("__"):
        raise AttributeError(name)
    raise NotServed(refusal(name, None))
