"""A whole data set in memory as uint8 arrays, verified once and then loaded from a cache.

The first load of a checksummed data set decodes the IDX files, verifies each payload's sha256
and saves the decoded arrays as .npy beside a small JSON that records which source file (path,
size, mtime) they came from. Later loads whose source is unchanged memory-map the .npy files
instead of decompressing and hashing 55 MB again.

Other IDX files (`--dataset idx`) are checked from their headers and sizes: uncompressed ones
are memory-mapped in place, whatever their size; gzipped ones beyond a bound are decompressed
once into the cache and mapped from there (data.gunzip); small gzipped ones are decoded into
memory. So "a whole data set" here may be far larger than memory: its rows are read when they
are used. This module never imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..fileio import atomic_path
from .classlist import CLASSES_FILE, read_class_listing
from .download import check_payload, fetch
from .gunzip import needs_unpacking, unpacked_copy
from .idx import inspect_idx, read_idx
from .memo import memo_matches, source_stamp, write_memo
from .memory import memory_at_hand, shuffle_kind
from .sources import (
    SPLITS,
    DatasetSpec,
    FileSpec,
    Location,
    cache_root,
    get_spec,
    locate,
    not_found_error,
)


@dataclass(frozen=True)
class FileInfo:
    path: Path
    shape: tuple[int, ...]
    # "sha256" (checked now), "sha256 (remembered)", "size and structure", "structure",
    # "header and size" (memory-mapped) or "gzip crc and size" (decompressed into the cache)
    verified: str
    copy: Path | None = None  # the decompressed copy that is mapped, if any


@dataclass
class Dataset:
    """Train and test splits as uint8 images (n, h, w) and integer labels (n,)."""

    name: str
    classes: tuple[str, ...]
    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    location: Location | None = None
    files: dict[tuple[str, str], FileInfo] = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def image_shape(self) -> tuple[int, ...]:
        return tuple(self.train_images.shape[1:])

    @property
    def num_inputs(self) -> int:
        return int(np.prod(self.image_shape))

    def provenance(self) -> dict:
        """Where the data came from and what it is, as a run records it."""
        loc = self.location
        return {
            "name": self.name,
            "classes": list(self.classes),
            "image_shape": list(self.image_shape),
            "found_in": str(loc.folder) if loc else None,
            "files": {
                f"{split}_{kind}": {
                    "path": str(info.path),
                    "verified": info.verified,
                    **({"decompressed_copy": str(info.copy)} if info.copy else {}),
                }
                for (split, kind), info in self.files.items()
            },
        }

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        if name == "train":
            return self.train_images, self.train_labels
        if name == "test":
            return self.test_images, self.test_labels
        raise ValueError(f"unknown split {name!r}; expected 'train' or 'test'")


def load_dataset(
    name: str = "fashion-mnist",
    data_dir: str | Path | None = None,
    *,
    download: bool = True,
    progress: bool = True,
) -> Dataset:
    """Find (or fetch), verify and load a data set; see `sources.locate` for the search order."""
    spec = get_spec(name)
    location = locate(spec, data_dir)
    if location is None:
        if not download:
            raise not_found_error(spec)
        fetch(spec, progress=progress)
        location = locate(spec, data_dir)
        if location is None:  # pragma: no cover - fetch either fills the cache or raises
            raise not_found_error(spec)
    arrays: dict[tuple[str, str], np.ndarray] = {}
    infos: dict[tuple[str, str], FileInfo] = {}
    for key, path in location.paths.items():
        ndim = 3 if key[1] == "images" else 1
        arrays[key], infos[key] = _load_file(spec, spec.file(*key), path, ndim, progress)
    classes = _classes(spec, location, arrays)
    for split in SPLITS:
        _check_pair(location, split, arrays[(split, "images")], arrays[(split, "labels")], classes)
    if spec.image_shape and arrays[("train", "images")].shape[1:] != spec.image_shape:
        raise DataError(
            location.paths[("train", "images")],
            f"images are {arrays[('train', 'images')].shape[1:]}, expected {spec.image_shape}",
        )
    if arrays[("train", "images")].shape[1:] != arrays[("test", "images")].shape[1:]:
        raise DataError(
            location.paths[("test", "images")],
            f"test images are {arrays[('test', 'images')].shape[1:]} but training images are "
            f"{arrays[('train', 'images')].shape[1:]}",
            "both splits must have the same image size",
        )
    return Dataset(
        name=spec.name,
        classes=classes,
        train_images=arrays[("train", "images")],
        train_labels=arrays[("train", "labels")],
        test_images=arrays[("test", "images")],
        test_labels=arrays[("test", "labels")],
        location=location,
        files=infos,
    )


def _load_file(spec: DatasetSpec, f: FileSpec, path: Path, ndim: int, progress: bool):
    if not spec.checksummed:
        if not f.size:
            return _load_unchecked(path, ndim, progress)
        data = check_payload(path, f)
        return data.array, FileInfo(path, data.array.shape, "size and structure")
    memo_dir = cache_root() / "decoded" / spec.name
    npy, memo = memo_dir / (f.raw_name + ".npy"), memo_dir / (f.raw_name + ".json")
    stamp = source_stamp(path)
    cached = _load_memo(npy, memo, stamp, f.sha256)
    if cached is not None:
        return cached, FileInfo(path, cached.shape, "sha256 (remembered)")
    data = check_payload(path, f)
    _save_memo(npy, memo, data.array, stamp, data.sha256)
    return data.array, FileInfo(path, data.array.shape, "sha256")


def _load_unchecked(path: Path, ndim: int, progress: bool) -> tuple[np.ndarray, FileInfo]:
    """A file without a known checksum: mapped when uncompressed or large, else decoded."""
    info = inspect_idx(path, ndim)
    if not info.compressed:
        array = info.map()
        return array, FileInfo(path, array.shape, "header and size")
    if needs_unpacking(info):
        copy = unpacked_copy(info, cache_root(), progress=progress)
        array = inspect_idx(copy, ndim).map()
        return array, FileInfo(path, array.shape, "gzip crc and size", copy)
    array = read_idx(path, ndim=ndim).array
    return array, FileInfo(path, array.shape, "structure")


def _load_memo(npy: Path, memo: Path, stamp: dict, sha256: str | None) -> np.ndarray | None:
    if not memo_matches(memo, stamp, sha256=sha256):
        return None
    try:  # copy-on-write mapping: pages load lazily, and the array stays writable for torch
        return np.load(npy, mmap_mode="c", allow_pickle=False)
    except (OSError, ValueError):
        return None  # a damaged cache: decode and verify again


def _save_memo(npy: Path, memo: Path, array: np.ndarray, stamp: dict, sha256: str) -> None:
    try:
        with atomic_path(npy) as tmp:
            with open(tmp, "wb") as fh:
                np.save(fh, array, allow_pickle=False)
        write_memo(memo, stamp, sha256=sha256)
    except OSError:
        pass  # an unwritable cache only costs speed


def _classes(spec: DatasetSpec, location: Location, arrays: dict) -> tuple[str, ...]:
    if spec.classes:
        return spec.classes
    listing = location.folder / CLASSES_FILE
    if listing.is_file():
        return read_class_listing(listing)
    # Without a listing, the classes are the labels that occur, named by their numbers.
    top = max(int(arrays[(s, "labels")].max(initial=0)) for s in SPLITS)
    return tuple(str(i) for i in range(top + 1))


def _check_pair(location, split, images, labels, classes) -> None:
    images_path = location.paths[(split, "images")]
    labels_path = location.paths[(split, "labels")]
    if len(images) != len(labels):
        raise DataError(
            labels_path,
            f"{len(labels)} labels but {images_path.name} has {len(images)} images",
            "images and labels files must hold the same number of examples",
        )
    if len(images) == 0:
        raise DataError(images_path, "holds no examples")
    if 0 in images.shape[1:]:
        raise DataError(images_path, f"images have an empty dimension {images.shape[1:]}")
    top = int(labels.max())
    if top >= len(classes):
        where = int(np.argmax(labels >= len(classes)))
        source = CLASSES_FILE if (location.folder / CLASSES_FILE).is_file() else "the data set"
        raise DataError(
            labels_path,
            f"label {top} (first at index {where}) is outside the {len(classes)} classes of "
            f"{source}",
            f"fix the labels or list every class in {CLASSES_FILE}",
        )


def describe(dataset: Dataset) -> list[str]:
    """Human-readable lines: where each file was found, its shape and how it was verified."""
    loc = dataset.location
    lines = [f"{dataset.name}: {loc.folder} (found via {loc.origin})" if loc else dataset.name]
    for (split, kind), info in dataset.files.items():
        shape = "x".join(map(str, info.shape))
        lines.append(f"  {split:5} {kind:6} {shape:>12}  verified: {info.verified:22} {info.path}")
    lines.append(f"  classes ({dataset.num_classes}): {', '.join(dataset.classes)}")
    auto = shuffle_kind(dataset.train_images.nbytes, memory_at_hand())
    lines.append(f"  memory: {auto.fit.reason}, so `train --shuffle auto` picks {auto.kind}")
    return lines
