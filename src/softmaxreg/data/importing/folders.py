"""A folder with one subfolder of pictures per class (torchvision's ImageFolder layout)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from ...errors import ConfigError, DataError, ImageError
from ..pictures import IMAGE_SUFFIXES, INVERT_CHOICES, load_image
from .labels import Where
from .source import DEFAULT_IMAGE_SHAPE, Chunk, SizeRule, Source


def _is_picture(name: str) -> bool:
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_SUFFIXES


def _walk_pictures(class_dir: Path) -> tuple[list[str], int]:
    """The pictures in a class folder, recursively, in torchvision ImageFolder's order (folders
    sorted by path, files by name), and how many other files were skipped. Hidden files and
    folders are ignored. Holds one class's listing, never the whole data set's."""
    found: list[tuple[str, list[str]]] = []
    skipped = 0
    for folder, dirnames, filenames in os.walk(class_dir):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        pictures = sorted(f for f in filenames if _is_picture(f))
        skipped += sum(1 for f in filenames if not f.startswith(".")) - len(pictures)
        found.append((folder, pictures))
    paths = [os.path.join(folder, f) for folder, names in sorted(found) for f in names]
    return paths, skipped


class FolderSource(Source):
    """One subfolder of pictures per class; class names are the sorted folder names."""

    def __init__(self, root: Path, size: SizeRule, invert: str, chunk_rows: int) -> None:
        if invert not in INVERT_CHOICES:
            raise ConfigError(f"--invert must be one of {', '.join(INVERT_CHOICES)}")
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
            pictures, skipped = _walk_pictures(root / name)
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
            pictures, _ = _walk_pictures(self.path / name)
            for start in range(0, len(pictures), self.chunk_rows):
                block = pictures[start : start + self.chunk_rows]
                images = np.stack([self._picture(Path(p)) for p in block])
                labels = np.full(len(block), name, dtype=object)
                done += len(block)
                yield Chunk(images, labels, _locator(block), done, True)

    def _picture(self, path: Path) -> np.ndarray:
        try:
            return load_image(path, self.image_shape, self.invert)
        except ImageError as exc:
            raise DataError(path, str(exc).removeprefix(f"{path}: ")) from None


def _locator(block: list[str]) -> Callable[[int], Where]:
    """Where the i-th picture of `block` is, for messages."""
    return lambda i: (Path(block[i]), "")
