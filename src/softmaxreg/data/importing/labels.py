"""Raw labels (class names, or ids as numbers or text) to one-byte class ids, in the order of
a class listing where the user gives one (--classes FILE, read by data.classlist)."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ...errors import DataError
from ..classlist import MAX_CLASSES, read_class_listing

# (path, place in it) of one example: ("train.csv", "line 17"), ("data.npz", "y_train[3]"),
# ("cat/1.png", "") -- error messages name both.
Where = tuple[Path, str]


def error_at(where: Where, defect: str, hint: str = "") -> DataError:
    path, place = where
    return DataError(path, f"{place}: {defect}" if place else defect, hint)


class _BadLabel(ValueError):
    """A label that cannot be used; the caller adds where it was found."""


def _whole_number(text: str) -> int | None:
    """The integer a label's text spells ("3", "3.0"), None for a name; a number with a
    fraction is refused rather than taken for a name."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return None
    if math.isfinite(number) and number.is_integer():
        return int(number)
    raise _BadLabel(f"label {text!r} is not an integer (nor a class name)")


def _label_key(value, as_name: bool) -> int | str:
    """A raw label as an int (a class id) or a str (a class name)."""
    if isinstance(value, (bool, int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        if not (math.isfinite(value) and float(value).is_integer()):
            raise _BadLabel(f"label {value} is not an integer")
        return int(value)
    text = str(value).strip()
    if not text:
        raise _BadLabel("empty label")
    if "\n" in text or "\r" in text:
        raise _BadLabel(f"label {text!r} contains a line break")
    if as_name:
        return text
    number = _whole_number(text)
    return text if number is None else number


class LabelCoder:
    """Raw labels (class names, or ids as numbers or text) to one-byte class ids.

    With a fixed list of classes, ids are final at once. Without one, each distinct label gets
    a provisional id in order of appearance; `finish()` decides (ids or sorted names, see the
    module's docstring) and returns the table from provisional to final ids.
    """

    def __init__(self, classes: Sequence[str] | None = None, listing: Path | None = None):
        self.fixed = tuple(classes) if classes is not None else None
        self.listing = listing
        self._index = {name: i for i, name in enumerate(self.fixed or ())}
        self._keys: dict[int | str, int] = {}
        self._first_seen: dict[int | str, Where] = {}

    @classmethod
    def from_listing(cls, path: str | Path) -> LabelCoder:
        return cls(read_class_listing(path), Path(path))

    def encode(
        self, raw: np.ndarray, where: Callable[[int], Where], as_names: bool = False
    ) -> np.ndarray:
        """Ids (uint8) of a block of raw labels; `where(i)` locates the i-th for messages."""
        values, first, inverse = np.unique(raw, return_index=True, return_inverse=True)
        ids = np.zeros(len(values), dtype=np.uint8)
        # In order of first appearance: the first bad label in the file is the one reported.
        for k in np.argsort(first, kind="stable"):
            ids[k] = self.encode_one(values[k], functools.partial(where, int(first[k])), as_names)
        return ids[inverse.reshape(-1)]

    def encode_one(self, value, where: Callable[[], Where], as_name: bool = False) -> int:
        try:
            if self.fixed is not None:
                return self._fixed_id(value, as_name)
            return self._provisional_id(_label_key(value, as_name), where)
        except _BadLabel as bad:
            raise error_at(where(), str(bad)) from None

    def _fixed_id(self, value, as_name: bool) -> int:
        # A label that is a listed name means that class, even if it looks like a number.
        if isinstance(value, str) and value.strip() in self._index:
            return self._index[value.strip()]
        key = _label_key(value, as_name)
        assert self.fixed is not None
        n = len(self.fixed)
        if isinstance(key, int) and 0 <= key < n:
            return key
        what = f"label {key}" if isinstance(key, int) else f"label {key!r}"
        raise _BadLabel(
            f"{what} is not one of the {n} classes listed in {self.listing} "
            f"(by name, or by index 0-{n - 1})"
        )

    def _provisional_id(self, key: int | str, where: Callable[[], Where]) -> int:
        found = self._keys.get(key)
        if found is not None:
            return found
        if len(self._keys) == MAX_CLASSES:
            raise _BadLabel(
                f"label {key!r} would be class number {MAX_CLASSES + 1}; IDX labels are one "
                f"byte, so a data set holds at most {MAX_CLASSES} classes"
            )
        self._keys[key] = len(self._keys)
        self._first_seen[key] = where()
        return self._keys[key]

    def finish(self) -> tuple[tuple[str, ...], np.ndarray]:
        """The classes, and the table that maps the ids handed out so far to final ids."""
        if self.fixed is not None:
            return self.fixed, np.arange(MAX_CLASSES, dtype=np.uint8)
        ids = [k for k in self._keys if isinstance(k, int)]
        if len(ids) == len(self._keys):
            for key, where in self._first_seen.items():
                if not 0 <= int(key) < MAX_CLASSES:
                    raise error_at(
                        where,
                        f"label {key} is not a class id 0-{MAX_CLASSES - 1} (IDX labels are "
                        "one byte)",
                        "pass --classes FILE to name the classes instead",
                    )
            final = {key: key for key in self._keys}
            classes = tuple(str(i) for i in range(max(ids) + 1))
        else:
            names = sorted({str(key) for key in self._keys})
            final = {key: names.index(str(key)) for key in self._keys}
            classes = tuple(names)
        table = np.arange(MAX_CLASSES, dtype=np.uint8)
        for key, provisional in self._keys.items():
            table[provisional] = final[key]
        return classes, table
