"""What every source shares: the chunks it yields, the image size it must have, and the
checks of pixel values and shapes."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...errors import DataError
from .labels import Where

DEFAULT_CHUNK_ROWS = 512  # examples per block: ~3 MB of CSV text, as fast as larger blocks
DEFAULT_IMAGE_SHAPE = (28, 28)


@dataclass(frozen=True)
class SizeRule:
    """The image size every source must have (None: the source decides), and who says so."""

    shape: tuple[int, int] | None
    origin: str  # "--size 28 28 says the images", "the training images"
    hint: str = "both splits need images of the same size"

    def mismatch(self, found: tuple[int, int]) -> str:
        h, w = self.shape  # type: ignore[misc]
        return f"images are {found[0]}x{found[1]} but {self.origin} are {h}x{w}"


@dataclass(frozen=True)
class Chunk:
    """A block of consecutive examples from a source."""

    images: np.ndarray  # (k, height, width) uint8
    labels: np.ndarray  # (k,) raw labels: names, or ids as numbers or text
    where: Callable[[int], Where]  # the i-th example's place, for messages
    progress: int  # how far the source has been read, in its progress unit
    labels_are_names: bool = False


class Source:
    """Something `import_dataset` reads one split from, in order, a chunk at a time."""

    path: Path
    image_shape: tuple[int, int]
    progress_total: int | None = None
    progress_unit: str = "img"
    skipped: int = 0  # files that were not pictures (class folders only)

    def declared_labels(self) -> Iterator[tuple[str, Where]]:
        """Labels known before reading (class folders), to check and number them early."""
        return iter(())

    def chunks(self) -> Iterator[Chunk]:
        raise NotImplementedError

    def reads_same_data_as(self, other: Source) -> bool:
        return _same_file(self.path, other.path)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)
    except OSError:
        return False


def pixel_problem(value) -> str:
    """Why a pixel value that is not a byte cannot be used."""
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if math.isfinite(number) and number.is_integer():
        return f"pixel value {int(number)} is outside 0-255"
    shown = repr(value) if isinstance(value, str) else str(value)
    return f"pixel value {shown} is not an integer 0-255"


def square_shape(pixels: int, path: Path, hint: str = "") -> tuple[int, int]:
    side = math.isqrt(pixels)
    if pixels == 0 or side * side != pixels:
        raise DataError(
            path, f"{pixels} pixel columns do not make a square image", f"pass --size H W{hint}"
        )
    return side, side


def flat_shape(pixels: int, size: SizeRule, path: Path, what: str, hint="") -> tuple[int, int]:
    """The image shape of `pixels` values per image: the rule's (if they fit) or a square."""
    if size.shape is None:
        return square_shape(pixels, path, hint)
    h, w = size.shape
    if h * w != pixels:
        raise DataError(
            path,
            f"{pixels} {what} per image, but {size.origin} are {h}x{w} = {h * w} pixels",
            size.hint,
        )
    return h, w
