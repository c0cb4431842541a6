"""The current edition's two building blocks for object-oriented code (d2l 1.0, section 3.2):
`add_to_class`, which lets the book define a class one method per cell, and `HyperParameters`,
which turns an `__init__`'s arguments into attributes."""

from __future__ import annotations

import sys


def add_to_class(Class):
    """Decorator: set the decorated function as a method (or attribute) of `Class`. Like the
    book's, it returns None, so the name is not also bound where the function is defined."""

    def register(obj) -> None:
        setattr(Class, obj.__name__, obj)

    return register


class HyperParameters:
    """Base class whose `save_hyperparameters()` stores the arguments of the calling
    `__init__` as attributes (and in `self.hparams`)."""

    def save_hyperparameters(self, ignore=[]) -> None:  # noqa: B006 - the book's signature
        """Save the caller's arguments (its local variables other than `self`, those named in
        `ignore` and private ones) into attributes of the same names."""
        caller = sys._getframe(1).f_locals  # the __init__ that called us
        skip = set(ignore) | {"self"}
        self.hparams = {k: v for k, v in caller.items()
                        if k not in skip and not k.startswith("_")}  # fmt: skip
        for name, value in self.hparams.items():
            setattr(self, name, value)
