"""A trained model with the scikit-learn verbs: predict, predict_proba, decision_function,
score; numpy only, so loading and predicting cost no torch import."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..records.modelfile import LinearWeights
from ..records.rundir import RunDir, load_weights


class Classifier:
    def __init__(self, weights: LinearWeights, run: RunDir | None = None) -> None:
        self.weight = np.ascontiguousarray(weights.weight, dtype=np.float32)
        self.bias = np.ascontiguousarray(weights.bias, dtype=np.float32)
        self.classes = tuple(weights.classes)
        self.image_shape = tuple(weights.image_shape)
        self.meta: dict[str, Any] = weights.meta
        self.path = weights.path
        self.run = run  # the run folder it came from, if any

    @classmethod
    def load(cls, run_or_model: str | Path) -> Classifier:
        """From a run folder (finished, or its last checkpoint) or a model file."""
        weights, run = load_weights(run_or_model)
        return cls(weights, run)

    @property
    def num_inputs(self) -> int:
        return math.prod(self.image_shape)

    def _inputs(self, X) -> np.ndarray:
        """(n, h, w), (n, 1, h, w), (n, h*w) or one (h, w) image, as float32 (n, h*w) in
        [0, 1]: uint8 pixels are divided by 255, floats must already lie in [0, 1]."""
        a = np.asarray(X)
        pixels = self.num_inputs
        if a.shape == self.image_shape:
            a = a[None]
        if a.ndim < 2 or a[0].size != pixels:
            raise ConfigError(
                f"X: expected images of shape {self.image_shape} (or {pixels} values each), "
                f"got an array of shape {a.shape}"
            )
        a = a.reshape(len(a), pixels)
        if a.dtype == np.uint8:
            return a.astype(np.float32) / np.float32(255)
        if a.dtype.kind not in "fiu":
            raise ConfigError(f"X: expected numbers, got an array of {a.dtype}")
        if a.size and (a.min() < 0 or a.max() > 1):
            raise ConfigError(
                f"X: float pixels must lie in [0, 1] (found {float(a.min()):g} to "
                f"{float(a.max()):g}); divide 0-255 pixels by 255 or pass them as uint8"
            )
        return a.astype(np.float32, copy=False)

    def decision_function(self, X) -> np.ndarray:
        """The logits X W^T + b, (n, classes) float32."""
        return self._inputs(X) @ self.weight.T + self.bias

    def predict_proba(self, X) -> np.ndarray:
        return softmax(self.decision_function(X))

    def predict(self, X) -> np.ndarray:
        return self.decision_function(X).argmax(axis=1)

    def predict_labels(self, X) -> list[str]:
        return [self.classes[i] for i in self.predict(X)]

    def score(self, X, y) -> float:
        """Mean accuracy on (X, y), as in scikit-learn."""
        predicted, y = self.predict(X), np.asarray(y)
        if y.shape != predicted.shape:
            raise ConfigError(f"y: {len(y)} labels for {len(predicted)} images")
        return float((predicted == y).mean())


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax with each row's maximum subtracted first (section 7.2): every
    exponent is <= 0, so nothing overflows."""
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)
