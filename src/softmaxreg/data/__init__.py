"""Data: IDX files, data set descriptions and locations, downloads, in-memory splits.

Importing this package never imports torch.
"""

from .dataset import Dataset, describe, load_dataset
from .download import fetch
from .idx import read_idx, write_idx
from .sources import DATASETS, DatasetSpec, FileSpec, get_spec, locate

__all__ = [
    "DATASETS",
    "Dataset",
    "DatasetSpec",
    "FileSpec",
    "describe",
    "fetch",
    "get_spec",
    "load_dataset",
    "locate",
    "read_idx",
    "write_idx",
]
