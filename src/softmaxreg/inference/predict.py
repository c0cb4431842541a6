"""Predict classes for people's own files: images of any common format, or IDX files, streamed
in batches so that a folder of tens of thousands of images runs in bounded memory."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from ..data.idx import read_idx
from ..data.pictures import find_images, load_image
from .classifier import Classifier


def is_idx(path: Path) -> bool:
    return "idx3-ubyte" in path.name


def predict_paths(
    clf: Classifier,
    paths: Sequence[str | Path],
    *,
    top_k: int = 3,
    invert: str = "auto",
    batch_size: int = 512,
    progress: bool = False,
) -> Iterator[dict]:
    """One record per image: {"path", "top": [{"class", "index", "probability"}, ...]}."""
    files = find_images(paths)
    bar = None
    if progress and len(files) > batch_size:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(files), unit="img", desc="predict")
    names: list[str] = []
    pixels: list[np.ndarray] = []
    for f in files:
        if is_idx(f):
            images = read_idx(f, ndim=3).array
            for lo in range(0, len(images), batch_size):
                chunk = images[lo : lo + batch_size]
                yield from _records(clf, [f"{f}#{lo + i}" for i in range(len(chunk))], chunk, top_k)
            continue
        names.append(str(f))
        pixels.append(load_image(f, clf.image_shape, invert))
        if len(names) == batch_size:
            yield from _records(clf, names, np.stack(pixels), top_k)
            if bar is not None:
                bar.update(len(names))
            names, pixels = [], []
    if names:
        yield from _records(clf, names, np.stack(pixels), top_k)
        if bar is not None:
            bar.update(len(names))
    if bar is not None:
        bar.close()


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
