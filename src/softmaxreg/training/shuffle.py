"""Which shuffle a run uses: decided once when it starts, recorded in config.json, and taken
from there when it resumes (so a resumed run shuffles as it began, wherever it runs).

- global: one permutation of the whole split per epoch, each minibatch gathered by row from
  memory (loader.InMemorySplit): the book's shuffle, and the only one before sets could
  outgrow memory.
- block: blocks of consecutive rows in a random order, read from disk in order and mixed in a
  buffer (blocks.BlockShuffleSplit): for a split that does not fit in memory.
- auto (the default): global when the training images fit in half the memory at hand
  (data.memory), block otherwise.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import torch

from ..data.memory import MemoryAtHand, memory_at_hand, shuffle_kind
from ..data.rows import advise_will_need
from .blocks import BlockShuffleSplit
from .loader import InMemorySplit, TrainSplit

# A block is one sequential read: large enough that the disk streams it.
BLOCK_BYTES = 4 * 2**20
# Each of the two buffers holds a window: a sixteenth of the memory at hand, within these
# bounds (the more blocks a window holds, the better each minibatch is mixed).
WINDOW_BYTES = (16 * 2**20, 64 * 2**20)
# A set forced onto the block shuffle, however small, is cut into at least this many blocks
# and read in at least this many windows, so that the block shuffle really happens.
MIN_BLOCKS, MIN_WINDOWS = 64, 4


@dataclass(frozen=True)
class ShufflePlan:
    kind: str  # "global" or "block"
    asked: str  # the setting: auto, global or block
    reason: str  # the split's size against the memory at hand, in words
    fits: bool = True
    block_rows: int = 0
    window_blocks: int = 0

    def record(self) -> dict[str, Any]:
        """For config.json."""
        record = asdict(self)
        if self.kind == "global":
            del record["block_rows"], record["window_blocks"]
        return record

    @classmethod
    def from_record(cls, record: dict[str, Any] | None) -> ShufflePlan:
        """The plan a run recorded; runs from before there was a choice shuffled globally.
        Keys this version does not know (written by a later one) are left out."""
        if not record:
            return cls("global", "global", "recorded before the block shuffle existed")
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in record.items() if key in known})

    def split(
        self, images: np.ndarray, labels: np.ndarray, device: str | torch.device = "cpu"
    ) -> TrainSplit:
        if self.kind == "block":
            return BlockShuffleSplit(
                images,
                labels,
                block_rows=self.block_rows,
                window_blocks=self.window_blocks,
                device=device,
            )
        if self.fits:  # read a mapped file ahead in order, before the random gathers
            advise_will_need(images)
        return InMemorySplit(images, labels, device)


def choose_shuffle(
    asked: str, images: np.ndarray, at_hand: MemoryAtHand | None = None
) -> ShufflePlan:
    """The plan for training on `images` (n, ...) with the setting `asked`."""
    at_hand = memory_at_hand() if at_hand is None else at_hand
    choice = shuffle_kind(images.nbytes, at_hand, asked, "the training images")
    fit = choice.fit
    if choice.kind == "global":
        return ShufflePlan("global", asked, fit.reason, fit.fits)
    row_bytes = max(1, images.nbytes // max(1, len(images)))
    block_rows = max(1, min(BLOCK_BYTES // row_bytes, -(-len(images) // MIN_BLOCKS)))
    blocks = -(-len(images) // block_rows)
    low, high = WINDOW_BYTES
    window_bytes = min(high, max(low, (at_hand.bytes if at_hand else high * 16) // 16))
    window_blocks = max(1, min(window_bytes // (block_rows * row_bytes), -(-blocks // MIN_WINDOWS)))
    return ShufflePlan("block", asked, fit.reason, fit.fits, block_rows, window_blocks)
