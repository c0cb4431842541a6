"""Ranges of rows of a data set copied into a buffer: with one read per range when the array
is a memory-mapped file, so that a split larger than memory is read the way a disk likes.

Touching a mapped file page by page (a random gather) makes the kernel fault each page in on
its own; under memory pressure those pages are evicted and read again, which is what made a
global shuffle of a 3.1 GB file under a 1 GiB limit thrash. A `pread` of a whole contiguous
range is one large sequential request instead; and since each range is read once per epoch,
its pages are then dropped from the page cache (`POSIX_FADV_DONTNEED`), so the cache does not
fill the memory limit with data that will not be read again before the next epoch.

numpy only; the training side wraps the buffers as tensors.
"""

from __future__ import annotations

import mmap
import os

import numpy as np


class RowReader:
    """Copies rows [lo, hi) of `array` (n, ...) into a caller's buffer of the same dtype; safe
    to use from several threads at once."""

    def __init__(self, array: np.ndarray) -> None:
        self.array = array
        self.rows = len(array)
        self.row_bytes = array.itemsize * int(np.prod(array.shape[1:], dtype=np.int64))
        self._fd: int | None = None
        self._offset = 0
        place = mapped_file(array)
        if place is not None:
            filename, self._offset = place
            self._fd = os.open(filename, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))

    @property
    def reads_file(self) -> bool:
        return self._fd is not None

    def read(self, lo: int, hi: int, out: np.ndarray) -> None:
        """Fill `out` (contiguous, (hi - lo) rows) with rows lo..hi-1."""
        if not (0 <= lo <= hi <= self.rows) or out.nbytes != (hi - lo) * self.row_bytes:
            raise ValueError(f"rows {lo}..{hi} do not fit a buffer of {out.nbytes} bytes")
        if out.dtype != self.array.dtype or not out.flags.c_contiguous:
            raise ValueError(f"expected a contiguous {self.array.dtype} buffer, got {out.dtype}")
        if self._fd is None:
            out.reshape(hi - lo, -1)[...] = self.array[lo:hi].reshape(hi - lo, -1)
            return
        start = self._offset + lo * self.row_bytes
        view = out.reshape(-1).data.cast("B")
        done = 0
        while done < len(view):
            got = _pread_into(self._fd, view[done:], start + done)
            if got == 0:  # the file shrank under us
                raise OSError(f"{self.array.filename}: unexpected end of file")  # type: ignore[attr-defined]
            done += got
        if hasattr(os, "posix_fadvise"):
            os.posix_fadvise(self._fd, start, len(view), os.POSIX_FADV_DONTNEED)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __del__(self) -> None:
        self.close()


def _pread_into(fd: int, view: memoryview, offset: int) -> int:
    if hasattr(os, "preadv"):  # straight into the buffer, without the GIL
        return os.preadv(fd, [view], offset)
    data = os.pread(fd, len(view), offset)
    view[: len(data)] = data
    return len(data)


def mapped_file(array: np.ndarray) -> tuple[str, int] | None:
    """(file name, byte offset of row 0) when `array` is a whole memory-mapped file's array
    (as `np.memmap` or `np.load(mmap_mode=...)` make it), else None. A view of one carries its
    parent's offset, not its own, so only the array that owns the mapping qualifies."""
    if not isinstance(array, np.memmap) or not isinstance(array.base, mmap.mmap):
        return None
    if not array.flags.c_contiguous or array.filename is None:
        return None
    return str(array.filename), int(array.offset)


def advise_will_need(array: np.ndarray) -> None:
    """Ask the kernel to read a memory-mapped array ahead, in order, before it is gathered at
    random (no-op for other arrays): a split that fits is then read at the disk's sequential
    speed instead of one fault at a time."""
    if mapped_file(array) is None or not hasattr(mmap, "MADV_WILLNEED"):
        return
    try:
        array._mmap.madvise(mmap.MADV_WILLNEED)  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):
        pass  # advice only
