"""A training split read from disk in large contiguous blocks and shuffled the way streaming
loaders shuffle (WebDataset's shards and shuffle buffer, tf.data's `shuffle`): for sets that do
not fit in memory, where a row-by-row random gather thrashes.

Each epoch, with the shuffling generator:
  1. the split's rows are cut into blocks of `block_rows` consecutive rows, and a permutation
     of the blocks is drawn;
  2. the permuted blocks are taken `window_blocks` at a time, a window; each window's blocks
     are read in file order into a buffer (one large sequential read each), and the window's
     rows are permuted with a seed the epoch drew for it;
  3. the epoch's order is the windows' orders one after the other, cut into minibatches; a
     minibatch that straddles two windows takes the first window's last rows (copied into a
     slot in front of the next buffer) and the next window's first.
So every row comes exactly once per epoch, a minibatch mixes rows from `window_blocks` places
in the file, and memory holds two buffers (the one trained on, and the next one, read
meanwhile by a background thread), never the split.

Every random number of an epoch is drawn at its start (the block permutation, one seed per
window), so the generator's state at the epoch's start, which the trainer's `Position` keeps,
fixes the whole epoch: resuming at step s draws the same numbers, skips the windows before row
s·batch of the order, and reads from the window that holds it. The minibatches, and the
generator's state after the epoch, are those of an uninterrupted run, bit for bit.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import torch

from ..data.rows import RowReader

Window = tuple[np.ndarray, int | None]  # its blocks (ascending), its permutation's seed
READERS = 4  # blocks read at once


class BlockShuffleSplit:
    """Images (n, ...) uint8, usually a memory-mapped file, and their labels, handed to the
    engines one buffer at a time."""

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        *,
        block_rows: int,
        window_blocks: int,
        device: str | torch.device = "cpu",
    ) -> None:
        if block_rows < 1 or window_blocks < 1:
            raise ValueError(
                f"block_rows and window_blocks must be positive, got {block_rows}, {window_blocks}"
            )
        if len(labels) != len(images):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        self.reader = RowReader(images)
        self.label_reader = RowReader(labels)  # one byte a row: read per window too
        self.block_rows = block_rows
        self.window_blocks = window_blocks
        self.device = torch.device(device)
        self._buffers: tuple[torch.Tensor, torch.Tensor] | None = None

    def __len__(self) -> int:
        return self.reader.rows

    @property
    def num_blocks(self) -> int:
        return -(-len(self) // self.block_rows)

    def num_batches(self, batch_size: int) -> int:
        return -(-len(self) // batch_size)

    def windows(self, generator: torch.Generator | None) -> list[Window]:
        """The epoch's windows, drawn from `generator` (file order, unpermuted, when None)."""
        blocks = self.num_blocks
        count = -(-blocks // self.window_blocks)
        if generator is None:
            order = np.arange(blocks)
            seeds: list[int | None] = [None] * count
        else:
            order = torch.randperm(blocks, generator=generator).numpy()
            drawn = torch.randint(0, 2**62, (count,), generator=generator, dtype=torch.int64)
            seeds = list(drawn.tolist())
        k = self.window_blocks
        return [(np.sort(order[w * k : (w + 1) * k]), seeds[w]) for w in range(count)]

    def order(self, generator: torch.Generator | None = None) -> torch.Tensor:
        """The epoch's order as row numbers of the split: what `batches` hands over, row by
        row (it makes the whole order, so it is for checks and small sets)."""
        parts = []
        for blocks, seed in self.windows(generator):
            rows = np.concatenate([np.arange(lo, hi) for lo, hi in self._ranges(blocks)])
            parts.append(rows[_permutation(len(rows), seed)])
        return torch.from_numpy(np.concatenate(parts))

    def batches(
        self, batch_size: int, generator: torch.Generator | None = None, start: int = 0
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """(pixels, row indices into them, labels) per minibatch, from batch number `start`
        on; pixels is the buffer that holds the minibatch's rows."""
        windows = self.windows(generator)
        lengths = [sum(hi - lo for lo, hi in self._ranges(blocks)) for blocks, _ in windows]
        first, skip = _locate(lengths, start * batch_size)
        if first == len(windows):
            return
        buffers = self._buffers_for(batch_size)
        slot = batch_size  # rows [0, slot) of a buffer: those carried from the previous window
        with ThreadPoolExecutor(READERS, thread_name_prefix="softmaxreg-reader") as pool:
            pending = self._load(pool, windows[first][0], buffers[0], slot)
            carried = carried_labels = np.empty(0, dtype=np.int64)
            for w in range(first, len(windows)):
                current, previous = buffers[(w - first) % 2], buffers[(w - first + 1) % 2]
                window_labels = np.concatenate([block.result() for block in pending])
                perm = _permutation(len(window_labels), windows[w][1])
                index, labels = perm + slot, window_labels[perm].astype(np.int64)
                if len(carried):
                    current[slot - len(carried) : slot] = previous[torch.from_numpy(carried)]
                    index = np.concatenate([np.arange(slot - len(carried), slot), index])
                    labels = np.concatenate([carried_labels, labels])
                elif w == first:
                    index, labels = index[skip:], labels[skip:]
                if w + 1 < len(windows):  # read the next window while this one trains
                    pending = self._load(pool, windows[w + 1][0], previous, slot)
                full = len(index) if w + 1 == len(windows) else len(index) // slot * slot
                carried, carried_labels = index[full:], labels[full:]
                yield from self._minibatches(current, index[:full], labels[:full], batch_size)

    def _minibatches(
        self, pixels: torch.Tensor, index: np.ndarray, labels: np.ndarray, batch_size: int
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        pixels = pixels.to(self.device)  # no copy on the CPU
        rows = torch.from_numpy(np.ascontiguousarray(index)).to(self.device)
        y = torch.from_numpy(np.ascontiguousarray(labels)).to(self.device)
        for lo in range(0, len(rows), batch_size):
            yield pixels, rows[lo : lo + batch_size], y[lo : lo + batch_size]

    def _ranges(self, blocks: np.ndarray) -> list[tuple[int, int]]:
        n, size = len(self), self.block_rows
        return [(int(b) * size, min(n, (int(b) + 1) * size)) for b in blocks]

    def _load(
        self, pool: ThreadPoolExecutor, blocks: np.ndarray, buffer: torch.Tensor, at: int
    ) -> list[Future[np.ndarray]]:
        """Start reading the window's blocks into `buffer` from row `at` on, several at a time
        (a disk serves a few requests at once faster than one after another); each future
        gives its block's labels."""
        target = buffer.numpy()
        pending = []
        for lo, hi in self._ranges(blocks):
            pending.append(pool.submit(self._read_block, lo, hi, target[at : at + hi - lo]))
            at += hi - lo
        return pending

    def _read_block(self, lo: int, hi: int, out: np.ndarray) -> np.ndarray:
        self.reader.read(lo, hi, out)
        labels = np.empty(hi - lo, dtype=self.label_reader.array.dtype)
        self.label_reader.read(lo, hi, labels)
        return labels

    def _buffers_for(self, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        rows = batch_size + min(len(self), self.block_rows * self.window_blocks)
        if self._buffers is None or len(self._buffers[0]) != rows:
            shape = (rows, self.reader.row_bytes)
            self._buffers = (
                torch.empty(shape, dtype=torch.uint8),
                torch.empty(shape, dtype=torch.uint8),
            )
        return self._buffers


def _permutation(length: int, seed: int | None) -> np.ndarray:
    """A window's permutation, from its seed (numpy's PCG64: the same on every platform)."""
    if seed is None:
        return np.arange(length)
    return np.random.default_rng(seed).permutation(length)


def _locate(lengths: list[int], position: int) -> tuple[int, int]:
    """The window that holds row `position` of the epoch's order, and the offset in it."""
    for w, length in enumerate(lengths):
        if position < length:
            return w, position
        position -= length
    return len(lengths), 0
