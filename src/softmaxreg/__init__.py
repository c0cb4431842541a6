"""softmaxreg: train, inspect and serve softmax-regression image classifiers.

    >>> import softmaxreg
    >>> result = softmaxreg.train(epochs=10, out="runs/seed0")   # the book's chapter 3.7
    >>> clf = softmaxreg.load("runs/seed0")
    >>> clf.predict(images)                                      # (n, 28, 28) uint8 or floats
    >>> softmaxreg.SoftmaxRegression().fit(X, y)                 # a scikit-learn estimator

Importing the package is cheap: torch is imported only by training, when it starts; loading a
model and predicting need numpy, Pillow and safetensors alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .version import __version__

if TYPE_CHECKING:
    from .config import TrainConfig
    from .data import load_dataset
    from .estimator import SoftmaxRegression
    from .inference import Classifier
    from .records import RunDir
    from .training.runner import RunResult

__all__ = [
    "__version__",
    "Classifier",
    "RunDir",
    "SoftmaxRegression",
    "TrainConfig",
    "load",
    "load_dataset",
    "train",
]


def train(
    out: str | None = None, *, recipe: str = "book", overwrite: bool = False, **settings: Any
) -> RunResult:
    """Train a run folder with a recipe's settings (see `TrainConfig`); returns a RunResult."""
    from .config import TrainConfig
    from .training.runner import train_run

    return train_run(TrainConfig(recipe, **settings), out, overwrite=overwrite)


def load(run_or_model) -> Classifier:
    """A trained classifier from a run folder or model file, ready for `predict` (numpy only)."""
    from .inference import Classifier

    return Classifier.load(run_or_model)


_LAZY = {
    "TrainConfig": ("config", "TrainConfig"),
    "load_dataset": ("data", "load_dataset"),
    "Classifier": ("inference", "Classifier"),
    "RunDir": ("records", "RunDir"),
    "SoftmaxRegression": ("estimator", "SoftmaxRegression"),  # needs scikit-learn
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(f".{module}", __name__), attr)
    raise AttributeError(f"module 'softmaxreg' has no attribute {name!r}")
