"""Evaluate a trained model on a split: accuracy, per-class scores, confusion, worst mistakes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .classifier import Classifier
from .data import load_dataset
from .metrics import confusion_matrix, per_class_scores


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
        lines = [f"{self.split} accuracy {self.accuracy:.4f} on {int(self.confusion.sum())} images",
                 "", f"{'class':{width}}  precision  recall     f1  support"]  # fmt: skip
        for i, c in enumerate(self.classes):
            s = {k: v[i] for k, v in self.scores.items()}
            lines.append(f"{c:{width}}  {s['precision']:9.4f}  {s['recall']:6.4f}  "
                         f"{s['f1']:5.4f}  {int(s['support']):7d}")  # fmt: skip
        lines += ["", "confusion (rows: true, columns: predicted)"]
        short = [c[:6] for c in self.classes]
        lines.append(" " * (width + 1) + " ".join(f"{s:>6}" for s in short))
        for i, c in enumerate(self.classes):
            lines.append(f"{c:{width}} " + " ".join(f"{n:6d}" for n in self.confusion[i]))
        lines += ["", "most confident mistakes"]
        for m in self.mistakes[:10]:
            lines.append(f"  #{m['index']:<6} true {m['true']:<12} predicted {m['predicted']:<12} "
                         f"p={m['probability']:.3f}")  # fmt: skip
        return "\n".join(lines)


def evaluate(
    clf: Classifier,
    images: np.ndarray,
    labels: np.ndarray,
    split: str = "test",
    top_mistakes: int = 25,
) -> Evaluation:
    proba = clf.predict_proba(images)
    pred = proba.argmax(axis=1)
    labels = np.asarray(labels, dtype=np.int64)
    k = len(clf.classes)
    confusion = confusion_matrix(labels, pred, k)
    wrong = np.flatnonzero(pred != labels)
    order = wrong[np.argsort(-proba[wrong, pred[wrong]], kind="stable")][:top_mistakes]
    mistakes = [{"index": int(i), "true": clf.classes[labels[i]],
                 "predicted": clf.classes[pred[i]], "probability": float(proba[i, pred[i]])}
                for i in order]  # fmt: skip
    return Evaluation(split, clf.classes, float((pred == labels).mean()), confusion,
                      per_class_scores(confusion), mistakes)  # fmt: skip


def evaluate_run(run_or_model: str | Path, split: str = "test", data_dir=None, dataset=None):
    """Load the model and its data set (as recorded in the model file) and evaluate it."""
    clf = Classifier.load(run_or_model)
    name = dataset or clf.meta.get("dataset") or "fashion-mnist"
    if data_dir is None:
        data_dir = (clf.meta.get("config") or {}).get("data_dir")
    data = load_dataset(name, data_dir)
    images, labels = data.split(split)
    return clf, data, evaluate(clf, images, labels, split)
