"""A NumPy .npz file: x_train/y_train/x_test/y_test (the Keras layout) or x/y."""

from __future__ import annotations

import contextlib
import math
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...errors import DataError
from .labels import error_at
from .source import Chunk, SizeRule, Source, flat_shape, pixel_problem

KERAS_MEMBERS = {"train": ("x_train", "y_train"), "test": ("x_test", "y_test")}
PLAIN_MEMBERS = ("x", "y")


@dataclass(frozen=True)
class NpyMember:
    """One array in an .npz file, described by its header (nothing read yet)."""

    name: str
    shape: tuple[int, ...]
    dtype: np.dtype


class NpzSource(Source):
    """Arrays read in slices through the zip member's stream (stored or deflated alike), so
    neither array is ever whole in memory."""

    def __init__(self, path: Path, split: str, size: SizeRule, chunk_rows: int) -> None:
        self.path = path
        self.chunk_rows = chunk_rows
        with self._zip() as zf:
            present = {n.removesuffix(".npy") for n in zf.namelist() if n.endswith(".npy")}
            x_name, y_name = self._member_names(split, present)
            self.x = self._header(zf, x_name)
            self.y = self._header(zf, y_name)
        self.count = self.x.shape[0] if self.x.shape else 0
        self.progress_total = self.count
        self.image_shape = self._image_shape(size)
        self._check_dtypes()
        if self.y.shape not in ((self.count,), (self.count, 1)):
            raise DataError(
                path,
                f"{self.y.name} has shape {self.y.shape} but {self.x.name} holds "
                f"{self.count} images",
                "expected one label per image",
            )

    def reads_same_data_as(self, other: Source) -> bool:
        if not isinstance(other, NpzSource):
            return False
        return super().reads_same_data_as(other) and self.x.name == other.x.name

    @contextlib.contextmanager
    def _zip(self):
        try:
            with zipfile.ZipFile(self.path) as zf:
                yield zf
        except (zipfile.BadZipFile, EOFError, zlib.error) as exc:
            raise DataError(self.path, f"not a readable .npz file ({exc})") from None

    def _member_names(self, split: str, present: set[str]) -> tuple[str, str]:
        for names in (KERAS_MEMBERS[split], PLAIN_MEMBERS):
            if set(names) <= present:
                return names
        keras = "/".join(KERAS_MEMBERS[split])
        holds = ", ".join(sorted(present)) or "no arrays"
        raise DataError(self.path, f"holds {holds}; expected {keras} (the Keras layout) or x/y")

    def _header(self, zf: zipfile.ZipFile, name: str) -> NpyMember:
        with zf.open(name + ".npy") as stream:
            shape, dtype = _read_npy_header(stream, self.path, name)
        return NpyMember(name, shape, dtype)

    def _image_shape(self, size: SizeRule) -> tuple[int, int]:
        shape = self.x.shape
        if len(shape) == 2:  # flat rows of pixels
            return flat_shape(shape[1], size, self.path, f"values in {self.x.name}")
        if len(shape) == 3 or (len(shape) == 4 and shape[3] == 1):
            found = (shape[1], shape[2])
            if size.shape is not None and found != size.shape:
                raise DataError(
                    self.path,
                    f"{self.x.name}: {size.mismatch(found)}",
                    size.hint,
                )
            return found
        raise DataError(
            self.path,
            f"{self.x.name} has shape {shape}",
            "expected images as (n, height, width), (n, height, width, 1) or (n, pixels)",
        )

    def _check_dtypes(self) -> None:
        if self.x.dtype.kind not in "buif":
            raise DataError(
                self.path, f"{self.x.name} holds {self.x.dtype} values, expected pixels 0-255"
            )
        if self.y.dtype.kind not in "buifUS":
            raise DataError(
                self.path, f"{self.y.name} holds {self.y.dtype} values, expected labels"
            )

    def chunks(self) -> Iterator[Chunk]:
        with self._zip() as zf:
            with zf.open(self.x.name + ".npy") as xs, zf.open(self.y.name + ".npy") as ys:
                _read_npy_header(xs, self.path, self.x.name)
                _read_npy_header(ys, self.path, self.y.name)
                for start in range(0, self.count, self.chunk_rows):
                    k = min(self.chunk_rows, self.count - start)
                    images = self._pixels(_read_rows(xs, self.x, k, self.path), start)
                    labels = self._labels(_read_rows(ys, self.y, k, self.path))
                    where = lambda i, s=start: (self.path, f"{self.y.name}[{s + i}]")  # noqa: E731
                    yield Chunk(images, labels, where, start + k)

    def _pixels(self, block: np.ndarray, start: int) -> np.ndarray:
        flat = block.reshape(len(block), -1)
        if flat.dtype == np.uint8:
            return flat.reshape(len(block), *self.image_shape)
        bad = (flat < 0) | (flat > 255)
        if flat.dtype.kind == "f":
            bad |= ~np.isfinite(flat) | (flat != np.round(flat))
        if bad.any():
            row, column = np.argwhere(bad)[0]
            hint = (
                "scale images stored as 0-1 floats by 255 first" if flat.dtype.kind == "f" else ""
            )
            where = (self.path, f"{self.x.name}[{start + row}]")
            raise error_at(where, pixel_problem(flat[row, column]), hint)
        return flat.astype(np.uint8).reshape(len(block), *self.image_shape)

    def _labels(self, block: np.ndarray) -> np.ndarray:
        block = block.reshape(-1)
        if block.dtype.kind == "S":
            return np.array([b.decode("utf-8", "replace") for b in block], dtype=object)
        if block.dtype.kind == "b":
            return block.astype(np.int64)
        return block


def _read_npy_header(stream, path: Path, name: str) -> tuple[tuple[int, ...], np.dtype]:
    fmt = np.lib.format
    try:
        version = fmt.read_magic(stream)
        read = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
        shape, fortran_order, dtype = read(stream)
    except ValueError as exc:
        raise DataError(path, f"{name} is not a readable array ({exc})") from None
    if dtype.hasobject:
        raise DataError(path, f"{name} holds Python objects", "save plain numbers or text")
    if fortran_order and len(shape) > 1:
        # Column-major data cannot be streamed image by image.
        raise DataError(
            path, f"{name} is stored in Fortran order", "save np.ascontiguousarray(array) instead"
        )
    return shape, dtype


def _read_rows(stream, member: NpyMember, k: int, path: Path) -> np.ndarray:
    row_shape = member.shape[1:]
    want = k * member.dtype.itemsize * math.prod(row_shape)
    data = bytearray()
    while len(data) < want:
        piece = stream.read(want - len(data))
        if not piece:
            raise DataError(path, f"{member.name} is truncated", "save the file again")
        data += piece
    return np.frombuffer(data, dtype=member.dtype).reshape(k, *row_shape)
