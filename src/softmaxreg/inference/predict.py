"""Predict classes for people's own files: images of any common format, or IDX files, streamed
in batches so that a folder of tens of thousands of images runs in bounded memory."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..config import positive_int
from ..data.idx import IdxInfo, inspect_idx, read_idx
from ..data.pictures import check_invert, find_images, prepare, read_picture
from .classifier import Classifier


class PictureSheet(Protocol):
    """Where predicted pictures are drawn beside their inputs (views.sheet.InputSheet)."""

    def thumbnail_for(self, picture: np.ndarray) -> Any: ...

    def add(self, shown: Any, model_input: np.ndarray, record: dict) -> None: ...


def is_idx(path: Path) -> bool:
    return "idx3-ubyte" in path.name


def check_prediction(top_k: int, batch_size: int = 1) -> None:
    """The arguments every way of predicting takes (the library, `predict`, the server's
    /predict), checked in this one place; a ConfigError names the parameter."""
    positive_int("top_k", top_k)
    positive_int("batch_size", batch_size)


def predict_paths(
    clf: Classifier,
    paths: Sequence[str | Path],
    *,
    top_k: int = 3,
    invert: str = "auto",
    crop: bool = True,
    batch_size: int = 512,
    progress: bool = False,
    sheet: PictureSheet | None = None,
) -> Iterator[dict]:
    """One record per image, in the order of `paths` (a folder's pictures in
    `data.pictures.list_pictures` order, an IDX file's images in its order):
    {"path", "top": [{"class", "index", "probability"}, ...]}. Pictures are prepared as
    Fashion-MNIST was made (`data.pictures.prepare`); with a `sheet`, each picture is also
    drawn beside the input the model saw. Arguments, paths and IDX headers are checked here,
    before the first record; uncompressed IDX files are memory-mapped, not read whole."""
    check_invert(invert)
    check_prediction(top_k, batch_size)
    files = find_images(paths)
    idx = {f: inspect_idx(f, ndim=3) for f in files if is_idx(f)}
    total = len(files) - len(idx) + sum(info.header.dims[0] for info in idx.values())
    bar = None
    if progress and total > batch_size:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, unit="img", desc="predict")
    return _predict_files(clf, files, idx, top_k, invert, crop, batch_size, sheet, bar)


def _predict_files(
    clf: Classifier,
    files: list[Path],
    idx: dict[Path, IdxInfo],
    top_k: int,
    invert: str,
    crop: bool,
    batch_size: int,
    sheet: PictureSheet | None,
    bar,
) -> Iterator[dict]:
    batch = _Batch()
    try:
        for f in files:
            if f in idx:
                # The pictures before this file come out first: records keep the given order.
                yield from batch.flush(clf, top_k, sheet, bar)
                yield from _idx_records(clf, idx[f], top_k, batch_size, bar)
                continue
            picture = read_picture(f)
            shown = sheet.thumbnail_for(picture) if sheet is not None else None
            batch.add(str(f), prepare(picture, clf.image_shape, invert, crop), shown)
            if len(batch.names) == batch_size:
                yield from batch.flush(clf, top_k, sheet, bar)
        yield from batch.flush(clf, top_k, sheet, bar)
    finally:
        if bar is not None:
            bar.close()


def _idx_records(
    clf: Classifier, info: IdxInfo, top_k: int, batch_size: int, bar
) -> Iterator[dict]:
    """An IDX file's images, a batch at a time: mapped when uncompressed (pages are read as
    batches use them), decoded when gzipped (a gzip stream cannot be mapped)."""
    images = read_idx(info.path, ndim=3).array if info.compressed else info.map()
    for lo in range(0, len(images), batch_size):
        chunk = images[lo : lo + batch_size]
        yield from _records(clf, [f"{info.path}#{lo + i}" for i in range(len(chunk))], chunk, top_k)
        if bar is not None:
            bar.update(len(chunk))


def predict_picture(
    clf: Classifier,
    picture: np.ndarray,
    name: str,
    *,
    top_k: int = 3,
    invert: str = "auto",
    crop: bool = True,
) -> tuple[dict, np.ndarray]:
    """One decoded picture (see `data.pictures.decode_picture`): its record, as `predict_paths`
    gives it, and the input the model saw. The same preparation and the same arithmetic as
    `predict_paths` on a batch of one, so the probabilities agree to the last bit."""
    check_prediction(top_k)
    model_input = prepare(picture, clf.image_shape, invert, crop)
    record = next(_records(clf, [name], np.stack([model_input]), top_k))
    return record, model_input


@dataclass
class _Batch:
    """Prepared pictures waiting to be predicted together, with their sheet thumbnails."""

    names: list[str] = field(default_factory=list)
    inputs: list[np.ndarray] = field(default_factory=list)
    thumbnails: list = field(default_factory=list)

    def add(self, name: str, model_input: np.ndarray, shown) -> None:
        self.names.append(name)
        self.inputs.append(model_input)
        self.thumbnails.append(shown)

    def flush(self, clf: Classifier, top_k: int, sheet: PictureSheet | None, bar) -> Iterator[dict]:
        """Predict the waiting pictures (if any), draw them on the sheet, and empty the batch."""
        if not self.names:
            return
        records = _records(clf, self.names, np.stack(self.inputs), top_k)
        for record, model_input, shown in zip(records, self.inputs, self.thumbnails, strict=True):
            if sheet is not None:
                sheet.add(shown, model_input, record)
            yield record
        if bar is not None:
            bar.update(len(self.names))
        self.names, self.inputs, self.thumbnails = [], [], []


def _records(clf: Classifier, names, images: np.ndarray, top_k: int) -> Iterator[dict]:
    proba = clf.predict_proba(images)
    k = min(top_k, proba.shape[1])
    best = np.argsort(-proba, axis=1, kind="stable")[:, :k]
    for name, row, idx in zip(names, proba, best, strict=True):
        yield {
            "path": name,
            "top": [
                {"class": clf.classes[j], "index": int(j), "probability": float(row[j])}
                for j in idx
            ],
        }


def format_record(record: dict) -> str:
    tops = ", ".join(f"{t['class']} {t['probability']:.3f}" for t in record["top"])
    return f"{record['path']}: {tops}"
