"""The book's two editions as modules: which names each serves, the one-line refusal of a name
it does not, and which edition a piece of code is written for.

- 0.17 (`SEED`): the seed's edition; chapter 3 "Linear Neural Networks", functions such as
  `train_ch3`.
- 1.0 (`CURRENT`): the book's web site today; the seed's section is 4.5 there, written with the
  classes `Module`, `DataModule`, `Trainer` and `@add_to_class`.

An edition's module serves a name only if that edition's own `d2l.torch` has it (with the same
meaning), so code that runs here runs on the book's package too.
"""

from __future__ import annotations

import ast
import collections
import math
import os
import random
import re
import sys
import time
import types

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils import data

from ..errors import SoftmaxRegError
from . import book_index, figures, framework, models, seed, tensors, utilities
from .board import ProgressBoard

SEED, CURRENT = "0.17", "1.0"
EDITIONS = (SEED, CURRENT)
VERSIONS = {SEED: "0.17.6", CURRENT: "1.0.3"}
INDEX = {SEED: book_index.SEED_NAMES, CURRENT: book_index.CURRENT_NAMES}
SECTIONS = {SEED: book_index.SEED_SECTIONS, CURRENT: book_index.CURRENT_SECTIONS}
CHAPTERS = {SEED: book_index.SEED_CHAPTERS, CURRENT: book_index.CURRENT_CHAPTERS}
# What softmaxreg covers of each edition, for the refusal message.
COVERED = {SEED: "chapter 3 (Linear Neural Networks)",
           CURRENT: "chapters 3 and 4 (Linear Neural Networks for Regression, "
                    "for Classification)"}  # fmt: skip


def _implemented() -> dict[str, object]:
    """Every book name softmaxreg implements, whichever edition has it."""
    names: dict[str, object] = {}
    book = INDEX[SEED].keys() | INDEX[CURRENT].keys()
    for module in (figures, seed, utilities, framework, models):
        names.update({k: v for k, v in vars(module).items() if k in book})
    names["ProgressBoard"] = ProgressBoard
    for name in tensors.CURRENT_ALIASES + tensors.DEVICE_HELPERS:
        names[name] = getattr(tensors, name)
    names["nn_Module"] = nn.Module
    return names


IMPLEMENTED = _implemented()
# The modules the book's `d2l.torch` imports and its code reaches through `d2l.` (`d2l.plt`
# is imported on first use: see `BookModule.__getattr__`).
MODULES = {"np": np, "torch": torch, "nn": nn, "F": F, "data": data, "math": math, "os": os,
           "random": random, "re": re, "sys": sys, "time": time,
           "collections": collections}  # fmt: skip


# Modules the book's `d2l.torch` imports that are served only when asked for: importing them
# costs time (pyplot) or they are optional here (IPython).
LAZY_MODULES = {"plt": "matplotlib.pyplot", "display": "IPython.display", "Image": "PIL.Image"}
# Modules it imports that softmaxreg does without, with what to do instead.
NOT_IMPORTED = {"torchvision": "torchvision", "transforms": "torchvision.transforms",
                "pd": "pandas", "requests": "requests"}  # fmt: skip


def lazy_module(name: str):
    """The module behind a lazily served name (`plt`, `display`, `Image`), imported now."""
    if name == "plt":
        return figures.pyplot()  # Agg outside Jupyter: figures become files
    import importlib

    try:
        return importlib.import_module(LAZY_MODULES[name])
    except ImportError:
        raise NotServed(f"d2l.{name} is {LAZY_MODULES[name]}, which is not installed") from None


def served_names(edition: str) -> set[str]:
    """The names a program written for `edition` can use here (besides `plt` and modules)."""
    return {name for name in IMPLEMENTED if name in INDEX[edition]}


class NotServed(SoftmaxRegError, AttributeError):
    """The book's code asked for a name that softmaxreg's d2l does not serve. An
    AttributeError too, so `hasattr(d2l, name)` stays False rather than failing."""


def where(name: str, edition: str) -> str | None:
    """Where `edition` defines `name`: 'chapter 6, Convolutional Neural Networks (section 6.6,
    Convolutional Neural Networks (LeNet))'; '' for its aliases and constants, which belong to
    no section; None when that edition's d2l.torch has no such name."""
    if name not in INDEX[edition]:
        return None
    section = INDEX[edition][name]
    if section is None:
        return ""
    chapter = int(section.split(".")[0])
    return (f"chapter {chapter}, {CHAPTERS[edition][chapter]} "
            f"(section {section}, {SECTIONS[edition][section]})")  # fmt: skip


def _of(name: str, edition: str) -> str:
    place = where(name, edition)
    return f"{place}, of the book's {edition} edition" if place else f"the book's {edition} edition"


def refusal(name: str, edition: str | None) -> str:
    """One line saying that `d2l.<name>` is not served, where it belongs and what to do.
    `edition` is the one the code was taken for (None: both are served)."""
    if name in NOT_IMPORTED:
        return (f"d2l.{name} is the book's shortcut to {NOT_IMPORTED[name]}, which softmaxreg's "
                f"d2l does not use; import {NOT_IMPORTED[name]} yourself")  # fmt: skip
    editions = EDITIONS if edition is None else (edition,)
    for ed in editions:
        if where(name, ed) is not None:
            return (f"d2l.{name} is not served by softmaxreg: it belongs to {_of(name, ed)}; "
                    f"softmaxreg serves that edition's {COVERED[ed]}")  # fmt: skip
    for other in (ed for ed in EDITIONS if ed not in editions):
        if name in served_names(other):
            return (f"d2l.{name} belongs to {_of(name, other)}, but this code was taken for "
                    f"the {edition} edition; run it with --edition {other}")  # fmt: skip
        if where(name, other) is not None:
            return (f"d2l.{name} is not served by softmaxreg: it belongs to {_of(name, other)} "
                    f"(this code was taken for the {edition} edition)")  # fmt: skip
    label = " or ".join(editions)
    return f"d2l.{name}: the book's d2l.torch ({label} edition) has no such name"


class BookModule(types.ModuleType):
    """`d2l.torch` for one edition (or both, `edition=None`): the names that edition serves;
    asking for any other is a `NotServed` error that says where the name belongs."""

    def __init__(self, name: str, edition: str | None) -> None:
        editions = edition or "both"
        super().__init__(name, f"The book's d2l.torch ({editions} editions), from softmaxreg.")
        self.__edition__ = edition
        for ed in EDITIONS if edition is None else (edition,):
            for attr in served_names(ed):
                setattr(self, attr, IMPLEMENTED[attr])
        for attr, module in MODULES.items():
            setattr(self, attr, module)
        self.d2l = self  # the book's module names itself `d2l` too

    def __getattr__(self, name: str):
        if name in LAZY_MODULES:
            module = lazy_module(name)
            setattr(self, name, module)
            return module
        if name.startswith("__"):
            raise AttributeError(name)
        raise NotServed(refusal(name, self.__edition__))


def book_package(edition: str) -> tuple[types.ModuleType, BookModule]:
    """The pair (`d2l`, `d2l.torch`) that `from d2l import torch as d2l` finds."""
    package = types.ModuleType("d2l", "The book's d2l package, served by softmaxreg.")
    package.__path__ = []  # a package: `import d2l.torch` looks for the submodule
    package.__version__ = f"{VERSIONS[edition]}+softmaxreg"
    package.torch = BookModule("d2l.torch", edition)
    return package, package.torch


# -- which edition a program is written for -------------------------------------------------

SEED_ONLY = frozenset(INDEX[SEED].keys() - INDEX[CURRENT].keys())
CURRENT_ONLY = frozenset(INDEX[CURRENT].keys() - INDEX[SEED].keys())


def names_used(source: str | list[str]) -> set[str]:
    """The names a program takes from the book's `d2l.torch`: `d2l.X` for every name bound to
    it (`from d2l import torch as d2l`, `import d2l.torch as d2l`) and `from d2l.torch import X`.
    `source` may be a notebook's cells; code that is not Python (a cell of magics) is skipped."""
    trees = []
    for piece in [source] if isinstance(source, str) else source:
        try:
            trees.append(ast.parse(strip_magics(piece)))
        except SyntaxError:
            continue  # Python will say what is wrong with it when it runs
    nodes = [node for tree in trees for node in ast.walk(tree)]
    aliases, used = set(), set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module == "d2l":
            aliases |= {a.asname or a.name for a in node.names if a.name == "torch"}
        elif isinstance(node, ast.ImportFrom) and node.module == "d2l.torch":
            used |= {a.name for a in node.names if a.name != "*"}
        elif isinstance(node, ast.Import):
            aliases |= {a.asname for a in node.names if a.name == "d2l.torch" and a.asname}
    for node in nodes:
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in aliases):  # fmt: skip
            used.add(node.attr)
    return used


def detect_edition(source: str | list[str], default: str = SEED) -> str:
    """The edition whose names `source` uses; `default` when it uses only names both share.
    A program that mixes names only one edition has with names only the other has cannot
    run on either book package: that is an error naming one of each."""
    used = names_used(source)
    seed_only, current_only = sorted(used & SEED_ONLY), sorted(used & CURRENT_ONLY)
    if seed_only and current_only:
        raise SoftmaxRegError(
            f"the code uses names of both editions of the book: d2l.{seed_only[0]} (only in "
            f"{SEED}) and d2l.{current_only[0]} (only in {CURRENT}); choose one with --edition"
        )
    if seed_only:
        return SEED
    if current_only:
        return CURRENT
    return default


_MAGIC = re.compile(r"^(\s*)([%!].*)$", re.M)


def strip_magics(source: str) -> str:
    """Code with IPython's line and cell magics (`%matplotlib inline`, `!pip ...`) commented
    out, as exported notebooks carry them. Only done when the code is not Python as it is."""
    try:
        ast.parse(source)
        return source
    except SyntaxError:
        return _MAGIC.sub(r"\1# \2", source)


def check_edition(edition: str | None) -> str | None:
    if edition is not None and edition not in EDITIONS:
        raise SoftmaxRegError(
            f"--edition {edition}: not an edition of the book; use {SEED} (the seed's, "
            f"with train_ch3) or {CURRENT} (the current one, with Trainer and Module)"
        )
    return edition
