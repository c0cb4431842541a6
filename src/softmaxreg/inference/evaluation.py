"""Evaluate a trained model on a split: accuracy, per-class scores, confusion, worst mistakes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data import Dataset, load_dataset
from ..errors import ConfigError
from .classifier import Classifier
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
) -> Evaluation:
    proba = clf.predict_proba(images)
    pred = proba.argmax(axis=1)
    labels = np.asarray(labels, dtype=np.int64)
    k = len(clf.classes)
    confusion = confusion_matrix(labels, pred, k)
    wrong = np.flatnonzero(pred != labels)
    order = wrong[np.argsort(-proba[wrong, pred[wrong]], kind="stable")][:top_mistakes]
    mistakes = [
        {
            "index": int(i),
            "true": clf.classes[labels[i]],
            "predicted": clf.classes[pred[i]],
            "probability": float(proba[i, pred[i]]),
        }
        for i in order
    ]
    return Evaluation(
        split,
        clf.classes,
        float((pred == labels).mean()),
        confusion,
        per_class_scores(confusion),
        mistakes,
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
