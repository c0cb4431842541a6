"""Evaluate a trained model on a split: accuracy, per-class scores, confusion, worst mistakes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data import Dataset, load_dataset
from ..errors import ConfigError
from .classifier import Classifier
from .metrics import confusion_matrix, per_class_scores

# Images scored at a time: their float32 copy is 25 MB at 28x28, whatever the split's size.
CHUNK_ROWS = 8192


@dataclass
class Evaluation:
    split: str
    classes: tuple[str, ...]
    accuracy: float
    confusion: np.ndarray
    scores: dict[str, np.ndarray]
    mistakes: list[dict]  # the most confident wrong predictions, most confident first

    def as_dict(self) -> dict:
        return {
            "split": self.split,
            "accuracy": self.accuracy,
            "classes": list(self.classes),
            "per_class": [
                {"class": c, **{k: float(v[i]) for k, v in self.scores.items()}}
                for i, c in enumerate(self.classes)
            ],
            "confusion": self.confusion.tolist(),
            "mistakes": self.mistakes,
        }

    def table(self) -> str:
        width = max(len(c) for c in self.classes)
        lines = [
            f"{self.split} accuracy {self.accuracy:.4f} on {int(self.confusion.sum())} images",
            "",
            f"{'class':{width}}  precision  recall     f1  support",
        ]
        for i, c in enumerate(self.classes):
            s = {k: v[i] for k, v in self.scores.items()}
            lines.append(
                f"{c:{width}}  {s['precision']:9.4f}  {s['recall']:6.4f}  "
                f"{s['f1']:5.4f}  {int(s['support']):7d}"
            )
        lines += ["", "confusion (rows: true, columns: predicted)"]
        short = [c[:6] for c in self.classes]
        lines.append(" " * (width + 1) + " ".join(f"{s:>6}" for s in short))
        for i, c in enumerate(self.classes):
            lines.append(f"{c:{width}} " + " ".join(f"{n:6d}" for n in self.confusion[i]))
        lines += ["", "most confident mistakes"]
        for m in self.mistakes[:10]:
            lines.append(
                f"  #{m['index']:<6} true {m['true']:<12} predicted {m['predicted']:<12} "
                f"p={m['probability']:.3f}"
            )
        return "\n".join(lines)


def evaluate(
    clf: Classifier,
    images: np.ndarray,
    labels: np.ndarray,
    split: str = "test",
    top_mistakes: int = 25,
    chunk_rows: int = CHUNK_ROWS,
) -> Evaluation:
    """Score `clf` on (images, labels), `chunk_rows` images at a time: the model's float32 input
    is 4x the bytes of uint8 pixels, so a memory-mapped split larger than memory is read
    through in chunks, never copied whole. The results do not depend on the chunk size."""
    labels = np.asarray(labels, dtype=np.int64)
    k = len(clf.classes)
    confusion = np.zeros((k, k), dtype=np.int64)
    worst = _Mistakes(top_mistakes)
    for lo in range(0, len(images), chunk_rows):
        proba = clf.predict_proba(images[lo : lo + chunk_rows])
        pred = proba.argmax(axis=1)
        true = labels[lo : lo + len(pred)]
        confusion += confusion_matrix(true, pred, k)
        wrong = np.flatnonzero(pred != true)
        worst.add(lo + wrong, pred[wrong], proba[wrong, pred[wrong]])
    mistakes = [
        {
            "index": int(i),
            "true": clf.classes[labels[i]],
            "predicted": clf.classes[int(predicted)],
            "probability": float(p),
        }
        for i, predicted, p in zip(worst.index, worst.predicted, worst.probability, strict=True)
    ]
    total = int(confusion.sum())
    return Evaluation(
        split,
        clf.classes,
        float(np.trace(confusion) / total) if total else float("nan"),
        confusion,
        per_class_scores(confusion),
        mistakes,
    )


class _Mistakes:
    """The `keep` most confident wrong predictions seen so far, most confident first; equal
    confidences in the order of the examples."""

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self.index = np.zeros(0, dtype=np.int64)
        self.predicted = np.zeros(0, dtype=np.int64)
        self.probability = np.zeros(0, dtype=np.float32)

    def add(self, index: np.ndarray, predicted: np.ndarray, probability: np.ndarray) -> None:
        """Wrong predictions of examples that come after every one added before."""
        index = np.concatenate([self.index, index])
        predicted = np.concatenate([self.predicted, predicted])
        probability = np.concatenate([self.probability, probability])
        order = np.argsort(-probability, kind="stable")[: self.keep]
        self.index, self.predicted, self.probability = (
            index[order],
            predicted[order],
            probability[order],
        )


def evaluate_run(
    run_or_model: str | Path,
    split: str = "test",
    data_dir: str | None = None,
    dataset: str | None = None,
) -> tuple[Classifier, Dataset, Evaluation]:
    """Load a model (a run folder, finished or not, or a model file) and the data set it was
    trained on, as its run recorded it (or as `dataset` and `data_dir` say), and evaluate it."""
    clf = Classifier.load(run_or_model)
    recorded = clf.run.config() if clf.run is not None else None
    settings = recorded.as_dict() if recorded else (clf.meta.get("config") or {})
    recorded_name = settings.get("dataset") or clf.meta.get("dataset") or "fashion-mnist"
    name = dataset or recorded_name
    if data_dir is None and name == recorded_name:  # the run's own data, where it found it
        data_dir = settings.get("data_dir")
    data = load_dataset(name, data_dir)
    if data.image_shape != clf.image_shape:
        shown = "x".join(map(str, clf.image_shape)), "x".join(map(str, data.image_shape))
        raise ConfigError(
            f"{run_or_model}: the model takes {shown[0]} images but {name} has {shown[1]} "
            "images; evaluate it on the data set it was trained on (--dataset, --data-dir)"
        )
    images, labels = data.split(split)
    return clf, data, evaluate(clf, images, labels, split)
