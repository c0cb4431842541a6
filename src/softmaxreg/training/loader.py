"""A split held whole on the device as uint8, handed to the engines as row indices.

No DataLoader and no worker processes: Fashion-MNIST is 55 MB, so it lives in memory (on the
GPU when training there) and each minibatch's rows are gathered right before use, by the
engine itself (the compiled step reads them straight from this uint8 array). Gathering per
batch keeps the working set in cache, and uint8 storage moves a quarter of the bytes float32
would.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

import numpy as np
import torch


class TrainSplit(Protocol):
    """What the trainer steps over: this module's `InMemorySplit`, or a split read from disk
    in blocks (`blocks.BlockShuffleSplit`); `shuffle.ShufflePlan.split` picks one."""

    def __len__(self) -> int: ...

    def num_batches(self, batch_size: int) -> int: ...

    def batches(
        self, batch_size: int, generator: torch.Generator | None = None, start: int = 0
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]: ...


class InMemorySplit:
    """Images as (n, pixels) uint8 and labels as int64, on `device`."""

    def __init__(
        self, images: np.ndarray, labels: np.ndarray, device: str | torch.device = "cpu"
    ) -> None:
        flat = np.ascontiguousarray(images).reshape(len(images), -1)
        self.images = torch.from_numpy(flat).to(device)
        self.labels = torch.from_numpy(np.asarray(labels, dtype=np.int64)).to(device)
        self.device = torch.device(device)
        self._floats: torch.Tensor | None = None

    def keep_floats(self) -> InMemorySplit:
        """Convert the whole split to float32 once and keep it, for a split that is evaluated
        again and again (the test set, every epoch): 4x the memory, no conversion per pass."""
        if self._floats is None:
            self._floats = to_float(self.images)
        return self

    def __len__(self) -> int:
        return len(self.labels)

    def num_batches(self, batch_size: int) -> int:
        return -(-len(self) // batch_size)

    def order(self, generator: torch.Generator | None) -> torch.Tensor:
        """One epoch's order: a permutation from `generator` (drawn on the CPU, so a seed gives
        the same order on every device), or the identity when generator is None."""
        if generator is None:
            return torch.arange(len(self), device=self.device)
        return torch.randperm(len(self), generator=generator).to(self.device)

    def index_batches(
        self, batch_size: int, generator: torch.Generator | None = None, start: int = 0
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """(row indices, labels) of each minibatch in `order(generator)`, from batch number
        `start` on."""
        order = self.order(generator)
        # The epoch's labels in one gather, then views: a per-batch gather of 256 labels costs
        # more in call overhead than in work.
        labels = self.labels.index_select(0, order).split(batch_size)[start:]
        return zip(order.split(batch_size)[start:], labels, strict=True)

    def batches(
        self, batch_size: int, generator: torch.Generator | None = None, start: int = 0
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """What the trainer steps on: (pixels, row indices into them, labels) per minibatch.
        Here the pixels are always the whole split; a split that does not fit in memory
        hands over the buffer that holds each batch's rows instead."""
        for index, y in self.index_batches(batch_size, generator, start):
            yield self.images, index, y

    def chunks(self, size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Ordered slices (no gather) as floats in [0, 1]: for evaluation."""
        for lo in range(0, len(self), size):
            if self._floats is not None:
                X = self._floats[lo : lo + size]
            else:
                X = to_float(self.images[lo : lo + size])
            yield X, self.labels[lo : lo + size]


def to_float(pixels: torch.Tensor) -> torch.Tensor:
    # Same arithmetic as torchvision's ToTensor: uint8 / 255 in float32.
    return pixels.to(torch.float32).div_(255)
