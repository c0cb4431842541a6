"""A CSV file of `label,pixel1,...,pixelN` rows, as Kaggle publishes MNIST and Fashion-MNIST."""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import itertools
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ...errors import DataError
from .labels import error_at
from .source import Chunk, SizeRule, Source, flat_shape, pixel_problem


class CsvSource(Source):
    """`label,pixel1,...,pixelN` rows (header optional), parsed a block of lines at a time by
    numpy's C reader; the slow exact diagnosis runs only on a block that fails."""

    def __init__(self, path: Path, size: SizeRule, chunk_rows: int) -> None:
        self.path = path
        self.chunk_rows = chunk_rows
        self.progress_total = path.stat().st_size
        self.progress_unit = "B"
        with self._open() as (_, lines):
            first = self._read_lines(lines, 1, 1)
        if not first or first[0].isspace():
            raise DataError(path, "line 1 is empty", "expected a header or a first data row")
        cells = next(csv.reader(first))
        self.columns = len(cells)
        # A header names a `label` column or has pixel columns that are not numbers; a first
        # row of data may start with a class name.
        names = [c.strip().lower() for c in cells]
        self.has_header = "label" in names or not all(_is_int(c) for c in cells[1:])
        self.header = [c.strip() for c in cells] if self.has_header else []
        self.label_column = names.index("label") if "label" in names else 0
        guessed = self.has_header and "label" not in names
        hint = " (no 'label' column, so the first column was taken as the label)" if guessed else ""
        pixels = self.columns - 1
        self.image_shape = flat_shape(pixels, size, path, "pixel columns", hint)
        self._dtype = self._row_dtype(pixels)

    def _row_dtype(self, pixels: int) -> np.dtype:
        # Labels as Python objects (any text, no truncation), pixels as uint8: numpy's reader
        # refuses values outside 0-255 and non-integers itself.
        before, after = self.label_column, pixels - self.label_column
        parts: list[tuple] = [("before", np.uint8, (before,))] if before else []
        parts.append(("label", object))
        parts += [("after", np.uint8, (after,))] if after else []
        return np.dtype(parts)

    @contextlib.contextmanager
    def _open(self):
        """(raw binary file, text lines); the raw file's position measures progress."""
        with open(self.path, "rb") as raw:
            gzipped = self.path.name.lower().endswith(".gz")
            stream = gzip.GzipFile(fileobj=raw) if gzipped else raw
            text = io.TextIOWrapper(stream, encoding="utf-8-sig")
            try:
                yield raw, text
            except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
                raise DataError(self.path, f"corrupt gzip stream ({exc})") from None

    def _read_lines(self, lines, first_line: int, count: int) -> list[str]:
        try:
            return list(itertools.islice(lines, count))
        except UnicodeDecodeError:
            raise DataError(
                self.path, f"not UTF-8 text (at or after line {first_line})", "save it as UTF-8"
            ) from None

    def chunks(self) -> Iterator[Chunk]:
        with self._open() as (raw, lines):
            line_no = 1
            if self.has_header:
                self._read_lines(lines, 1, 1)
                line_no = 2
            while block := self._read_lines(lines, line_no, self.chunk_rows):
                chunk = self._parse(block, line_no, raw.tell())
                if chunk is not None:
                    yield chunk
                line_no += len(block)

    def _parse(self, block: list[str], first_line: int, progress: int) -> Chunk | None:
        used = [i for i, line in enumerate(block) if not _is_empty(line)]
        if not used:
            return None
        try:
            rows = np.loadtxt(
                block, delimiter=",", dtype=self._dtype, quotechar='"', comments=None, ndmin=1
            )
        except ValueError as exc:
            raise self._diagnose(block, first_line, exc) from None
        fields = [rows[name] for name in ("before", "after") if name in (self._dtype.names or ())]
        pixels = fields[0] if len(fields) == 1 else np.concatenate(fields, axis=1)
        images = pixels.reshape(len(rows), *self.image_shape)
        line_numbers = [first_line + i for i in used]
        where = lambda i: (self.path, f"line {line_numbers[i]}")  # noqa: E731
        return Chunk(images, rows["label"], where, progress)

    def _diagnose(self, block: list[str], first_line: int, exc: ValueError) -> DataError:
        """The first defect in a block numpy refused, named by line and column."""
        for offset, line in enumerate(block):
            if _is_empty(line):
                continue
            where = (self.path, f"line {first_line + offset}")
            cells = next(csv.reader([line]))
            if len(cells) != self.columns:
                like = "the header" if self.has_header else "line 1"
                return error_at(
                    where,
                    f"has {len(cells)} values, expected {self.columns} like {like}",
                    "every row needs a label and one value per pixel",
                )
            for column, cell in enumerate(cells):
                if column != self.label_column and not _is_byte(cell):
                    return error_at(where, f"{self._column_name(column)}: {pixel_problem(cell)}")
        last = first_line + len(block) - 1
        return DataError(self.path, f"lines {first_line}-{last} cannot be read ({exc})")

    def _column_name(self, column: int) -> str:
        name = f" ({self.header[column]})" if self.header else ""
        return f"column {column + 1}{name}"


def _is_empty(line: str) -> bool:
    # numpy's reader skips empty lines (but not ones holding spaces): so do the line numbers.
    return not line.rstrip("\r\n")


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


def _is_byte(text: str) -> bool:
    return _is_int(text) and 0 <= int(text) <= 255
