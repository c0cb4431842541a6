"""Fashion-MNIST for the book's API: the whole split in memory as uint8, minibatches gathered
from it right before use (no DataLoader, no worker processes, no network, no PIL per image).

A batch equals what the book's torchvision pipeline gives, bit for bit: `ToTensor` (uint8 →
float32, divided by 255) and `Resize` (Pillow's arithmetic, see resize.py). The iterators also
draw the same random numbers from torch's global generator as a shuffled `DataLoader`, so a
seeded program sees the same shuffles, and the same initial weights drawn afterwards, as with
the book's package.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

import torch

from ..data import load_dataset
from .resize import resize_like_pillow

# The book's names for the classes (lower case and short; the data set's own names differ).
TEXT_LABELS = ("t-shirt", "trouser", "pullover", "dress", "coat",
               "sandal", "shirt", "sneaker", "bag", "ankle boot")  # fmt: skip


def text_labels(indices) -> list[str]:
    """The book's text label of each class index (ints or a tensor)."""
    return [TEXT_LABELS[int(i)] for i in indices]


@lru_cache(maxsize=1)
def _splits() -> dict[bool, tuple[torch.Tensor, torch.Tensor]]:
    # Read and verified once per process: the book's code often makes several data objects.
    data = load_dataset("fashion-mnist")
    as_tensors = lambda images, labels: (  # noqa: E731
        torch.from_numpy(images).unsqueeze(1),  # uint8 (n, 1, 28, 28)
        torch.from_numpy(labels.astype("int64")),
    )
    return {
        True: as_tensors(data.train_images, data.train_labels),
        False: as_tensors(data.test_images, data.test_labels),
    }


def output_size(resize, height: int, width: int) -> tuple[int, int] | None:
    """torchvision's `Resize(resize)` rule: an int sets the shorter edge (keeping the aspect
    ratio), a pair sets (height, width). None when no resizing is needed."""
    if not resize:
        return None
    if isinstance(resize, int) or len(resize) == 1:
        short = resize if isinstance(resize, int) else resize[0]
        if height <= width:
            size = (short, int(short * width / height))
        else:
            size = (int(short * height / width), short)
    else:
        size = (int(resize[0]), int(resize[1]))
    return None if size == (height, width) else size


def to_float(images: torch.Tensor, size: tuple[int, int] | None) -> torch.Tensor:
    """uint8 images (B, 1, h, w) → float32 in [0, 1] as `ToTensor` makes them, first resized
    to `size` as `Resize` (that is, Pillow) would."""
    X = images if size is None else resize_like_pillow(images, size)
    return X.to(torch.float32).div_(255)


class ImageSplit:
    """One split of Fashion-MNIST, indexable like torchvision's data set: `split[i]` is
    (image float32 (1, H, W), label int)."""

    def __init__(self, train: bool, resize=None) -> None:
        self.images, self.labels = _splits()[train]
        self.train = train
        self.size = output_size(resize, *self.images.shape[2:])

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image = to_float(self.images[index].unsqueeze(0), self.size)[0]
        return image, int(self.labels[index])

    def batches(self, batch_size: int, shuffle: bool) -> Batches:
        return Batches(self, batch_size, shuffle)


class Batches:
    """Iterable over (X, y) minibatches of a split, as `DataLoader(split, batch_size,
    shuffle=shuffle)` gives them: X float32 (B, 1, H, W), y int64; reshuffled on every pass."""

    def __init__(self, split: ImageSplit, batch_size: int, shuffle: bool) -> None:
        self.split, self.batch_size, self.shuffle = split, int(batch_size), shuffle

    def __len__(self) -> int:
        return -(-len(self.split) // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        # A DataLoader draws one number from the global generator on every pass (its workers'
        # base seed), and RandomSampler one more to seed its own generator. Drawing them too
        # keeps everything a seeded program draws afterwards the same as with the book.
        _draw_seed()
        return self._batches()

    def _batches(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        images, labels, size = self.split.images, self.split.labels, self.split.size
        n = len(labels)
        order = None
        if self.shuffle:
            order = torch.randperm(n, generator=torch.Generator().manual_seed(_draw_seed()))
        for lo in range(0, n, self.batch_size):
            hi = lo + self.batch_size
            if order is None:
                X, y = images[lo:hi], labels[lo:hi]
            else:
                # Gathered right before use: the batch stays in cache (see DESIGN.md).
                index = order[lo:hi]
                X, y = images.index_select(0, index), labels.index_select(0, index)
            yield to_float(X, size), y


def _draw_seed() -> int:
    return int(torch.empty((), dtype=torch.int64).random_().item())


def load_splits(resize=None) -> tuple[ImageSplit, ImageSplit]:
    """(train, test) splits of Fashion-MNIST, found or fetched like `softmaxreg data`."""
    return ImageSplit(True, resize), ImageSplit(False, resize)
