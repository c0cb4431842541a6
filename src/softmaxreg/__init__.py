"""softmaxreg: train, inspect and serve softmax-regression image classifiers.

    >>> import softmaxreg
    >>> result = softmaxreg.train(epochs=10, out="runs/seed0")   # the book's chapter 3.7
    >>> clf = softmaxreg.load("runs/seed0")
    >>> clf.predict(images)                                      # (n, 28, 28) uint8 or floats

Importing the package is cheap: torch is imported by the functions that need it.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "load", "train", "load_dataset", "TrainConfig"]


def train(out: str | None = None, *, recipe: str = "seed", overwrite: bool = False, **settings):
    """Train a run folder with a recipe's settings (see `TrainConfig`); returns a RunResult."""
    from .config import TrainConfig
    from .runner import train_run

    return train_run(TrainConfig.from_recipe(recipe, **settings), out, overwrite=overwrite)


def load(run_or_model, device: str = "cpu"):
    """A trained classifier from a run folder or model file, ready for `predict`."""
    from .classifier import Classifier

    return Classifier.load(run_or_model, device=device)


def __getattr__(name: str):
    if name == "load_dataset":
        from .data import load_dataset

        return load_dataset
    if name == "TrainConfig":
        from .config import TrainConfig

        return TrainConfig
    raise AttributeError(f"module 'softmaxreg' has no attribute {name!r}")
