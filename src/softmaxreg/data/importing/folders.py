"""A folder with one subfolder of pictures per class (torchvision's ImageFolder layout)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from ...errors import DataError, ImageError
from ..pictures import IMAGE_SUFFIXES, check_invert, list_pictures, load_image
from .labels import Where
from .source import DEFAULT_IMAGE_SHAPE, Chunk, SizeRule, Source


class FolderSource(Source):
    """One subfolder of pictures per class; class names are the sorted folder names."""

    def __init__(self, root: Path, size: SizeRule, invert: str, chunk_rows: int) -> None:
        check_invert(invert)
        self.path = root
        self.image_shape = size.shape or DEFAULT_IMAGE_SHAPE
        self.invert = invert
        self.chunk_rows = chunk_rows
        with os.scandir(root) as entries:
            listing = sorted(entries, key=lambda e: e.name)
        self.classes = [e.name for e in listing if e.is_dir() and not e.name.startswith(".")]
        if not self.classes:
            raise DataError(
                root,
                "holds no class folders",
                "expected one folder of pictures per class (torchvision's ImageFolder layout)",
            )
        self.skipped = sum(1 for e in listing if e.is_file() and not e.name.startswith("."))
        # A first pass that only counts: an empty class folder fails before any decoding, and
        # the progress bar gets its total.
        self.progress_total = 0
        for name in self.classes:
            pictures, skipped = list_pictures(root / name)
            if not pictures:
                raise DataError(
                    root / name,
                    "class folder holds no pictures",
                    f"add pictures ({', '.join(sorted(IMAGE_SUFFIXES))}) or remove the folder",
                )
            self.progress_total += len(pictures)
            self.skipped += skipped

    def declared_labels(self) -> Iterator[tuple[str, Where]]:
        for name in self.classes:
            yield name, (self.path / name, "")

    def chunks(self) -> Iterator[Chunk]:
        done = 0
        for name in self.classes:
            pictures, _ = list_pictures(self.path / name)
            for start in range(0, len(pictures), self.chunk_rows):
                block = pictures[start : start + self.chunk_rows]
                images = np.stack([self._picture(p) for p in block])
                labels = np.full(len(block), name, dtype=object)
                done += len(block)
                yield Chunk(images, labels, _locator(block), done, True)

    def _picture(self, path: Path) -> np.ndarray:
        try:
            return load_image(path, self.image_shape, self.invert)
        except ImageError as exc:
            raise DataError(path, str(exc).removeprefix(f"{path}: ")) from None


def _locator(block: list[Path]) -> Callable[[int], Where]:
    """Where the i-th picture of `block` is, for messages."""
    return lambda i: (block[i], "")
