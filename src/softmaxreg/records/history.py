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

from ..errors import DataError
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
    """The records of a metrics.csv; a damaged file (a cut-short or garbled line, a missing
    column) is a DataError naming the file and the line."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            columns = reader.fieldnames or []
            missing = [c for c in CSV_COLUMNS if c not in columns]
            if missing:
                raise _damaged(path, 1, f"the header has no {missing[0]!r} column")
            records = []
            for row in reader:
                problem = _row_problem(row, len(columns))
                if problem:
                    raise _damaged(path, reader.line_num, problem)
                records.append(_record(row))
            return records
    except (csv.Error, UnicodeDecodeError) as exc:
        raise _damaged(path, None, f"not a CSV file ({exc})") from None


def _record(row: dict[str, str]) -> EpochRecord:
    return EpochRecord(
        int(row["epoch"]),
        float(row["train_loss"]),
        float(row["train_acc"]),
        float(row["test_acc"]),
        float(row["seconds"]),
        *(_optional_float(row.get(k)) for k in VAL_COLUMNS),
    )


def _row_problem(row: dict, width: int) -> str:
    """What is wrong with one line of metrics.csv, or "" when it can be read."""
    values = [v for k, v in row.items() if k is not None and v is not None]
    extra = row.get(None) or []  # csv puts the values beyond the header's columns here
    if len(values) != width or extra:
        return f"has {len(values) + len(extra)} values, expected {width} like the header"
    for key in CSV_COLUMNS + VAL_COLUMNS:
        text = row.get(key)
        if text is None or (key in VAL_COLUMNS and text in ("", "None")):
            continue  # a run without a validation split has no val_* columns
        try:
            int(text) if key == "epoch" else float(text)
        except (TypeError, ValueError):
            return f"{key} {text!r} is not a number"
    return ""


def _damaged(path: Path, line: int | None, problem: str) -> DataError:
    where = f"line {line}: " if line else ""
    return DataError(
        path, f"{where}{problem}", "the run's metrics file is damaged; restore it or train again"
    )


def _optional_float(text: str | None) -> float | None:
    return None if text in (None, "", "None") else float(text)
