"""Data: IDX files, data set descriptions and locations, downloads, verified loading, imports
of the formats people hold images in, and pictures prepared like Fashion-MNIST's.

numpy only: nothing here imports torch (an import contract in the suite holds it). The
training side turns these arrays into tensors (softmaxreg.training.loader).

The names below are imported when first used, as the package root's are: config.py needs
`data.sources` alone, and `softmaxreg --help` should not pay for numpy, gzip, csv and zipfile
(a test checks that it does not).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .dataset import Dataset, describe, load_dataset
    from .download import fetch
    from .idx import map_idx, read_idx, write_idx
    from .importing import import_dataset
    from .sources import DATASETS, DatasetSpec, FileSpec, get_spec, locate

__all__ = [
    "DATASETS",
    "Dataset",
    "DatasetSpec",
    "FileSpec",
    "describe",
    "fetch",
    "get_spec",
    "import_dataset",
    "load_dataset",
    "locate",
    "map_idx",
    "read_idx",
    "write_idx",
]

# name -> the module (below this package) that defines it
_LAZY = {
    "Dataset": "dataset",
    "describe": "dataset",
    "load_dataset": "dataset",
    "fetch": "download",
    "map_idx": "idx",
    "read_idx": "idx",
    "write_idx": "idx",
    "import_dataset": "importing",
    "DATASETS": "sources",
    "DatasetSpec": "sources",
    "FileSpec": "sources",
    "get_spec": "sources",
    "locate": "sources",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
