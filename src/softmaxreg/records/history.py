"""A run's per-epoch metrics: the record the trainer makes after each epoch, and the two files
that keep them (metrics.csv for people and spreadsheets, metrics.json for programs).

A run with a validation split (``val_fraction``) also records the validation loss and accuracy
of each epoch; its files gain ``val_loss,val_acc`` columns, and only then, so that runs without
one keep exactly the columns they always had.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..fileio import json_bytes

CSV_COLUMNS = ("epoch", "train_loss", "train_acc", "test_acc", "seconds")
VAL_COLUMNS = ("val_loss", "val_acc")


@dataclass
class EpochRecord:
    epoch: int  # 1-based, as printed and plotted
    train_loss: float  # the mean over the epoch's minibatches, each before its update
    train_acc: float
    test_acc: float
    seconds: float  # this epoch's training and evaluation time
    val_loss: float | None = None  # on the held-out validation split, after the epoch
    val_acc: float | None = None

    def as_dict(self) -> dict[str, Any]:
        record = asdict(self)
        if self.val_loss is None:  # a run without a validation split: today's fields only
            del record["val_loss"], record["val_acc"]
        return record


def has_validation(history: Sequence[EpochRecord]) -> bool:
    return any(r.val_loss is not None for r in history)


def best_val_epoch(history: Sequence[EpochRecord | dict[str, Any]]) -> int | None:
    """The epoch with the lowest validation loss (the first of equals), as early stopping
    keeps it; None without a validation split. Takes records or their dicts."""
    best: tuple[float, int] | None = None
    for r in history:
        loss, epoch = (
            (r.get("val_loss"), r["epoch"]) if isinstance(r, dict) else (r.val_loss, r.epoch)
        )
        if loss is not None and (best is None or loss < best[0]):
            best = (loss, epoch)
    return None if best is None else best[1]


def metrics_csv(history: Sequence[EpochRecord]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    validation = has_validation(history)
    w.writerow(CSV_COLUMNS + (VAL_COLUMNS if validation else ()))
    for r in history:
        # repr keeps every digit, so a resumed run can be compared with an uninterrupted one.
        row = [r.epoch, repr(r.train_loss), repr(r.train_acc), repr(r.test_acc), f"{r.seconds:.4f}"]
        if validation:
            row += [repr(r.val_loss), repr(r.val_acc)]
        w.writerow(row)
    return buf.getvalue().encode()


def metrics_json(history: Sequence[EpochRecord]) -> bytes:
    final = history[-1].as_dict() if history else None
    content: dict[str, Any] = {"epochs": [r.as_dict() for r in history], "final": final}
    best = best_val_epoch(history)
    if best is not None:
        content["best_val_epoch"] = best
    return json_bytes(content)


def read_metrics_csv(path: Path) -> list[EpochRecord]:
    with open(path, newline="") as f:
        return [
            EpochRecord(
                int(r["epoch"]),
                float(r["train_loss"]),
                float(r["train_acc"]),
                float(r["test_acc"]),
                float(r["seconds"]),
                *(_optional_float(r.get(k)) for k in VAL_COLUMNS),
            )
            for r in csv.DictReader(f)
        ]


def _optional_float(text: str | None) -> float | None:
    return None if text in (None, "", "None") else float(text)
