"""Data: IDX files, data set descriptions and locations, downloads, verified loading, imports
of the formats people hold images in, and pictures prepared like Fashion-MNIST's.

numpy only: nothing here imports torch (an import contract in the suite holds it). The
training side turns these arrays into tensors (softmaxreg.training.loader).
"""

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
