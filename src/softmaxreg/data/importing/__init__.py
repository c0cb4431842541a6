"""Import the formats people hold their images in as an IDX data set `--dataset idx` trains on.

A source is one of:
- a folder with one subfolder of pictures per class (torchvision's ImageFolder layout): class
  names are the sorted folder names; each class folder is searched recursively, pictures are
  taken in ImageFolder's order and prepared exactly as `predict` prepares them
  (`data.pictures.load_image`); files that are not pictures are skipped and counted, hidden
  files and folders ignored;
- a CSV file (or .csv.gz) with a `label` column (else the label is the first column) and one
  column per pixel, as Kaggle publishes MNIST and Fashion-MNIST; a header is optional;
- a NumPy .npz holding `x_train`/`y_train`/`x_test`/`y_test` (the Keras layout) or `x`/`y`.

Labels. With `--classes FILE` (one name per line) a label is a name from the file or an integer
index into it. Without it: if every label of both splits is a whole number, the labels are
class ids and the classes are named "0".."max" (what `--dataset idx` does without classes.txt);
otherwise each distinct label is a class name and the classes are the names in sorted order
(like ImageFolder's folders, or scikit-learn's LabelEncoder). A number with a fraction (3.5,
nan) is never a label.

Memory stays bounded whatever the size: sources are read in blocks of `chunk_rows` examples
(CSV lines, .npz rows read through the zip member's stream, pictures) and written straight to
the IDX files, whose headers hold a count of 0 until the end (`idx.IdxWriter`). Ids of class
names sorted only at the end are rewritten in place in the (one byte per example) label files.

Replacing a data set: every output file is written under a temporary name in the output
folder and made durable (fsync) first; only once both splits are complete and on disk are the
old files removed and the new ones renamed into place, back to back (`fileio.atomic_paths`).
So a bad source, a full disk or Ctrl-C while the files are written leaves the folder as it
was; only a crash or an interruption within those few renames could leave old and new files
side by side. This module never imports torch.
"""

from __future__ import annotations

import contextlib
import functools
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...errors import ConfigError, DataError
from ...fileio import atomic_paths
from ..classlist import CLASSES_FILE, MAX_CLASSES
from ..idx import IdxWriter
from ..sources import IDX, SPLITS
from .csvfile import CsvSource
from .folders import FolderSource
from .labels import LabelCoder, Where
from .npz import NpzSource
from .source import DEFAULT_CHUNK_ROWS, SizeRule, Source

LABELS_HEADER_BYTES = 8  # a one-dimensional IDX file: 4 bytes of magic, one uint32 dimension


def open_source(
    path: str | Path,
    split: str,
    size: SizeRule,
    invert: str = "auto",
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> Source:
    """The source at `path`, by its kind: a folder, a .csv[.gz] or a .npz file."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: no such file or folder; check {{name}}", split)
    if path.is_dir():
        return FolderSource(path, size, invert, chunk_rows)
    name = path.name.lower()
    if name.endswith(".npz"):
        return NpzSource(path, split, size, chunk_rows)
    if name.endswith((".csv", ".csv.gz")):
        return CsvSource(path, size, chunk_rows)
    raise ConfigError(
        f"{{name}} {path}: cannot tell its format from the name; expected a folder of class "
        "folders, a .csv (or .csv.gz) file or a .npz file",
        split,
    )


OUTPUTS: dict[tuple[str, str], str] = {key: f.raw_name for key, f in IDX.files.items()}


@dataclass(frozen=True)
class ImportSummary:
    """What `import_dataset` wrote."""

    out: Path
    classes: tuple[str, ...]
    image_shape: tuple[int, int]
    counts: dict[str, np.ndarray] = field(repr=False)  # split -> examples per class
    skipped: int = 0  # files in class folders that were not pictures

    def lines(self) -> list[str]:
        h, w = self.image_shape
        n_train, n_test = (int(self.counts[s].sum()) for s in SPLITS)
        lines = [
            f"wrote {self.out}: {n_train} training and {n_test} test images of {h}x{w}, "
            f"{len(self.classes)} classes",
            f"  classes: {', '.join(self.classes)}",
        ]
        if self.skipped:
            lines.append(f"  skipped {self.skipped} files in the class folders: not pictures")
        lines.append(f"train with: softmaxreg train --dataset idx --data-dir {self.out}")
        return lines


def import_dataset(
    train: str | Path,
    test: str | Path,
    out: str | Path,
    *,
    classes_file: str | Path | None = None,
    size: tuple[int, int] | None = None,
    invert: str = "auto",
    overwrite: bool = False,
    progress: bool = False,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> ImportSummary:
    """Write `out` as an IDX data set (four uncompressed files and classes.txt) from the
    `train` and `test` sources; see the module's docstring for formats and label rules.

    Raises `DataError` naming the file and the row or picture for a bad source, `ConfigError`
    for bad arguments; `out` is then left as it was."""
    rule = _size_rule(size)
    coder = LabelCoder.from_listing(classes_file) if classes_file else LabelCoder()
    train_source = open_source(train, "train", rule, invert, chunk_rows)
    test_rule = rule if size else SizeRule(train_source.image_shape, "the training images")
    test_source = open_source(test, "test", test_rule, invert, chunk_rows)
    if test_source.reads_same_data_as(train_source):
        raise ConfigError(
            f"{{name}} and {{test}} both read the same data from {test}; the test set must be "
            "other examples",
            "train",
            others=("test",),
        )
    for source in (train_source, test_source):
        for label, where in source.declared_labels():
            coder.encode_one(label, functools.partial(_same, where), as_name=True)
    out = Path(out)
    created = _prepare_out(out, overwrite)
    try:
        summary = _write_dataset(out, {"train": train_source, "test": test_source}, coder, progress)
    except BaseException:
        for folder in created:  # deepest first; the temporary files are gone by now
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
    _warn_about_untrained_classes(summary)
    return summary


def _size_rule(size: tuple[int, int] | None) -> SizeRule:
    if size is None:
        return SizeRule(None, "")
    if len(size) != 2 or not all(isinstance(d, int) and d > 0 for d in size):
        raise ConfigError(f"{{name}} must be two positive integers H W, got {size}", "size")
    return SizeRule((size[0], size[1]), f"--size {size[0]} {size[1]} says the images", "fix --size")


def _prepare_out(out: Path, overwrite: bool) -> list[Path]:
    """Check `out` may be written; create it. Returns the folders created, deepest first."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{{name}} {out}: is a file, expected a folder", "out")
    names = [*OUTPUTS.values(), *(f.name for f in IDX.files.values()), CLASSES_FILE]
    present = [name for name in names if (out / name).exists()]
    if present and not overwrite:
        raise ConfigError(
            f"{{name}} {out} already holds a data set ({present[0]}); pass {{overwrite}} to "
            "replace it, or choose another folder",
            "out",
            others=("overwrite",),
        )
    created = [folder for folder in (out, *out.parents) if not folder.exists()]
    out.mkdir(parents=True, exist_ok=True)
    return created


def _write_dataset(
    out: Path, sources: dict[str, Source], coder: LabelCoder, progress: bool
) -> ImportSummary:
    names = [*OUTPUTS.values(), CLASSES_FILE]
    # `--dataset idx` prefers a .gz file to the uncompressed one: stale ones go in the same
    # step as the new files arrive, or old data could be paired with the new.
    stale = [out / f.name for f in IDX.files.values()]
    with atomic_paths([out / name for name in names], remove=stale) as tmps:
        *idx_tmps, classes_tmp = tmps
        tmp = dict(zip(OUTPUTS, idx_tmps, strict=True))
        seen = {}
        for split, source in sources.items():
            seen[split] = _copy_split(
                source, split, tmp[(split, "images")], tmp[(split, "labels")], coder, progress
            )
        classes, table = coder.finish()
        if not np.array_equal(table, np.arange(MAX_CLASSES)):
            for split in sources:
                _relabel(tmp[(split, "labels")], table)
        classes_tmp.write_text("".join(f"{name}\n" for name in classes), encoding="utf-8")
    counts = {split: _final_counts(seen[split], table, len(classes)) for split in sources}
    skipped = sum(source.skipped for source in sources.values())
    return ImportSummary(out, classes, sources["train"].image_shape, counts, skipped)


def _copy_split(
    source: Source,
    split: str,
    images_path: Path,
    labels_path: Path,
    coder: LabelCoder,
    progress: bool,
) -> np.ndarray:
    """Stream one source into its two IDX files; returns examples per provisional label."""
    seen = np.zeros(MAX_CLASSES, dtype=np.int64)
    with (
        IdxWriter(images_path, source.image_shape) as images,
        IdxWriter(labels_path, ()) as labels,
        _progress_bar(source, split, progress) as bar,
    ):
        for chunk in source.chunks():
            ids = coder.encode(chunk.labels, chunk.where, chunk.labels_are_names)
            images.append(chunk.images)
            labels.append(ids)
            seen += np.bincount(ids, minlength=MAX_CLASSES)
            bar.update(chunk.progress - bar.n)
    if images.count == 0:
        raise DataError(source.path, "holds no examples")
    return seen


def _progress_bar(source: Source, split: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(
        total=source.progress_total,
        unit=source.progress_unit,
        unit_scale=True,
        desc=f"import {split}",
        leave=False,
        file=sys.stderr,
        disable=not enabled,
        mininterval=0.2,
    )


def _relabel(labels_path: Path, table: np.ndarray, block: int = 1 << 20) -> None:
    """Map every label through `table`, in place, a block at a time."""
    with open(labels_path, "r+b") as f:
        position = LABELS_HEADER_BYTES
        while True:
            f.seek(position)
            ids = np.frombuffer(f.read(block), dtype=np.uint8)
            if not len(ids):
                return
            f.seek(position)
            f.write(table[ids].tobytes())
            position += len(ids)


def _final_counts(seen: np.ndarray, table: np.ndarray, num_classes: int) -> np.ndarray:
    counts = np.zeros(num_classes, dtype=np.int64)
    np.add.at(counts, table[np.flatnonzero(seen)], seen[np.flatnonzero(seen)])
    return counts


def _warn_about_untrained_classes(summary: ImportSummary) -> None:
    missing = [
        name for name, n in zip(summary.classes, summary.counts["train"], strict=True) if n == 0
    ]
    if missing:
        shown = ", ".join(missing[:10]) + (", ..." if len(missing) > 10 else "")
        warnings.warn(
            f"{len(missing)} of {len(summary.classes)} classes have no training examples "
            f"({shown}); the model can never predict them",
            stacklevel=2,
        )


def _same(where: Where) -> Where:
    return where
