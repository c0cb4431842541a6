"""A run's per-epoch metrics: the record the trainer makes after each epoch, and the two files
that keep them (metrics.csv for people and spreadsheets, metrics.json for programs)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..fileio import json_bytes

CSV_COLUMNS = ("epoch", "train_loss", "train_acc", "test_acc", "seconds")


@dataclass
class EpochRecord:
    epoch: int  # 1-based, as printed and plotted
    train_loss: float  # the mean over the epoch's minibatches, each before its update
    train_acc: float
    test_acc: float
    seconds: float  # training and evaluation time since the run began

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def metrics_csv(history: Sequence[EpochRecord]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for r in history:
        # repr keeps every digit, so a resumed run can be compared with an uninterrupted one.
        w.writerow(
            [r.epoch, repr(r.train_loss), repr(r.train_acc), repr(r.test_acc), f"{r.seconds:.4f}"]
        )
    return buf.getvalue().encode()


def metrics_json(history: Sequence[EpochRecord]) -> bytes:
    final = history[-1].as_dict() if history else None
    return json_bytes({"epochs": [r.as_dict() for r in history], "final": final})


def read_metrics_csv(path: Path) -> list[EpochRecord]:
    with open(path, newline="") as f:
        return [
            EpochRecord(
                int(r["epoch"]),
                float(r["train_loss"]),
                float(r["train_acc"]),
                float(r["test_acc"]),
                float(r["seconds"]),
            )
            for r in csv.DictReader(f)
        ]
