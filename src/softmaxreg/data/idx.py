"""Read and write IDX files (the MNIST format), gzip-compressed or raw, with strict validation.

Layout: two zero bytes, a type byte (0x08 = uint8), a byte with the number of dimensions, each
dimension as a big-endian uint32, then the data in C order.

The reader validates everything it can *before* allocating memory (a header that declares 2^31
images in a small file is refused at once), decompresses at most the number of bytes the header
declares plus one (so a gzip bomb cannot fill memory), and hashes exactly the bytes it decodes:
the checksum that is verified is the checksum of the data that is used, even if the file changes
on disk meanwhile.

Uncompressed files of any size can instead be memory-mapped (`map_idx`): validated from the
header and the file's size alone, without reading the data, so a set far larger than memory
costs nothing until its rows are read.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import math
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from ..errors import DataError
from ..fileio import atomic_write_bytes

UINT8 = 0x08
GZIP_MAGIC = b"\x1f\x8b"
# Deflate cannot compress better than about 1032:1, so a gzip file of n bytes can never hold
# more than ~1032·n bytes: a header that declares more is truncated or forged.
DEFLATE_MAX_RATIO = 1032
# Refuse payloads above this many bytes unless the caller raises the limit (Fashion-MNIST's
# largest file is 47 MB).
DEFAULT_MAX_BYTES = 2**31
_CHUNK = 1 << 20


@dataclass(frozen=True)
class IdxData:
    """A decoded IDX file: the array and the sha256 of the whole decompressed file."""

    array: np.ndarray
    sha256: str


def read_idx(
    path: str | Path, ndim: int | None = None, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> IdxData:
    """Decode one IDX file of uint8 data; `ndim` (1 for labels, 3 for images) is enforced.

    Raises `DataError` naming the file and the defect for anything malformed.
    """
    path = Path(path)
    with open_idx(path) as (stream, stored_size, compressed):
        return _decode(path, stream, stored_size, compressed, ndim, max_bytes)


@contextlib.contextmanager
def open_idx(path: Path) -> Iterator[tuple[io.BufferedIOBase, int, bool]]:
    """The file's data stream (decompressed if it is gzipped), its size on disk and whether
    it is compressed; a defect of the file or its gzip stream becomes a `DataError`."""
    if path.is_dir():
        raise DataError(path, "is a directory, expected an IDX file", "pass the file's path")
    try:
        stored_size = path.stat().st_size
        raw = open(path, "rb")  # noqa: SIM115 - closed below, possibly via the gzip wrapper
    except FileNotFoundError:
        raise DataError(path, "file not found") from None
    except OSError as exc:
        raise DataError(path, f"cannot be read ({exc.strerror})") from None
    with raw:
        if stored_size == 0:
            raise DataError(path, "empty file, expected an IDX file", "replace the file")
        compressed = raw.read(2) == GZIP_MAGIC
        raw.seek(0)
        if not compressed and path.suffix == ".gz":
            raise DataError(
                path, "name ends in .gz but the file is not gzip-compressed", "replace the file"
            )
        stream = gzip.GzipFile(fileobj=raw, mode="rb") if compressed else raw
        try:
            yield stream, stored_size, compressed
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            raise DataError(path, f"corrupt gzip stream ({exc})", "replace the file") from None


@dataclass(frozen=True)
class IdxInfo:
    """An IDX file as its header and its size on disk describe it (no data read)."""

    path: Path
    header: IdxHeader
    compressed: bool
    stored_size: int

    def map(self) -> np.ndarray:
        """The data as a memory-mapped array: pages are read when rows are used. The mapping
        is copy-on-write, as for the decoded cache: the array is writable (torch wants that)
        and the file is never changed."""
        if self.compressed:
            raise DataError(
                self.path,
                "is gzip-compressed and cannot be memory-mapped",
                "decompress it (gunzip), or load it with read_idx",
            )
        if self.header.payload == 0:  # mmap cannot map zero bytes
            return np.zeros(self.header.dims, dtype=np.uint8)
        return np.memmap(
            self.path, dtype=np.uint8, mode="c", offset=self.header.size, shape=self.header.dims
        )


def inspect_idx(path: str | Path, ndim: int | None = None) -> IdxInfo:
    """Check an IDX file from its header and size alone: an uncompressed file must hold
    exactly what its header declares; a gzipped one must be able to hold it."""
    path = Path(path)
    with open_idx(path) as (stream, stored_size, compressed):
        header = read_header(path, stream, ndim)
    if compressed:
        check_gzip_ceiling(path, header, stored_size)
    else:
        check_stored_size(path, header, stored_size)
    return IdxInfo(path, header, compressed, stored_size)


def map_idx(path: str | Path, ndim: int | None = None) -> np.ndarray:
    """An uncompressed IDX file of any size as a memory-mapped array, validated by its header
    and its size without reading the data (see `IdxInfo.map`)."""
    return inspect_idx(path, ndim).map()


@dataclass(frozen=True)
class IdxHeader:
    """What an IDX file's header declares."""

    raw: bytes  # the header's bytes
    dims: tuple[int, ...]

    @property
    def size(self) -> int:
        return len(self.raw)

    @property
    def payload(self) -> int:
        """Bytes of data the header declares (uint8: one per element)."""
        return math.prod(self.dims)


def read_header(path: Path, stream, ndim: int | None) -> IdxHeader:
    """Parse and check the header at the start of `stream` (raw or decompressed)."""
    head = _read_exactly(stream, 4)
    if len(head) < 4:
        raise DataError(path, "truncated header (fewer than 4 bytes)", "replace the file")
    if head[0] != 0 or head[1] != 0:
        raise DataError(
            path,
            f"bad magic bytes {head[:2].hex()}: not an IDX file (expected 0000)",
            "check that this is an MNIST-style IDX file",
        )
    if head[2] != UINT8:
        raise DataError(
            path,
            f"unsupported IDX type byte 0x{head[2]:02x} (only 0x08 = uint8 is supported)",
            "convert the data to uint8",
        )
    found_ndim = head[3]
    if ndim is not None and found_ndim != ndim:
        kind = {1: "labels", 3: "images"}.get(ndim, "data")
        raise DataError(
            path,
            f"has {found_ndim} dimensions, expected {ndim} ({kind})",
            "check that images and labels files are not swapped",
        )
    dim_bytes = _read_exactly(stream, 4 * found_ndim)
    if len(dim_bytes) < 4 * found_ndim:
        raise DataError(path, "truncated header (dimensions cut off)", "replace the file")
    return IdxHeader(head + dim_bytes, struct.unpack(f">{found_ndim}I", dim_bytes))


def check_stored_size(path: Path, header: IdxHeader, stored_size: int) -> None:
    """An uncompressed file holds exactly its header and the payload the header declares."""
    if stored_size == header.size + header.payload:
        return
    actual = stored_size - header.size
    what = "truncated payload" if actual < header.payload else "trailing bytes after the payload"
    raise DataError(
        path,
        f"{what}: the header declares dimensions {header.dims} = {header.payload} bytes of "
        f"data but the file holds {actual} after its {header.size}-byte header (the header and "
        "the file size disagree)",
        "the file was cut short, has bytes appended, or its header is wrong: re-create it",
    )


def check_gzip_ceiling(path: Path, header: IdxHeader, stored_size: int) -> None:
    """A gzip file of n bytes cannot hold more than about 1032·n: refuse a header beyond it."""
    ceiling = DEFLATE_MAX_RATIO * stored_size + 1024
    if header.size + header.payload > ceiling:
        raise DataError(
            path,
            f"header declares {header.payload} bytes but a {stored_size}-byte gzip file cannot "
            "hold that many (truncated or corrupt)",
            "replace the file",
        )


def _decode(path, stream, stored_size, compressed, ndim, max_bytes) -> IdxData:
    digest = hashlib.sha256()
    header = read_header(path, stream, ndim)
    dims, payload = header.dims, header.payload
    if payload > max_bytes:
        raise DataError(
            path,
            f"header declares dimensions {dims} = {payload} bytes, over the limit of {max_bytes}",
            "the file is corrupt or not an image data set",
        )
    if compressed:
        check_gzip_ceiling(path, header, stored_size)
    else:
        check_stored_size(path, header, stored_size)
    digest.update(header.raw)
    data = np.empty(payload, dtype=np.uint8)
    view = data.data  # a writable memoryview of the array
    filled = 0
    while filled < payload:
        n = stream.readinto(view[filled : filled + _CHUNK])
        if not n:
            break
        digest.update(view[filled : filled + n])
        filled += n
    if filled < payload:
        raise DataError(
            path,
            f"truncated payload: {filled} bytes of data, header declares {payload} "
            f"for dimensions {dims}",
            "replace the file",
        )
    if stream.read(1):
        raise DataError(
            path, f"trailing bytes after the {payload}-byte payload", "replace the file"
        )
    return IdxData(data.reshape(dims), digest.hexdigest())


def _read_exactly(stream, n: int) -> bytes:
    chunks, got = [], 0
    while got < n:
        chunk = stream.read(n - got)
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def encode_idx(array: np.ndarray) -> bytes:
    """The IDX bytes (uncompressed) of a uint8 array."""
    array = np.ascontiguousarray(array)
    if array.dtype != np.uint8:
        raise ValueError(f"IDX writer supports uint8 only, got {array.dtype}")
    return idx_header(array.shape) + array.tobytes()


def write_idx(path: str | Path, array: np.ndarray, *, compress: bool | None = None) -> Path:
    """Write `array` as an IDX file, gzip-compressed when the name ends in .gz (atomic)."""
    path = Path(path)
    compress = path.suffix == ".gz" if compress is None else compress
    data = encode_idx(array)
    if compress:
        data = gzip.compress(data, mtime=0)
    return atomic_write_bytes(path, data)


def idx_header(shape: tuple[int, ...]) -> bytes:
    """The header of an uncompressed uint8 IDX file holding an array of `shape`."""
    if any(not 0 <= d < 2**32 for d in shape):
        raise ValueError(f"IDX dimensions must fit in 32 bits, got {shape}")
    return bytes([0, 0, UINT8, len(shape)]) + struct.pack(f">{len(shape)}I", *shape)


class IdxWriter:
    """Append uint8 items (images or labels) to an uncompressed IDX file, in bounded memory.

    The number of items is not known until the end, so the header is written first with a
    count of 0 and patched by `close()`; a file whose writer did not close cleanly says it
    holds 0 items while its size says otherwise, which `read_idx` refuses. Write to a
    temporary path (see `fileio.atomic_path`) so nobody ever sees such a file under its name.
    """

    def __init__(self, path: str | Path, item_shape: tuple[int, ...]) -> None:
        self.path = Path(path)
        self.item_shape = tuple(item_shape)
        self.count = 0
        self._file: BinaryIO = open(self.path, "wb")  # noqa: SIM115 - closed by close()
        self._file.write(idx_header((0, *self.item_shape)))

    def append(self, items: np.ndarray) -> None:
        """Write a block of items of shape (k, *item_shape), dtype uint8."""
        if items.dtype != np.uint8 or items.shape[1:] != self.item_shape:
            raise ValueError(
                f"{self.path}: expected uint8 items of shape {self.item_shape}, "
                f"got {items.dtype} {items.shape[1:]}"
            )
        self._file.write(np.ascontiguousarray(items).data)
        self.count += len(items)

    def close(self) -> int:
        """Patch the count into the header, close the file; returns the count."""
        if not self._file.closed:
            self._file.seek(0)
            self._file.write(idx_header((self.count, *self.item_shape)))
            self._file.close()
        return self.count

    def abandon(self) -> None:
        """Close without patching the header (the caller is throwing the file away)."""
        self._file.close()

    def __enter__(self) -> IdxWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abandon()
