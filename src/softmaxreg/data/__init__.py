"""Data: IDX files, data set descriptions and locations, downloads, verified loading.

numpy only: nothing here imports torch (an import contract in the suite holds it). The
training side turns these arrays into tensors (softmaxreg.training.loader).
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
